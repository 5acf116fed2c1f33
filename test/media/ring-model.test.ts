// Model-based test of the tag ring + subscriber: random publisher writes (sizes up to the ring's
// maxBody and past it, sticky tags, messages assembled in place and interleaved) and players that
// keep up, stall on a full socket, pause, get lapped or dropped by the slow-player policy. What each
// player's socket got, decoded as the player would (FLV demuxed after FlvRebaser, RTMP through a
// ChunkReader), is checked against plain arrays of what was written. The three cases it found in
// src/media/subscriber.ts (as fast-check shrank them) run first, as examples and as tests of their own.
//
// FUZZ_RUNS cases (default 200); a longer run:
// FUZZ_RUNS=5000 node --test dist/test/media/ring-model.test.js
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { seqBefore } from '../../src/core/tag-ring.js';
import { LiveStream } from '../../src/media/live-stream.js';
import { StreamSlab, STICKY_SLOT_BYTES } from '../../src/media/stream-slab.js';
import { FlvRebaser, flvForm } from '../../src/media/egress/flv-form.js';
import { rtmpEgressForm } from '../../src/media/egress/rtmp-form.js';
import { tsDiff } from '../../src/media/timestamp.js';
import { ChunkReader } from '../../src/protocol/chunk-reader.js';
import { FlvDemuxer, flvFileHeader } from '../../src/protocol/flv-tag.js';
import type { Subscriber } from '../../src/media/subscriber.js';
import type { EgressForm, PlayerPolicy, PlayerTransport, SubscriberEvents } from '../../src/media/types.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 200);
/** stream-slab.ts layout: 64-byte header, then three sticky slots, then the ring. */
const RING_BASE = 64 + 3 * (16 + STICKY_SLOT_BYTES);

type Kind = 'key' | 'inter' | 'vsh' | 'audio' | 'ash' | 'meta' | 'data';
const TYPE: Record<Kind, number> = { key: 9, inter: 9, vsh: 9, audio: 8, ash: 8, meta: 18, data: 18 };
// Body headers as inspectVideo/inspectAudio classify them: AVC NALU key/inter, AVC config, AAC raw, AAC config.
const PREFIX: Record<Kind, number[]> = { key: [0x17, 1, 0, 0, 0], inter: [0x27, 1, 0, 0, 0], vsh: [0x17, 0, 0, 0, 0], audio: [0xaf, 1], ash: [0xaf, 0], meta: [2], data: [2] };
const STICKY = ['meta', 'vsh', 'ash'] as const;
type StickyKind = (typeof STICKY)[number];
const isSticky = (k: Kind): k is StickyKind => (STICKY as readonly Kind[]).includes(k);
const isVideo = (k: Kind) => k === 'key' || k === 'inter';
const isMedia = (k: Kind) => isVideo(k) || k === 'audio';

/** Body: codec header, filler that differs per tag, the tag's id in the last 4 bytes. */
function makeBody(kind: Kind, id: number, len: number): Buffer {
  const b = Buffer.alloc(len);
  b.set(PREFIX[kind]);
  for (let i = PREFIX[kind].length; i < len - 4; i++) b[i] = (id * 31 + i) & 0xff;
  b.writeUInt32BE(id, len - 4);
  return b;
}

// ---- generated scenarios -------------------------------------------------------

type Size = number | { near: number };
interface Write { kind: Kind; size: Size; dt: number; inPlace: boolean; announce: boolean }
interface Join { form: 'flv' | 'rtmp128' | 'rtmp4096'; hw: number; qBytes: number; qMs: number }
type Op =
  | { op: 'write'; w: Write; inner: Write | null }
  | { op: 'burst'; n: number; gop: number; size: number; audio: boolean; pumpEvery: number }
  | { op: 'drain' | 'pump' | 'pause' | 'resume'; who: number; live: boolean }
  | { op: 'join'; j: Join };

const put = (kind: Kind, size: Size = 0, dt = 0, inPlace = false): Write => ({ kind, size, dt, inPlace, announce: false });
const kindArb = fc.constantFrom<Kind>('key', 'inter', 'inter', 'inter', 'vsh', 'audio', 'audio', 'ash', 'meta', 'data');
/** Small, medium, or within a few bytes of the ring's maxBody (either side). */
const sizeArb: fc.Arbitrary<Size> = fc.oneof(fc.nat(200), fc.nat(5000), fc.integer({ min: -64, max: 2 }).map((near) => ({ near })));
const writeArb: fc.Arbitrary<Write> = fc.record({ kind: kindArb, size: sizeArb, dt: fc.nat(80), inPlace: fc.boolean(), announce: fc.boolean() });
const joinArb: fc.Arbitrary<Join> = fc.record({
  form: fc.constantFrom('flv', 'rtmp128', 'rtmp4096'), hw: fc.constantFrom(400, 5000, 1 << 20), qBytes: fc.constantFrom(3000, 30_000, 1 << 30), qMs: fc.constantFrom(150, 2000, 1e9),
});
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constant('write' as const), w: writeArb, inner: fc.option(writeArb, { freq: 8 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('burst' as const), n: fc.integer({ min: 1, max: 300 }), gop: fc.integer({ min: 1, max: 300 }), size: fc.nat(600), audio: fc.boolean(), pumpEvery: fc.nat(60) }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constantFrom('drain' as const, 'pump' as const, 'pause' as const, 'resume' as const), who: fc.nat(3), live: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('join' as const), j: joinArb }) },
);
// Rings of 64..192 KB (128..256 index slots) lap within a few big tags or one burst; near 2^32 time wraps.
const scenarioArb = fc.record({
  ringKb: fc.integer({ min: 64, max: 192 }), clock0: fc.constantFrom(0, 0xffffffff - 3000),
  early: fc.option(joinArb), first: fc.array(joinArb, { minLength: 1, maxLength: 2 }), ops: fc.array(opArb, { maxLength: 120 }),
});
type Scenario = typeof scenarioArb extends fc.Arbitrary<infer T> ? T : never;

// ---- players -------------------------------------------------------------------

/** Buffers built by buildSticky: the re-sent copies of sticky tags (not ring records). */
const stickyCopies = new WeakSet<Buffer>();
const marking = (inner: EgressForm): EgressForm => ({
  id: `${inner.id}:model`,
  opensAtZero: inner.opensAtZero,
  build: (ring, rec) => inner.build(ring, rec),
  buildSticky: (type, ts, body) => {
    const b = inner.buildSticky(type, ts, body);
    stickyCopies.add(b);
    return b;
  },
});
const FORMS = { flv: marking(flvForm), rtmp128: marking(rtmpEgressForm(1, 128)), rtmp4096: marking(rtmpEgressForm(1, 4096)) };
const events: SubscriberEvents = { onPublish() {}, onUnpublish() {}, onStreamEnd() {}, onEvict: (_c, r) => assert.fail(`evicted: ${r}`) };

/** What one player decoded: `ts` as it sees it, `raw` as in the shared egress bytes. */
interface Got { id: number; type: number; ts: number; raw: number; body: Buffer; copy: boolean; dropped: number }

/** A socket that holds what it is given until drained, decoding it as the player would. */
class Player implements PlayerTransport {
  writableLength = 0;
  readonly got: Got[] = [];
  sub!: Subscriber;
  readonly policy: PlayerPolicy;
  readonly flv: boolean;
  /** Joined before the publisher, and the ring tail at its first pump (its start). */
  early = false;
  startTail: number | undefined;
  private readonly out: { type: number; ts: number; body: Buffer }[] = [];
  private readonly rebaser = new FlvRebaser();
  private readonly demux = new FlvDemuxer();
  private readonly chunks = new ChunkReader({
    begin: (h) => new Uint8Array(h.length),
    message: (h, p) => this.out.push({ type: h.type, ts: h.timestamp, body: Buffer.from(p) }),
    abandon: () => assert.fail('partial RTMP message'),
  });

  constructor(readonly j: Join, readonly name: number) {
    this.flv = j.form === 'flv';
    this.policy = { writeHighWaterBytes: j.hw, queueMaxBytes: j.qBytes, queueMaxMs: j.qMs, stallTimeoutMs: 1e9 };
    if (this.flv) this.demux.push(flvFileHeader({ audio: true, video: true }));
    else this.chunks.setChunkSize(j.form === 'rtmp128' ? 128 : 4096);
  }

  write(bufs: Buffer[]): void {
    for (const c of bufs) {
      if (this.flv) this.rebaser.each(c, (piece) => this.out.push(...this.demux.push(piece).map((t) => ({ type: t.type, ts: t.timestamp, body: Buffer.from(t.data) }))));
      else this.chunks.push(c);
      assert.equal(this.out.length, 1, `player ${this.name}: each egress buffer is exactly one whole tag`);
      const t = this.out.pop()!;
      const raw = this.flv ? ((c[4]! << 16) | (c[5]! << 8) | c[6]! | (c[7]! << 24)) >>> 0 : t.ts;
      this.got.push({ ...t, raw, id: t.body.length >= 4 ? t.body.readUInt32BE(t.body.length - 4) : -1, copy: stickyCopies.has(c), dropped: this.sub.tagsDropped });
      this.writableLength += c.length;
    }
  }
}

// ---- the run ------------------------------------------------------------------

interface Written { idx: number; id: number; kind: Kind; ts: number; body: Buffer }

function run(sc: Scenario): void {
  const sab = new SharedArrayBuffer(RING_BASE + sc.ringKb * 1024);
  StreamSlab.format(sab);
  const s = new LiveStream('live', 'model', 1, sab, { maxTimestampJumpMs: 10_000, mergeWindowMs: () => 0 });
  const ring = s.ring!;
  const written: Written[] = [];
  const byId = new Map<number, Written>();
  const players: Player[] = [];
  let clock = sc.clock0;
  let nextId = 0;

  const pump = (p: Player) => {
    if (!p.sub.paused) p.startTail ??= ring.tail();
    p.sub.pump();
  };
  const join = (j: Join) => {
    if (players.length >= 4) return;
    const p = new Player(j, players.length);
    p.sub = s.addSubscriber(FORMS[j.form], p, events, p.policy);
    players.push(p);
  };
  /** A fast reader: drains its socket and pumps until at the live edge. */
  const drain = (p: Player) => {
    for (let i = 0; i < 10_000 && !p.sub.paused; i++) {
      p.writableLength = 0;
      pump(p);
      if (!seqBefore(p.sub.cursor, ring.head())) break;
    }
  };
  const commit = (w: Write, ts: number, body: Uint8Array) => {
    if (w.kind === 'meta') s.commitMetadata(ts, body, w.announce ? { videocodecid: 7 } : {});
    else if (w.kind === 'data') s.commitData(ts, body);
    else s.commitMedia(TYPE[w.kind], ts, body);
  };
  const write = (w: Write, inner: Write | null = null): void => {
    const media = TYPE[w.kind] !== 18;
    let len = Math.max(PREFIX[w.kind].length + 4, typeof w.size === 'number' ? w.size : ring.maxBody + w.size.near);
    if (!media) len = Math.min(len, ring.maxBody);
    const id = nextId++;
    const body = makeBody(w.kind, id, len);
    if (len > ring.maxBody) {
      // Ingest asks for room at the message header (session.payloadFor): refused before a byte is taken.
      assert.throws(() => s.beginMedia(len, () => {}), { code: 'ERR_MESSAGE_TOO_LARGE' });
      if (inner) write(inner);
      return;
    }
    let dest: Uint8Array = body;
    if (media && (w.inPlace || inner)) {
      // Assembled straight in the ring; a message completing meanwhile moves the partial one out.
      const box = { dest: s.beginMedia(len, (_from, to) => void (box.dest = to)) };
      box.dest.set(body.subarray(0, len >> 1));
      if (inner) write(inner);
      box.dest.set(body.subarray(len >> 1), len >> 1);
      dest = box.dest;
    }
    clock = (clock + w.dt) >>> 0;
    commit(w, clock, dest);
    const rec = { idx: written.length, id, kind: w.kind, ts: clock, body };
    written.push(rec);
    byId.set(id, rec);
  };

  if (sc.early) {
    join(sc.early); // waiting before the publisher: starts at the first keyframe
    players[0]!.early = true;
  }
  s.startPublishing(1);
  sc.first.forEach(join);
  try {
    for (const op of sc.ops) {
      const p = 'who' in op ? players[op.who % Math.max(1, players.length)] : undefined;
      switch (op.op) {
        case 'write': write(op.w, op.inner); break;
        case 'burst':
          for (let i = 0; i < op.n; i++) {
            write(put(i % op.gop === 0 ? 'key' : 'inter', op.size, 20, true));
            if (op.audio) write(put('audio', op.size >> 2, 0, true));
            // Slow players read mid-GOP, so laps also land where the ring holds no keyframe.
            const q = players[i % players.length];
            if (op.pumpEvery > 0 && i % op.pumpEvery === 0 && q) pump(q);
          }
          break;
        case 'join': join(op.j); break;
        case 'drain': if (p) drain(p); break;
        // A slow socket: half of what it holds went out, then one pump.
        case 'pump': if (p) { p.writableLength >>= 1; pump(p); } break;
        case 'pause': if (p) p.sub.paused = true; break;
        case 'resume':
          if (p) {
            p.sub.paused = false;
            if (op.live) p.sub.rewindToLive();
            pump(p);
          }
          break;
      }
    }
    for (const p of players) {
      p.sub.paused = false;
      drain(p);
      assert.equal(p.sub.cursor, ring.head(), `player ${p.name} caught up with the live edge`);
      check(p, written, byId);
    }
  } finally {
    s.close('run over'); // a failed run's players must not pump (and assert) on a later turn
  }
}

// ---- properties ---------------------------------------------------------------

function check(p: Player, written: Written[], byId: Map<number, Written>): void {
  // Per written index: the latest sticky tag of each kind before it, the video frame before it, a key before it.
  const latest: Record<StickyKind, number[]> = { meta: [], vsh: [], ash: [] };
  const prevVideo: number[] = [];
  const keyBefore: boolean[] = [];
  const cur = { meta: -1, vsh: -1, ash: -1, video: -1, key: false };
  for (const w of written) {
    for (const k of STICKY) latest[k].push(cur[k]);
    prevVideo.push(cur.video);
    keyBefore.push(cur.key);
    if (isSticky(w.kind)) cur[w.kind] = w.idx;
    if (isVideo(w.kind)) cur.video = w.idx;
    if (w.kind === 'key') cur.key = true;
  }
  const held: Record<StickyKind, number> = { meta: -1, vsh: -1, ash: -1 };
  let lastIdx = -1;
  let lastVideo = -1;
  let inBand = 0;
  let firstRaw: number | undefined;
  let prevTs: number | undefined;
  for (const [n, g] of p.got.entries()) {
    const w = byId.get(g.id);
    const at = `player ${p.name} (${p.j.form}) tag ${n}, #${g.id} ${w?.kind}`;
    assert.ok(w && TYPE[w.kind] === g.type && w.body.equals(g.body), `${at}: a whole tag, byte-identical to one written`);
    // FLV: shared bytes carry the stream's time, the player's timeline starts at 0 (FlvRebaser).
    firstRaw ??= g.raw;
    if (p.flv) assert.equal(g.ts, Math.max(0, tsDiff(g.raw, firstRaw)), `${at}: re-based to the player's first tag`);
    // RTMP puts a new player's opening sticky tags at 0 by design (librtmp); after them time never goes back.
    const openingAtZero = g.copy && inBand === 0 && !p.flv && g.raw === 0;
    if (!openingAtZero) {
      if (prevTs !== undefined) assert.ok(tsDiff(g.ts, prevTs) >= 0, `${at}: timestamp ${g.ts} after ${prevTs}: time went back`);
      // A re-sent sticky tag is no earlier than what came before, nor later than the frame after it.
      prevTs = g.ts;
    }
    if (g.copy) {
      assert.ok(isSticky(w.kind), `${at}: only sticky tags are re-sent`);
      assert.ok(openingAtZero || tsDiff(g.raw, w.ts) >= 0, `${at}: re-sent at ${g.raw}, before its own ${w.ts}`);
      held[w.kind as StickyKind] = w.idx;
      continue;
    }
    assert.equal(g.raw, w.ts, `${at}: ring tags keep their written timestamp`);
    assert.ok(w.idx > lastIdx, `${at}: written #${w.idx} after #${lastIdx}: out of order or duplicated`);
    lastIdx = w.idx;
    inBand++;
    if (isSticky(w.kind)) held[w.kind] = w.idx;
    if (isVideo(w.kind)) {
      // Decodable: an inter frame only right after the frame before it (so a lap or drop resumes at a key).
      // A stream that opened with inter frames has no key to start at: those may pass.
      if (w.kind === 'inter' && keyBefore[w.idx]) {
        assert.equal(lastVideo, prevVideo[w.idx], `${at}: inter frame #${w.idx} without the frame before it (#${prevVideo[w.idx]})`);
      }
      lastVideo = w.idx;
    }
    if (isMedia(w.kind)) {
      // Never stale: the player holds the sticky tags in force when this frame was written (after a
      // drop, after a lap of its join point), or newer metadata; sequence headers exactly those.
      for (const k of ['meta', isVideo(w.kind) ? 'vsh' : 'ash'] as const) {
        assert.ok(held[k] >= latest[k][w.idx], `${at}: holds ${k} #${held[k]}, frame #${w.idx} needs #${latest[k][w.idx]}`);
        if (k !== 'meta') assert.equal(held[k], latest[k][w.idx], `${at}: decodes with ${k} #${held[k]}, written with #${latest[k][w.idx]}`);
      }
    }
  }
  assert.equal(p.sub.tagsSent, inBand, `player ${p.name}: tagsSent counts ring tags`);
}

// ---- the cases it found (fixed): minimal, as fast-check shrank them ----------

const slow: Join = { form: 'flv', hw: 400, qBytes: 3000, qMs: 150 };
const tag = (kind: Kind, size: Size = 0, dt = 0): Op => ({ op: 'write', w: put(kind, size, dt), inner: null });
const read = (op: 'drain' | 'pump'): Op => ({ op, who: 0, live: false });
/** `outer` with `kind` completing while it is being assembled. */
const inside = (outer: Op, kind: Kind, size: Size): Op => ({ ...outer, inner: put(kind, size, 0) } as Op);
const FOUND: Record<'staleAfterDrop' | 'headerAheadOfKey' | 'lappedJoin' | 'earlyHeaderAfterKey', [string, Scenario]> = {
  // The player sends an audio header in-band and stops at the high-water mark before the video header,
  // then drops to the next keyframe: sending any sticky tag set stickyVersion to the stream's current
  // version (Subscriber.pump), so jumpTo saw nothing to re-send. Now the player tracks, per kind, which
  // record it holds.
  staleAfterDrop: ['a dropped player misses a sequence header that changed while it lagged', {
    ringKb: 64, clock0: 0, early: null, first: [slow], ops: [read('drain'), tag('ash', 500), tag('vsh'), read('pump'), tag('key', { near: 0 })],
  }],
  // Sticky copies are the slab's latest, were re-sent before the latest keyframe even when written after
  // it (Subscriber.start, jumpTo): that frame met the newer config, and tsLater stamped the copy after it.
  // Now such a player starts at the new header and waits for the next keyframe (configuredFrom).
  headerAheadOfKey: ['a sequence header written after the latest keyframe is re-sent before it: newer config, time goes back', {
    ringKb: 64, clock0: 0, early: null, first: [slow], ops: [tag('key'), read('drain'), tag('inter', { near: 0 }, 40), tag('key', 0, 40), tag('vsh', 0, 40)],
  }],
  // Subscriber.start, "waited from before the first keyframe": it started at the tail, with no sticky
  // copies, even when the tail had passed its join point (and the headers with it). Now copies come.
  lappedJoin: ['a player waiting before the publisher whose join point was lapped starts without sequence headers', {
    ringKb: 64, clock0: 0, early: slow, first: [],
    ops: [tag('key', { near: -25 }), tag('key'), tag('vsh'), tag('inter', { near: 0 }), tag('inter', { near: 0 }), tag('inter', { near: 0 }), read('drain'), tag('key')],
  }],
  // A player waiting before the publisher, keyframes near maxBody with headers completing inside them.
  earlyHeaderAfterKey: ['a player waiting before the publisher starts with the sequence header in force at its first keyframe', {
    ringKb: 64, clock0: 0, early: slow, first: [slow],
    ops: [inside(tag('key', { near: 0 }), 'vsh', { near: 0 }), inside(tag('key', { near: 1 }), 'ash', 0), inside(tag('vsh'), 'key', 0)],
  }],
};

test('tag ring + subscriber against a model: whole tags, in order, sticky tags in force, keyframe after a lap or drop', () => {
  const examples = Object.values(FOUND).map(([, sc]) => [sc] as [Scenario]);
  fc.assert(fc.property(scenarioArb, (sc) => run(sc)), { numRuns: RUNS, examples, includeErrorInReport: true });
});

for (const [bug, [title, sc]] of Object.entries(FOUND)) {
  test(`found by the model (${bug}, fixed): ${title}`, () => run(sc));
}
