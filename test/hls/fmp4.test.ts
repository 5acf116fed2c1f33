import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SluiceError } from '../../src/core/errors.js';
import { aacTrack, avcTrack, initSegment, mediaSegment, type Fmp4Run, type Fmp4Sample } from '../../src/hls/fmp4.js';
import { find, outline, readTraf, walk } from './box-reader.js';
import { readFixture, segmentsAtKeyframes } from './flv-fixture.js';

const src = readFixture();

/** Asserts `fn` throws a SluiceError with `code` whose chain mentions `reason`. */
function throwsCoded(fn: () => unknown, code: string, reason: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof SluiceError, `a SluiceError, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.match(err.chain(), reason);
    return true;
  });
}

test('init segment: ftyp + moov, every box size tiles its parent, one trak per track', () => {
  const init = initSegment([src.video, src.audio]);
  const boxes = walk(init);
  const trak = (handler: string): string[] => [
    '  trak', '    tkhd', '    mdia', '      mdhd', '      hdlr', '      minf', `        ${handler}`,
    '        dinf', '          dref', '            url ', '        stbl', '          stsd',
    ...(handler === 'vmhd' ? ['            avc1', '              avcC'] : ['            mp4a', '              esds']),
    '          stts', '          stsc', '          stsz', '          stco',
  ];
  assert.deepEqual(outline(boxes), ['ftyp', 'moov', '  mvhd', ...trak('vmhd'), ...trak('smhd'), '  mvex', '    trex', '    trex']);
  const ftyp = find(boxes, 'ftyp').body;
  assert.equal(ftyp.toString('latin1', 0, 4), 'iso6', 'major brand');
  assert.deepEqual([0, 1, 2].map((i) => ftyp.toString('latin1', 8 + i * 4, 12 + i * 4)), ['iso6', 'cmfc', 'mp41']);

  const [vtrak, atrak] = find(boxes, 'moov').children.filter((b) => b.type === 'trak');
  const tkhd = find(vtrak!.children, 'tkhd').body;
  assert.equal(tkhd.readUInt32BE(12), 1, 'video track_ID');
  assert.deepEqual([tkhd.readUInt32BE(76) / 65536, tkhd.readUInt32BE(80) / 65536], [160, 120], 'tkhd size from the SPS');
  assert.equal(find(vtrak!.children, 'mdia/mdhd').body.readUInt32BE(12), 90000, 'video timescale');
  assert.equal(find(atrak!.children, 'mdia/mdhd').body.readUInt32BE(12), 44100, 'audio timescale = sample rate');
  assert.equal(find(vtrak!.children, 'mdia/hdlr').body.toString('latin1', 8, 12), 'vide');
  assert.equal(find(atrak!.children, 'mdia/hdlr').body.toString('latin1', 8, 12), 'soun');
  const avc1 = find(vtrak!.children, 'mdia/minf/stbl/stsd/avc1').body;
  assert.deepEqual([avc1.readUInt16BE(24), avc1.readUInt16BE(26)], [160, 120], 'avc1 width/height');
  assert.ok(find(vtrak!.children, 'mdia/minf/stbl/stsd/avc1/avcC').body.equals(src.video.config), 'avcC is the FLV record byte for byte');
  const esds = find(atrak!.children, 'mdia/minf/stbl/stsd/mp4a/esds').body;
  assert.ok(esds.includes(Buffer.concat([Buffer.from([0x05, src.audio.config.length]), src.audio.config])), 'esds holds the ASC as DecoderSpecificInfo');
  const trex = find(boxes, 'moov/mvex').children.map((b) => b.body.readUInt32BE(4));
  assert.deepEqual(trex, [1, 2], 'trex track_IDs');
});

test('media segment: trun data_offset points at each track\'s samples in mdat, tfdt and sync flags from the FLV', () => {
  const [first, second] = segmentsAtKeyframes(src);
  assert.ok(first && second, 'two keyframe-cut segments');
  for (const [i, runs] of [first, second].entries()) {
    const seg = mediaSegment(i + 1, runs);
    const boxes = walk(seg);
    assert.deepEqual(boxes.map((b) => b.type), ['moof', 'mdat']);
    const moof = boxes[0]!;
    const mdat = boxes[1]!;
    assert.equal(find(moof.children, 'mfhd').body.readUInt32BE(4), i + 1, 'mfhd sequence_number');
    const trafs = moof.children.filter((b) => b.type === 'traf');
    assert.equal(trafs.length, runs.length);
    let payload = mdat.start + 8;
    runs.forEach((run, k) => {
      const traf = readTraf(trafs[k]!);
      const rate = run.track.timescale;
      assert.equal(traf.trackId, run.track.id);
      assert.equal(traf.tfhdFlags, 0x020000, 'default-base-is-moof only');
      assert.equal(moof.start + traf.dataOffset, payload, `track ${run.track.id}: data_offset lands on its first sample`);
      assert.equal(traf.base, Math.round((run.samples[0]!.dts * rate) / 1000), 'tfdt = first DTS in the track timescale');
      for (const [j, s] of run.samples.entries()) {
        const t = traf.samples[j]!;
        assert.equal(t.size, s.data.length);
        assert.ok(seg.subarray(payload, payload + t.size).equals(s.data), `sample ${j} bytes`);
        payload += t.size;
        const sync = (t.flags & 0x00010000) === 0;
        assert.equal(sync, run.track.kind === 'audio' || s.key === true, `sample ${j} sync flag`);
        assert.equal(t.cto, Math.round(((s.dts + (s.cts ?? 0)) * rate) / 1000) - Math.round((s.dts * rate) / 1000), `sample ${j} cto`);
      }
      const total = traf.samples.reduce((n, t) => n + t.duration, 0);
      if (run.endDts !== undefined) assert.equal(traf.base + total, Math.round((run.endDts * rate) / 1000), 'durations reach endDts');
    });
    assert.equal(payload, mdat.start + mdat.size, 'mdat holds nothing else');
  }
});

test('ms timestamps become ticks from absolute time: 30 fps video and 44.1 kHz audio keep tfdt + durations exact', () => {
  const frame = (i: number, fps: number): number => Math.round((i * 1000) / fps); // FLV ms, rounded per frame
  const check = (track: typeof src.video, rate: number, per: number): void => {
    let expected = 0;
    for (let k = 0; k < 20; k++) {
      const samples: Fmp4Sample[] = Array.from({ length: per }, (_, j) => ({ dts: frame(k * per + j, rate), key: j === 0, data: Buffer.from([0, 0, 0, 1, 9]) }));
      const run: Fmp4Run = { track, samples, endDts: frame((k + 1) * per, rate) };
      const traf = readTraf(find(walk(mediaSegment(k + 1, [run])), 'moof/traf'));
      assert.equal(traf.base, expected, `segment ${k}: tfdt continues where the previous one ended`);
      assert.equal(traf.base, Math.round((samples[0]!.dts * track.timescale) / 1000), `segment ${k}: tfdt from absolute ms`);
      expected = traf.base + traf.samples.reduce((n, t) => n + t.duration, 0);
    }
  };
  check(src.video, 30, 30);
  check(src.audio, 44100 / 1024, 43);
});

test('the last sample repeats the previous duration without endDts; a lone AAC frame lasts 1024 samples', () => {
  const samples = src.videoSamples.slice(0, 3);
  const traf = readTraf(find(walk(mediaSegment(1, [{ track: src.video, samples }])), 'moof/traf'));
  assert.deepEqual(traf.samples.map((t) => t.duration), [3600, 3600, 3600], '40 ms at 90 kHz');
  const lone = readTraf(find(walk(mediaSegment(1, [{ track: src.audio, samples: src.audioSamples.slice(0, 1) }])), 'moof/traf'));
  assert.deepEqual(lone.samples.map((t) => t.duration), [1024]);
});

test('bad input throws coded errors', () => {
  const avcC = src.video.config;
  throwsCoded(() => avcTrack(1, avcC.subarray(0, 9)), 'ERR_CODEC', /AVC track config: .*need/);
  throwsCoded(() => avcTrack(1, Buffer.from([1, 0x64, 0, 0x0d, 0xff, 0xe0, 0])), 'ERR_CODEC', /no SPS/);
  throwsCoded(() => avcTrack(0, avcC), 'ERR_CODEC', /track_ID 0/);
  throwsCoded(() => aacTrack(2, Buffer.from([0x17])), 'ERR_CODEC', /AAC track config/);
  throwsCoded(() => aacTrack(2, Buffer.from([0x16, 0x88])), 'ERR_CODEC', /reserved samplingFrequencyIndex/);
  throwsCoded(() => initSegment([]), 'ERR_CODEC', /without tracks/);
  throwsCoded(() => initSegment([src.video, avcTrack(1, avcC)]), 'ERR_CODEC', /share a track_ID/);
  const v = src.videoSamples;
  throwsCoded(() => mediaSegment(1, [{ track: src.video, samples: [] }]), 'ERR_CODEC', /no samples/);
  throwsCoded(() => mediaSegment(0, [{ track: src.video, samples: v }]), 'ERR_CODEC', /sequence_number 0/);
  throwsCoded(() => mediaSegment(1, [{ track: src.video, samples: [v[1]!, v[0]!] }]), 'ERR_CODEC', /decode time goes back/);
  throwsCoded(() => mediaSegment(1, [{ track: src.video, samples: [v[0]!] }]), 'ERR_CODEC', /needs endDts/);
  throwsCoded(() => mediaSegment(1, [{ track: src.video, samples: [{ ...v[0]!, dts: -1 }] , endDts: 40 }]), 'ERR_CODEC', /dts -1/);
  throwsCoded(() => mediaSegment(1, [{ track: src.video, samples: [{ ...v[0]!, data: new Uint8Array(0) }], endDts: 999 }]), 'ERR_CODEC', /empty/);
  throwsCoded(() => mediaSegment(1, [{ track: src.video, samples: v }, { track: src.video, samples: v }]), 'ERR_CODEC', /twice/);
});
