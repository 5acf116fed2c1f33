/**
 * One published tag to 1, 100 and 1000 local RTMP players, through the
 * real path: LiveStream.commitMedia puts it in the ring, then each
 * Subscriber pumps (what the stream's once-per-turn flush does): cursor,
 * EgressCache (the RTMP chunks built once, at the default outChunkSize
 * 60000) and one batch to its transport. Transports are fakes that count
 * bytes, so no socket cost is in any figure.
 *
 * Baselines, same frames and the same commit:
 * - the same path with player.sharedBatch=false: each player reads the
 *   ring and the cache itself (before egress/turn-batch.ts).
 * - per-player egress: each player gets its own freshly built RTMP chunks
 *   of the tag (a server without shared egress bytes).
 * - node-media-server's BroadcastServer.broadcastMessage with as many
 *   fake RTMP subscribers (sendBuffer counts bytes): it builds an FLV and
 *   an RTMP form of each packet once, updates its GOP cache and calls
 *   sendBuffer per subscriber. It is given the AVPacket its parser makes
 *   (Flv.parserTag, included in its op).
 *
 * Tags/s is whole ops (commit + fan-out); ns per player is that time over
 * the player count, so at 1 player it is mostly the commit.
 */
import { newRecordView } from '../../src/core/tag-ring.js';
import type { LiveStream } from '../../src/media/live-stream.js';
import type { EgressForm, PlayerPolicy, PlayerTransport, SubscriberEvents } from '../../src/media/types.js';
import { unwrapSetDataFrame } from '../../src/protocol/commands.js';
import { TagType } from '../../src/protocol/types.js';
import { rtmpEgressForm } from '../../src/media/egress/rtmp-form.js';
import { fmt, race, report, same, type Bench, type Contender, type Row } from '../bench.js';
import { framesOf, MIX_SECONDS, mediaMix, publishingStream, startersOf, type MediaMessage } from '../fixtures.js';
import { NmsBroadcastServer, nmsPacket } from '../nms.js';

const OUT_CHUNK_SIZE = 60000;

class CountingTransport implements PlayerTransport {
  readonly writableLength = 0;
  bytes = 0;
  write(chunks: Buffer[]): void {
    for (const c of chunks) this.bytes += c.length;
  }
}

const quietEvents: SubscriberEvents = { onPublish() {}, onUnpublish() {}, onStreamEnd() {}, onEvict() {} };
const policy: PlayerPolicy = { writeHighWaterBytes: 1 << 20, queueMaxBytes: 8 << 20, queueMaxMs: 10_000, stallTimeoutMs: 20_000 };

/** Cycles through a mix's frames with ever-increasing timestamps, as a long publish would. */
class Publisher {
  private i = 0;
  private base = 0;
  constructor(private readonly frames: readonly MediaMessage[]) {}

  next(): { type: number; timestamp: number; body: Buffer } {
    const m = this.frames[this.i]!;
    const out = { type: m.type, timestamp: this.base + m.timestamp, body: m.body };
    if (++this.i === this.frames.length) {
      this.i = 0;
      this.base += MIX_SECONDS * 1000;
    }
    return out;
  }
}

/** A stream that has its metadata, sequence headers and a first keyframe, as players find it. */
function primedStream(mix: readonly MediaMessage[]): LiveStream {
  const stream = publishingStream();
  for (const m of startersOf(mix)) {
    if (m.type === TagType.Script) stream.commitMetadata(m.timestamp, Buffer.from(unwrapSetDataFrame(m.body)), {});
    else stream.commitMedia(m.type, m.timestamp, m.body);
  }
  return stream;
}

function sluiceFanOut(mix: readonly MediaMessage[], players: number, form: EgressForm, sharedBatch = true): { op: () => void; sent: () => number[]; close: () => void } {
  const stream = primedStream(mix);
  const pub = new Publisher(framesOf(mix));
  const transports = Array.from({ length: players }, () => new CountingTransport());
  for (const t of transports) stream.addSubscriber(form, t, quietEvents, { ...policy, sharedBatch });
  const op = () => {
    const m = pub.next();
    stream.commitMedia(m.type, m.timestamp, m.body);
    for (const s of stream.subscribers) s.pump();
  };
  return { op, sent: () => transports.map((t) => t.bytes), close: () => stream.close('bench done') };
}

function perPlayerEgress(mix: readonly MediaMessage[], players: number, form: EgressForm): { op: () => void; sent: () => number[]; close: () => void } {
  const stream = primedStream(mix);
  const pub = new Publisher(framesOf(mix));
  const transports = Array.from({ length: players }, () => new CountingTransport());
  const rec = newRecordView();
  const ring = stream.ring!;
  const op = () => {
    const m = pub.next();
    stream.commitMedia(m.type, m.timestamp, m.body);
    ring.read(ring.head() - 1, rec);
    for (const t of transports) t.write([form.build(ring, rec)]);
  };
  return { op, sent: () => transports.map((t) => t.bytes), close: () => stream.close('bench done') };
}

function nmsFanOut(mix: readonly MediaMessage[], players: number): { op: () => void; sent: () => number[]; close: () => void } {
  const server = new NmsBroadcastServer('/live/bench');
  const counts = new Array<number>(players).fill(0);
  for (let p = 0; p < players; p++) {
    server.subscribers.set(`player-${p}`, { protocol: 'rtmp', sendBuffer: (b) => { counts[p] += b.length; } });
  }
  for (const m of startersOf(mix)) server.broadcastMessage(nmsPacket(m.type, m.timestamp, m.body));
  const pub = new Publisher(framesOf(mix));
  const op = () => {
    const m = pub.next();
    server.broadcastMessage(nmsPacket(m.type, m.timestamp, m.body));
  };
  return { op, sent: () => counts.slice(), close: () => server.subscribers.clear() };
}

function run(): Row[] {
  const mix = mediaMix();
  const form = rtmpEgressForm(1, OUT_CHUNK_SIZE);
  const rows: Row[] = [];
  for (const players of [1, 100, 1000]) {
    const ours = sluiceFanOut(mix, players, form);
    const alone = sluiceFanOut(mix, players, form, false);
    const each = perPlayerEgress(mix, players, form);
    const nms = nmsFanOut(mix, players);
    // One tag to start everyone (our players get their sticky tags on their first pump), then one tag must reach all alike.
    const all = [ours, each, nms, alone];
    for (const c of all) c.op();
    const before = all.map((c) => c.sent());
    for (const c of all) c.op();
    const delta = all.map((c, k) => c.sent().map((b, p) => b - before[k]![p]!));
    same(`bytes each of ${players} players got for one tag (sluice vs per-player build)`, delta[0], delta[1]);
    same(`bytes each of ${players} players got for one tag (shared batch vs one by one)`, delta[0], delta[3]);
    if (delta[0]!.some((d) => d === 0) || delta[2]!.some((d) => d === 0)) throw new Error('bench setup: a player got nothing');

    const contenders: Contender[] = [
      { name: 'LiveStream + Subscriber + EgressCache', side: 'sluice', op: ours.op },
      { name: 'the same, player.sharedBatch=false', side: 'baseline', op: alone.op },
      { name: 'per-player egress build', side: 'baseline', op: each.op },
      { name: 'node-media-server broadcastMessage', side: 'baseline', op: nms.op },
    ];
    const label = `${players} player${players === 1 ? '' : 's'}`;
    const ops = race(contenders);
    rows.push(...report('fan-out', label, { label: 'tags/s', perOp: 1 }, contenders, ops));
    console.log(`    ns per player: ${contenders.map((c, i) => `${c.name} ${fmt(1e9 / ops[i]! / players)}`).join(', ')}`);
    ours.close();
    alone.close();
    each.close();
    nms.close();
  }
  return rows;
}

export const bench: Bench = {
  name: 'fan-out',
  title: 'one tag to 1/100/1000 RTMP players: shared egress vs per-player build and node-media-server (tags/s)',
  run,
};
