// Synthetic media (loadtest/synthetic-media.ts): real headers, frames sized to the bitrate.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAvcDecoderConfig, parseAvcSps } from '../../src/protocol/avc.js';
import { parseAudioSpecificConfig } from '../../src/protocol/aac.js';
import { decodeAmf0 } from '../../src/protocol/amf0.js';
import { HEIGHT, SyntheticSource, videoFrameSizes, WIDTH } from '../../loadtest/synthetic-media.js';

test('headers: @setDataFrame onMetaData, an AVC sequence header whose SPS says 1280x720, AAC-LC 44.1 kHz stereo', () => {
  const src = new SyntheticSource({ stream: 0, bitrateKbps: 2000, fps: 25, gop: 50, audio: true });
  const [meta, avc, aac] = src.headers;
  const [name, event, obj] = decodeAmf0(meta!.payload) as [string, string, Record<string, unknown>];
  assert.equal(name, '@setDataFrame');
  assert.equal(event, 'onMetaData');
  assert.equal(obj.width, WIDTH);
  assert.equal(obj.videocodecid, 7);
  assert.equal(avc!.type, 9);
  assert.deepEqual([...avc!.payload.subarray(0, 2)], [0x17, 0x00]);
  const cfg = parseAvcDecoderConfig(avc!.payload.subarray(5));
  const sps = parseAvcSps(cfg.sps[0]!);
  assert.deepEqual([sps.width, sps.height], [WIDTH, HEIGHT]);
  assert.deepEqual([...aac!.payload.subarray(0, 2)], [0xaf, 0x00]);
  const asc = parseAudioSpecificConfig(aac!.payload.subarray(2));
  assert.equal(asc.sampleRate, 44100);
  assert.equal(asc.channelConfig, 2);
  assert.equal(new SyntheticSource({ stream: 0, bitrateKbps: 2000, fps: 25, gop: 50, audio: false }).headers.length, 2);
});

test('video bytes over a GOP match the bitrate; keyframes first in each GOP and larger', () => {
  for (const [kbps, fps, gop] of [[2000, 25, 50], [500, 30, 60], [8000, 60, 1], [100, 10, 20]] as const) {
    const src = new SyntheticSource({ stream: 0, bitrateKbps: kbps, fps, gop, audio: false });
    let bytes = 0;
    const keys: number[] = [];
    for (let n = 0; n < gop * 2; n++) {
      const m = src.take(0);
      bytes += m.payload.length;
      if (m.payload[0] === 0x17) keys.push(n);
    }
    const want = (kbps * 1000 / 8) * (gop * 2 / fps);
    assert.ok(Math.abs(bytes - want) / want < 0.01, `${kbps} kbit/s ${fps} fps gop ${gop}: ${bytes} vs ${want}`);
    assert.deepEqual(keys, gop === 1 ? [0, 1] : [0, gop]);
    const sizes = videoFrameSizes(kbps, fps, gop);
    assert.ok(sizes.key >= sizes.inter);
  }
});

test('audio and video interleave in due order', () => {
  const src = new SyntheticSource({ stream: 0, bitrateKbps: 1000, fps: 25, gop: 25, audio: true });
  let last = -1;
  const types = new Set<number>();
  for (let i = 0; i < 200; i++) {
    const at = src.nextOffsetMs();
    assert.ok(at >= last);
    last = at;
    const m = src.take(at);
    types.add(m.type);
    assert.equal(m.timestamp, Math.round(at));
  }
  assert.deepEqual([...types].sort(), [8, 9]);
  const perSecond = 25 + 44100 / 1024;
  assert.ok(Math.abs(last - (200 / perSecond) * 1000) < 50, '200 frames at 25 video + 43.07 audio a second');
});
