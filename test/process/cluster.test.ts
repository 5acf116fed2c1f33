/**
 * The worker-thread cluster with real ffmpeg publishers: two workers, the
 * kernel spreading connections over them (SO_REUSEPORT), players on the
 * stream's home worker and on the other one, which reads the home's ring
 * through the shared slab.
 *
 * What a player received is checked against the clip's own FLV tags
 * (FlvDemuxer over the file), payload bytes only: after onMetaData (ffmpeg
 * rewrites it, so only its name is checked) come the clip's two sequence
 * headers, byte for byte, then per track a contiguous run of the clip's
 * frames, the video one starting on a keyframe.
 *
 *   clip video tag  17|27  01|00|02  cts(3)  ...   key|inter, NALUs|sequence header|end of sequence
 *   clip audio tag  af     01|00     ...           AAC raw|AudioSpecificConfig
 *
 * Cases with synthetic publishers (races, a worker crash, churn, slow
 * players) are in cluster-resilience.test.ts.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { RunningCluster } from '../../src/process/primary.js';
import type { RtmpClient } from '../../src/rtmp/client/rtmp-client.js';
import { findRun, isFrame, kindOf, readClip, type ClipReference, type ClipTag } from '../helpers/clip-tags.js';
import { makeClip, publish, type Clip, type FfmpegProcess } from '../helpers/ffmpeg.js';
import { RtmpClientPool, rtmpUrl } from '../helpers/rtmp-client-pool.js';
import { connectOnWorker, sessionsByPort } from '../helpers/cluster-placement.js';
import { closeCluster, startTestCluster } from '../helpers/servers.js';
import { sleep, waitFor, withTimeout } from '../helpers/net.js';

const FPS = 25;

// ---- tags: the clip's and a player's ------------------------------------------

/** A tag as a player received it. */
interface Tag extends ClipTag {
  /** Date.now() when a player received it. */
  at: number;
}

/** One RtmpClient player and everything it received, stamped on arrival. */
class Player {
  readonly tags: Tag[] = [];
  readonly statuses: string[] = [];
  worker = -1;
  /** How many tags had arrived when NetStream.Play.UnpublishNotify did (-1: not yet). */
  unpublishedAfter = -1;
  /** Our local port: the `peer` port of our session in a snapshot. */
  readonly port: number;

  constructor(readonly c: RtmpClient) {
    this.port = c.socket.localPort!;
    c.on('media', (m) => {
      const kind = kindOf(m.type, m.payload);
      if (kind !== 'data') this.tags.push({ type: m.type, ts: m.timestamp, kind, data: m.payload, at: Date.now() });
    });
    c.on('status', (s) => {
      this.statuses.push(s.code);
      if (s.code === 'NetStream.Play.UnpublishNotify') this.unpublishedAfter = this.tags.length;
    });
  }

  get video(): Tag[] {
    return this.tags.filter(isFrame);
  }

  get audio(): Tag[] {
    return this.tags.filter((t) => t.kind === 'audio');
  }
}

/**
 * onMetaData, then the clip's video and audio sequence headers byte for
 * byte, then per track a contiguous run of the clip (video from a
 * keyframe) with timestamps never going back; with `toEnd`, both runs reach
 * the clip's last frame.
 */
function assertClipRun(p: Player, ref: ClipReference, what: string, toEnd: boolean): { video: number; audio: number } {
  const head = p.tags.slice(0, 3).map((t) => t.kind);
  assert.deepEqual(head, ['meta', 'vseq', 'aseq'], `${what}: first tags`);
  assert.ok(p.tags[1]!.data.equals(ref.vseq), `${what}: video sequence header differs from the clip's`);
  assert.ok(p.tags[2]!.data.equals(ref.aseq), `${what}: audio sequence header differs from the clip's`);
  const rest = p.tags.slice(3);
  // A republished sequence header or a second onMetaData mid-run would be a fault here.
  const stray = rest.find((t) => t.kind === 'vseq' || t.kind === 'aseq' || t.kind === 'meta');
  assert.equal(stray, undefined, `${what}: ${stray?.kind} again after the start`);
  const video = rest.filter(isFrame);
  const audio = rest.filter((t) => t.kind === 'audio');
  const v = findRun(video, ref.video, `${what} video`, (t) => t.kind === 'key');
  const a = findRun(audio, ref.audio, `${what} audio`, () => true);
  for (const [track, list] of [['video', video], ['audio', audio]] as const) {
    for (let i = 1; i < list.length; i++) {
      assert.ok(list[i]!.ts >= list[i - 1]!.ts, `${what} ${track}: timestamp goes back from ${list[i - 1]!.ts} to ${list[i]!.ts} at #${i}`);
    }
  }
  if (toEnd) {
    assert.equal(v + video.length, ref.video.length, `${what}: video run clip #${v}+${video.length} stops short of the clip's ${ref.video.length} frames`);
    assert.equal(a + audio.length, ref.audio.length, `${what}: audio run clip #${a}+${audio.length} stops short of the clip's ${ref.audio.length} frames`);
  }
  return { video: v, audio: a };
}

// ---- the cluster --------------------------------------------------------------

let cluster: RunningCluster;
const procs: FfmpegProcess[] = [];
const rtmp = new RtmpClientPool();

before(async () => {
  cluster = await startTestCluster({ cluster: { workers: 2, crashHook: true }, media: { republishGraceMs: 500, playWaitMs: 2000 }, rtmp: { publishNotify: true } });
});

after(async () => {
  rtmp.closeAll();
  await Promise.all(procs.map((p) => p.kill(1000)));
  await closeCluster(cluster);
});

const appUrl = (): string => rtmpUrl(cluster.rtmpPort);
const connect = (): Promise<RtmpClient> => rtmp.connect(appUrl());

async function locate(players: Player[]): Promise<void> {
  const byPort = await sessionsByPort(cluster);
  for (const p of players) p.worker = byPort.get(p.port)?.worker ?? -1;
}

/** The worker the ffmpeg publisher of `key` landed on (its session's role is publisher). */
async function publisherWorker(key: string): Promise<number> {
  for (const s of (await sessionsByPort(cluster)).values()) if (s.role === 'publisher' && s.streamKey === key) return s.worker;
  return -1;
}

/** ffmpeg publishes `clip` as live/`name`; resolves once the directory names the stream's home worker. */
async function publishClip(name: string, clip: Clip): Promise<{ ff: FfmpegProcess; key: string; home: number }> {
  const key = `live/${name}`;
  const ff = publish(`${appUrl()}/${name}`, clip);
  procs.push(ff);
  await waitFor(() => cluster.directory.homeOf(key) !== undefined, 5000, `${key} live`);
  return { ff, key, home: cluster.directory.homeOf(key)! };
}

// ---- cases --------------------------------------------------------------------

test('two workers, one ffmpeg publisher, 24+ players joining over 2.5 s on both workers: each gets the sequence headers then a keyframe-first contiguous run of the clip to its end', { timeout: 30000 }, async () => {
  const clip = await makeClip({ seconds: 6, fps: FPS, gop: FPS, width: 320, height: 240 });
  const ref = readClip(clip);
  const { ff, key, home } = await publishClip('fan', clip);
  assert.equal(await publisherWorker(key), home, 'the directory names the publisher\'s worker as home');

  const players: Player[] = [];
  const join = async (): Promise<void> => {
    const p = new Player(await connect());
    players.push(p);
    await p.c.play('fan');
  };
  // 24 players, one every 100 ms, from 0 to 2.3 s after the stream went live.
  const joins: Promise<void>[] = [];
  for (let i = 0; i < 24; i++) {
    joins.push(join());
    await sleep(100);
  }
  await Promise.all(joins);
  await locate(players);
  // The kernel hashes connections over the workers; top up until both have players.
  for (let extra = 0; extra < 16 && new Set(players.map((p) => p.worker)).size < 2; extra++) {
    await join();
    await locate(players);
  }
  const workers = cluster.supervisor.workerIds();
  for (const w of workers) assert.ok(players.some((p) => p.worker === w), `worker ${w} has players (${players.map((p) => p.worker).join(',')})`);
  const remote = players.filter((p) => p.worker !== home);
  assert.ok(remote.length > 0 && players.every((p) => workers.includes(p.worker)));
  const list = cluster.directory.list().find((e) => e.key === key);
  assert.deepEqual(list?.readers, workers.filter((w) => w !== home), 'the other worker is registered as a reader of the home\'s slab');

  const exit = await withTimeout(ff.exited, 15000, 'ffmpeg publisher to finish');
  assert.equal(exit.code, 0, `ffmpeg exited ${exit.code}: ${ff.stderr().slice(-500)}`);
  // Everyone is told, and the tail of the clip reaches every player, home or remote.
  const lastV = ref.video.at(-1)!.data;
  const lastA = ref.audio.at(-1)!.data;
  await waitFor(
    () => players.every((p) => p.statuses.includes('NetStream.Play.UnpublishNotify') && p.video.at(-1)?.data.equals(lastV) && p.audio.at(-1)?.data.equals(lastA)),
    3000,
    'every player told UnpublishNotify with the clip\'s last frames in',
  ).catch(() => undefined); // the assertions below name who is short
  const starts = new Set<number>();
  for (const p of players) {
    const what = `player :${p.port} on worker ${p.worker}${p.worker === home ? ' (home)' : ' (remote)'}`;
    const run = assertClipRun(p, ref, what, true);
    // ffmpeg as a player stops at UnpublishNotify: nothing of the stream may come after it.
    assert.equal(p.unpublishedAfter, p.tags.length, `${what}: UnpublishNotify after tag ${p.unpublishedAfter} of ${p.tags.length}`);
    starts.add(run.video);
  }
  // Later joiners started at later keyframes: each got the GOP cache of its join time.
  assert.ok(starts.size >= 2, `players joined at different keyframes (${[...starts].join(',')})`);
});

test('a late player on the non-home worker gets metadata, sequence headers and the cached keyframe within 1 s (3 s GOP)', { timeout: 30000 }, async () => {
  const GOP = 3 * FPS;
  const clip = await makeClip({ seconds: 6, fps: FPS, gop: GOP, width: 160, height: 120 });
  const ref = readClip(clip);
  const { ff, home } = await publishClip('late', clip);

  // A watcher from the start tells us where the live edge is.
  const watcher = new Player(await connect());
  await watcher.c.play('late');
  // A client on the other worker, ready to play (connect again until the kernel puts one there).
  const landed = await connectOnWorker(cluster, connect, (w) => w !== home, 20);
  assert.ok(landed, 'a connection landed on the non-home worker');
  const late = new Player(landed.c);
  late.worker = landed.worker;

  // Join 0.7 s into the second GOP: its keyframe is cached, the next one is 2.3 s away.
  const secondKey = ref.video[GOP]!;
  await waitFor(() => (watcher.video.at(-1)?.ts ?? 0) >= secondKey.ts + 700, 8000, 'live edge 0.7 s past the second keyframe');
  const edge = watcher.video.at(-1)!.ts;
  const t0 = Date.now();
  await late.c.play('late');
  await waitFor(() => late.video.length > 0, 1500, 'the late player\'s first video frame');
  const first = late.video[0]!;
  assert.ok(first.at - t0 <= 1000, `first frame ${first.at - t0} ms after play (GOP cache, not the next keyframe)`);
  assert.equal(first.kind, 'key', 'the first video frame is a keyframe');
  assert.ok(first.data.equals(secondKey.data), `the cached keyframe is the clip's second one (got ts ${first.ts}, edge was ${edge})`);
  assert.ok(first.ts < edge, `the keyframe (ts ${first.ts}) is older than the live edge at join (ts ${edge}): it came from the cache`);
  const i = late.tags.indexOf(first);
  assert.deepEqual(late.tags.slice(0, 3).map((t) => t.kind), ['meta', 'vseq', 'aseq'], 'metadata and sequence headers come first');
  assert.ok(late.tags.slice(3, i).every((t) => t.kind === 'audio'), 'nothing but audio between the headers and the keyframe');

  // It then follows on contiguously (the cache catch-up and the live tags in one run).
  await sleep(800);
  const run = assertClipRun(late, ref, `late player on worker ${late.worker}`, false);
  assert.equal(run.video, GOP, 'its video run starts at the second keyframe');
  assert.ok(late.video.length >= (edge - secondKey.ts) / (1000 / FPS), `caught up past the join edge (${late.video.length} frames)`);
  await ff.kill(1000);
});
