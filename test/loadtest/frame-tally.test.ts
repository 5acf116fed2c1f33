// What a player counts (loadtest/frame-tally.ts): headers, gaps, reorders,
// GOP-cache frames, frames of another stream.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FrameTally } from '../../loadtest/frame-tally.js';
import { encodeMarker, MarkerKind } from '../../loadtest/marker.js';
import { zeroTotals } from '../../loadtest/messages.js';
import { SyntheticSource } from '../../loadtest/synthetic-media.js';

function setup(playRequestedMs = 0) {
  const totals = zeroTotals();
  const video: number[] = [];
  const audio: number[] = [];
  const firsts: number[] = [];
  const tally = new FrameTally(1, { metadata: true, audio: true }, {
    counters: [totals],
    videoLatency: (ms) => video.push(ms),
    audioLatency: (ms) => audio.push(ms),
    firstVideoFrame: (at) => firsts.push(at),
  }, playRequestedMs);
  const frame = (kind: MarkerKind, seq: number, scheduledMs: number, stream = 1): Buffer =>
    Buffer.concat([Buffer.from(kind === MarkerKind.Video ? '2701000000' : 'af01', 'hex'), encodeMarker({ kind, stream, seq, scheduledMs })]);
  return { totals, video, audio, firsts, tally, frame };
}

test('gaps count the missing frames, reorders the older ones, per kind', () => {
  const { totals, tally, frame, video, audio } = setup();
  for (const seq of [0, 1, 2, 5, 6, 4, 7, 10]) tally.onTag(9, frame(MarkerKind.Video, seq, 100), 110);
  for (const seq of [0, 1, 2, 3]) tally.onTag(8, frame(MarkerKind.Audio, seq, 100), 105);
  assert.equal(totals.gaps, 2 + 2, 'video 3,4 missing (4 came late, still a gap), 8,9 missing');
  assert.equal(totals.reorders, 1, 'video 4 after 6');
  assert.equal(totals.framesIn, 12);
  assert.equal(video.length, 8);
  assert.deepEqual(audio, [5, 5, 5, 5]);
});

test('frames scheduled before the play request are GOP cache: counted, no latency', () => {
  const { totals, tally, frame, video, firsts } = setup(1000);
  tally.onTag(9, frame(MarkerKind.Video, 0, 900), 1010);
  tally.onTag(9, frame(MarkerKind.Video, 1, 940), 1010);
  tally.onTag(9, frame(MarkerKind.Video, 2, 1020), 1025);
  assert.equal(totals.cachedFrames, 2);
  assert.deepEqual(video, [5]);
  assert.deepEqual(firsts, [1010], 'time to first frame counts the cached frame');
  assert.equal(totals.playersWithFrames, 1);
});

test('another stream\'s marker is foreign; unmarked media is ignored', () => {
  const { totals, tally, frame } = setup();
  tally.onTag(9, frame(MarkerKind.Video, 0, 0, 2), 1);
  tally.onTag(9, Buffer.from('2701000000aabbcc', 'hex'), 1);
  assert.equal(totals.foreignFrames, 1);
  assert.equal(totals.framesIn, 0);
  assert.equal(totals.playersWithFrames, 0);
});

test('headers: counted once, when metadata, video and (expected) audio sequence headers all came', () => {
  const { totals, tally } = setup();
  const src = new SyntheticSource({ stream: 1, bitrateKbps: 500, fps: 25, gop: 25, audio: true });
  const [meta, avc, aac] = src.headers;
  // Servers strip "@setDataFrame": players get the onMetaData bytes after it.
  tally.onTag(18, meta!.payload.subarray(16), 0);
  tally.onTag(9, avc!.payload, 0);
  assert.equal(totals.playersWithHeaders, 0, 'audio header still missing');
  tally.onTag(8, aac!.payload, 0);
  tally.onTag(8, aac!.payload, 0);
  assert.equal(totals.playersWithHeaders, 1);
});
