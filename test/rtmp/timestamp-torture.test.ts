// Timestamps encoders really send, end to end: a publisher (the project's
// RTMP client) sends 6 s of 25 fps video + audio with a timestamp pattern,
// and RTMP, HTTP-FLV and WS-FLV players that joined before it must see every
// frame, per track never going back (32-bit wrap-aware), and no step between
// consecutive video frames above 1 s. A jump over media.maxTimestampJumpMs is
// re-based, logged and counted in sluice_timestamp_jumps_total; the other
// patterns are not jumps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withServer } from '../helpers/server-harness.js';
import { getFlv, wsFlv } from '../helpers/flv-players.js';
import { AAC_SEQUENCE_HEADER, AVC_SEQUENCE_HEADER, META, audioFrame, counterOf, videoFrame } from '../helpers/synthetic-media.js';
import { sleep, waitFor } from '../helpers/net.js';
import { tsDiff } from '../../src/media/timestamp.js';

const FPS = 25;
const FRAMES = 6 * FPS;
const GOP = FPS;
const HOUR = 3600_000;

interface Pattern {
  name: string;
  /** Video and audio input timestamps of frame i. */
  video: (i: number) => number;
  audio: (i: number) => number;
  jumps: number;
}

const at = (base: number) => (i: number) => (base + i * 40) >>> 0;
const jumpAt = (base: number, step: number) => (i: number) => (base + i * 40 + (i >= FRAMES / 2 ? step : 0)) >>> 0;

const PATTERNS: Pattern[] = [
  { name: '32-bit wrap (starts 2 s before 2^32)', video: at(2 ** 32 - 2000), audio: at(2 ** 32 - 2000), jumps: 0 },
  { name: 'jump back by 3 h mid-stream', video: jumpAt(5 * HOUR, -3 * HOUR), audio: jumpAt(5 * HOUR, -3 * HOUR), jumps: 1 },
  { name: 'jump forward by 3 h mid-stream', video: jumpAt(1000, 3 * HOUR), audio: jumpAt(1000, 3 * HOUR), jumps: 1 },
  { name: 'audio 2 s behind video', video: at(10_000), audio: at(8000), jumps: 0 },
  { name: 'every timestamp 0', video: () => 0, audio: () => 0, jumps: 0 },
];

interface Seen {
  type: number;
  ts: number;
  n: number;
}

/** `advancing`: the input advances, so must the output video (a jump back clamped instead of re-based would stall at one timestamp). */
function assertTimeline(tags: Seen[], what: string, advancing: boolean): void {
  for (const type of [9, 8]) {
    const frames = tags.filter((t) => t.type === type && t.n >= 0);
    const kind = type === 9 ? 'video' : 'audio';
    assert.equal(frames.length, FRAMES, `${what}: every ${kind} frame arrived`);
    assert.deepEqual(frames.map((t) => t.n), [...Array(FRAMES).keys()], `${what}: ${kind} frames in order`);
    for (let i = 1; i < frames.length; i++) {
      const step = tsDiff(frames[i]!.ts, frames[i - 1]!.ts);
      assert.ok(step >= 0, `${what}: ${kind} #${i} goes back by ${-step} ms`);
      if (type === 9) assert.ok(step <= 1000 && (!advancing || step > 0), `${what}: video #${i} is ${step} ms after #${i - 1}`);
    }
  }
}

for (const p of PATTERNS) {
  test(`timestamps: ${p.name} — RTMP, HTTP-FLV and WS-FLV players see every frame, monotonic, no video step over 1 s; ${p.jumps} jump(s) counted`, { timeout: 20000 }, async () => {
    await withServer({ player: { mergeWriteMs: 0 } }, async (h) => {
      const name = 'ts';
      const { rec } = await h.player(name);
      const flvUrl = `http://127.0.0.1:${h.srv.httpPort}/live/${name}.flv`;
      const http = getFlv(flvUrl);
      const ws = wsFlv(flvUrl.replace('http:', 'ws:'));
      try {
        // All three wait for the publisher (an HTTP-FLV response head comes only once it is live).
        await waitFor(() => h.srv.ctx.hub.get('live', name)?.subscribers.size === 3, 5000, 'three players waiting');
        const pub = await h.client();
        await pub.publish(name);
        const t0 = p.video(0);
        pub.setDataFrame(META, t0);
        pub.sendMedia(9, t0, AVC_SEQUENCE_HEADER);
        pub.sendMedia(8, p.audio(0), AAC_SEQUENCE_HEADER);
        for (let i = 0; i < FRAMES; i++) {
          pub.sendMedia(9, p.video(i), videoFrame(i, i % GOP === 0, 300));
          pub.sendMedia(8, p.audio(i), audioFrame(i, 50));
          if (i % 10 === 9) await sleep(5);
        }
        const flvSeen = (tags: { type: number; ts: number; data: Buffer }[]): Seen[] => tags.map((t) => ({ type: t.type, ts: t.ts, n: counterOf(t) }));
        const players = () => [
          { what: 'RTMP', tags: rec.media().map((m) => ({ type: m.type, ts: m.ts, n: m.n })) },
          { what: 'HTTP-FLV', tags: flvSeen(http.flv.tags) },
          { what: 'WS-FLV', tags: flvSeen(ws.flv.tags) },
        ];
        const counts = () => JSON.stringify(players().map((x) => [x.what, x.tags.filter((t) => t.type === 9 && t.n >= 0).length, x.tags.filter((t) => t.type === 8 && t.n >= 0).length]));
        await waitFor(() => players().every((x) => x.tags.filter((t) => t.type === 9 && t.n === FRAMES - 1).length === 1 && x.tags.filter((t) => t.type === 8 && t.n === FRAMES - 1).length === 1), 10000, 'the last frames at every player').catch((err: Error) => assert.fail(`${err.message}: video/audio frames per player ${counts()}`));
        for (const x of players()) assertTimeline(x.tags, `${p.name}, ${x.what}`, p.video(1) !== p.video(0));
        assert.equal(h.srv.ctx.counters.timestampJumps, p.jumps, 'timestamp jumps counted');
      } finally {
        http.close();
        ws.close();
      }
    });
  });
}
