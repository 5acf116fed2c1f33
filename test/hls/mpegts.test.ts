/**
 * The MPEG-TS segment writer against real decoders and a small TS reader:
 * keyframe-cut segments of a real FLV (the golden fixture, and a libx264
 * clip with B-frames) and of a libx265 clip, concatenated as an HLS client
 * feeds its demuxer, probed and decoded by ffmpeg frame for frame against
 * the source; and the packets themselves read back field by field.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { aacTrack, hevcTrack, type Fmp4Run, type Fmp4Sample, type Fmp4Track } from '../../src/hls/fmp4.js';
import { AUDIO_PID, PAT_PID, PMT_PID, tsSegment, VIDEO_PID } from '../../src/hls/mpegts.js';
import { crc32Mpeg2 } from '../../src/hls/ts-psi.js';
import { parseAvcDecoderConfig } from '../../src/protocol/avc.js';
import { SluiceError } from '../../src/core/errors.js';
import { ffprobePath, makeClip, tmpFile } from '../helpers/ffmpeg.js';
import { clipPictures, enhancedClip } from '../helpers/enhanced-clip.js';
import { ffmpegMd5, track } from './ffmpeg-check.js';
import { FIXTURE, readFixture, segmentsAtKeyframes } from './flv-fixture.js';

// ---------------------------------------------------------------------------
// A small TS reader: every check that does not need a decoder.
// ---------------------------------------------------------------------------

interface ReadPes {
  pid: number;
  streamId: number;
  length: number;
  pts: number;
  dts: number;
  pcr?: number;
  randomAccess: boolean;
  payload: Buffer;
}

interface ReadTs {
  pmt: { pcrPid: number; streams: Array<[number, number]> };
  pes: ReadPes[];
  /** Adaptation-only packets (a PCR and no payload): packet index, PID, PCR base. */
  pcrOnly: Array<{ packet: number; pid: number; pcr: number }>;
}

/** A PSI section at `p` (after pointer_field): its CRC over the whole section is 0, and its body. */
function section(p: Buffer, tableId: number): Buffer {
  assert.equal(p[0], tableId, 'table_id');
  const len = p.readUInt16BE(1) & 0x0fff;
  assert.equal(crc32Mpeg2(p, 0, 3 + len), 0, `table ${tableId} CRC_32`);
  assert.equal(p.readUInt32BE(3 + len - 4), crc32Mpeg2(p, 0, 3 + len - 4));
  return p.subarray(3, 3 + len - 4);
}

function timestamp(b: Buffer, at: number, prefix: number): number {
  assert.equal(b[at]! >> 4, prefix, 'PTS/DTS prefix');
  assert.equal(b[at]! & 1 & b[at + 2]! & b[at + 4]!, 1, 'marker bits');
  return ((b[at]! >> 1) & 7) * 2 ** 30 + (b[at + 1]! << 22) + ((b[at + 2]! >> 1) << 15) + (b[at + 3]! << 7) + (b[at + 4]! >> 1);
}

/** Reads a TS stream; `cc` holds the counter each PID's next packet must have (mutated), as tsSegment's option. */
function readTs(buf: Buffer, cc: Map<number, number> = new Map()): ReadTs {
  assert.equal(buf.length % 188, 0, 'whole 188-byte packets');
  const out: ReadTs = { pmt: { pcrPid: -1, streams: [] }, pes: [], pcrOnly: [] };
  const open = new Map<number, { index: number; chunks: Buffer[]; pcr?: number; ra: boolean }>();
  const flush = (pid: number): void => {
    const o = open.get(pid);
    if (!o) return;
    const b = Buffer.concat(o.chunks);
    assert.deepEqual([...b.subarray(0, 3)], [0, 0, 1], 'packet_start_code_prefix');
    assert.equal(b[6], 0x84, 'marker, data_alignment_indicator');
    const flags = b[7]! >> 6;
    const headerLen = b[8]!;
    assert.equal(headerLen, flags === 3 ? 10 : 5);
    const pts = timestamp(b, 9, flags === 3 ? 3 : 2);
    const dts = flags === 3 ? timestamp(b, 14, 1) : pts;
    const length = b.readUInt16BE(4);
    if (length !== 0) assert.equal(length, b.length - 6, 'PES_packet_length is the real length');
    out.pes[o.index] = ({ pid, streamId: b[3]!, length, pts, dts, pcr: o.pcr, randomAccess: o.ra, payload: b.subarray(9 + headerLen) });
    open.delete(pid);
  };
  for (let i = 0; i < buf.length / 188; i++) {
    const p = buf.subarray(i * 188, i * 188 + 188);
    assert.equal(p[0], 0x47, `packet ${i} sync byte`);
    const start = (p[1]! & 0x40) !== 0;
    const pid = p.readUInt16BE(1) & 0x1fff;
    const afc = p[3]! >> 4 & 3;
    const c = p[3]! & 0x0f;
    const want = cc.get(pid) ?? 0;
    if (afc & 1) {
      assert.equal(c, want, `packet ${i} PID ${pid} continuity_counter`);
      cc.set(pid, (c + 1) & 15);
    } else assert.equal(c, (want + 15) & 15, `packet ${i}: an adaptation-only packet repeats the counter`);
    let at = 4;
    let pcr: number | undefined;
    let ra = false;
    if (afc & 2) {
      const len = p[4]!;
      if (len > 0) {
        const f = p[5]!;
        ra = (f & 0x40) !== 0;
        let s = 6;
        if (f & 0x10) {
          pcr = p.readUInt32BE(6) * 2 + (p[10]! >> 7);
          assert.equal(p.readUInt16BE(10) & 0x1ff, 0, 'PCR extension 0');
          s = 12;
        }
        assert.ok(p.subarray(s, 5 + len).every((x) => x === 0xff), `packet ${i}: adaptation-field stuffing is 0xff`);
      }
      at = 5 + len;
      if (!(afc & 1)) {
        assert.equal(at, 188, 'adaptation-only packets are all adaptation field');
        assert.ok(pcr !== undefined, 'an adaptation-only packet carries a PCR');
        out.pcrOnly.push({ packet: i, pid, pcr });
        continue;
      }
    }
    const payload = p.subarray(at);
    if (pid === PAT_PID || pid === PMT_PID) {
      assert.ok(start, 'PSI in one packet');
      assert.equal(payload[0], 0, 'pointer_field');
      const s = section(payload.subarray(1), pid === PAT_PID ? 0 : 2);
      assert.ok(payload.subarray(1 + 3 + s.length + 4).every((x) => x === 0xff), 'PSI fill');
      if (pid === PAT_PID) assert.deepEqual([...s], [0, 1, 0xc1, 0, 0, 0, 1, 0xe0 | (PMT_PID >> 8), PMT_PID & 0xff], 'PAT: program 1 -> PMT PID');
      else {
        out.pmt.pcrPid = s.readUInt16BE(5) & 0x1fff;
        out.pmt.streams = [];
        for (let k = 9 + (s.readUInt16BE(7) & 0xfff); k < s.length; k += 5 + (s.readUInt16BE(k + 3) & 0xfff)) {
          out.pmt.streams.push([s[k]!, s.readUInt16BE(k + 1) & 0x1fff]);
        }
      }
      continue;
    }
    if (start) {
      flush(pid);
      open.set(pid, { index: out.pes.length, chunks: [], pcr, ra });
      out.pes.length++; // filled in when the PES ends: pes[] is in order of PES starts
    } else assert.equal(pcr, undefined, `packet ${i}: PCR only at a PES start`);
    open.get(pid)!.chunks.push(Buffer.from(payload));
  }
  for (const pid of [...open.keys()]) flush(pid);
  return out;
}

/** ADTS frames of a PES payload: header fields checked, raw frames returned. */
function adtsFrames(b: Buffer, header: { profile: number; sfi: number; channels: number }): Buffer[] {
  const frames: Buffer[] = [];
  for (let at = 0; at < b.length; ) {
    assert.equal(b.readUInt16BE(at) & 0xfff6, 0xfff0, 'ADTS syncword, MPEG-4, layer 0');
    assert.equal(b[at + 1]! & 1, 1, 'protection_absent');
    assert.deepEqual({ profile: b[at + 2]! >> 6, sfi: (b[at + 2]! >> 2) & 15, channels: ((b[at + 2]! & 1) << 2) | (b[at + 3]! >> 6) }, header);
    const len = ((b[at + 3]! & 3) << 11) | (b[at + 4]! << 3) | (b[at + 5]! >> 5);
    frames.push(b.subarray(at + 7, at + len));
    at += len;
  }
  return frames;
}

/** What an H.264 access unit should be: AUD, SPS and PPS before a keyframe, then the NALs, 4-byte start codes. */
function annexB(avcC: Uint8Array, s: Fmp4Sample): Buffer {
  const cfg = parseAvcDecoderConfig(avcC);
  const sc = [0, 0, 0, 1];
  const parts: Uint8Array[] = [Buffer.from([...sc, 0x09, 0xf0])];
  if (s.key) for (const n of [...cfg.sps, ...cfg.pps]) parts.push(Buffer.from(sc), n);
  const d = Buffer.from(s.data.buffer, s.data.byteOffset, s.data.length);
  for (let at = 0; at < d.length; ) {
    const n = d.readUIntBE(at, cfg.nalLengthSize);
    parts.push(Buffer.from(sc), d.subarray(at + cfg.nalLengthSize, at + cfg.nalLengthSize + n));
    at += cfg.nalLengthSize + n;
  }
  return Buffer.concat(parts);
}

// ---------------------------------------------------------------------------
// Sources
// ---------------------------------------------------------------------------

async function sources(): Promise<Array<{ name: string; flv: string }>> {
  const clip = await makeClip({ seconds: 2, fps: 25, gop: 10, width: 160, height: 120 });
  return [{ name: 'fixture', flv: FIXTURE }, { name: 'bframes', flv: clip.file }];
}

/** Segments of an FLV as TS, continuity chained; and the concatenation from segment `from` written to a file. */
function writeTs(name: string, flv: string, from = 0): { file: string; segments: Fmp4Run[][]; ts: Buffer[] } {
  const segments = segmentsAtKeyframes(readFixture(flv));
  const continuity = new Map<number, number>();
  const ts = segments.map((runs) => tsSegment(runs, { continuity }));
  const file = tmpFile(`${name}.ts`);
  writeFileSync(file, Buffer.concat(ts.slice(from)));
  return { file, segments, ts };
}

interface ProbeStream {
  codec_type: string;
  codec_name: string;
  width?: number;
  height?: number;
  sample_rate?: string;
  channels?: number;
}

function probe(file: string): Promise<ProbeStream[]> {
  return new Promise((resolve, reject) => {
    const args = ['-v', 'error', '-show_entries', 'stream=codec_type,codec_name,width,height,sample_rate,channels', '-of', 'json', file];
    execFile(ffprobePath, args, { timeout: 10_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`ffprobe: ${err.message} ${stderr}`)) : resolve(JSON.parse(stdout).streams),
    );
  });
}

/** ffprobe -count_packets: packets the demuxer reads per stream, as [type, count]. */
function packetCounts(file: string): Promise<Array<[string, number]>> {
  return new Promise((resolve, reject) => {
    const args = ['-v', 'error', '-count_packets', '-show_entries', 'stream=codec_type,nb_read_packets', '-of', 'json', file];
    execFile(ffprobePath, args, { timeout: 10_000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`ffprobe: ${err.message} ${stderr}`));
      const streams = JSON.parse(stdout).streams as Array<{ codec_type: string; nb_read_packets: string }>;
      resolve(streams.map((s): [string, number] => [s.codec_type, Number(s.nb_read_packets)]).sort());
    });
  });
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

test('ffprobe sees one h264 160x120 and one aac stream of the source rate and channels in the TS', { timeout: 30_000 }, async () => {
  for (const [{ name, flv }, channels] of (await sources()).map((s, i) => [s, i === 0 ? 2 : 1] as const)) {
    const { file, segments } = writeTs(`probe-${name}`, flv);
    assert.ok(segments.length >= 2, `${name}: ${segments.length} segments`);
    const streams = (await probe(file)).map((s) => [s.codec_type, s.codec_name, s.width, s.height, s.sample_rate, s.channels]);
    assert.deepEqual(streams.sort(), [
      ['audio', 'aac', undefined, undefined, '44100', channels],
      ['video', 'h264', 160, 120, undefined, undefined],
    ], name);
  }
});

test('ffmpeg decodes the TS without errors into the FLV\'s pictures and sound, frame for frame', { timeout: 30_000 }, async () => {
  for (const { name, flv } of await sources()) {
    const { file } = writeTs(`decode-${name}`, flv);
    for (const [kind, map] of [['video', '0:v'], ['audio', '0:a']] as const) {
      const [ts, ref] = await Promise.all([ffmpegMd5(file, ['-map', map]), ffmpegMd5(flv, ['-map', map])]);
      assert.equal(ts.errors, '', `${name} ${kind}: no demuxer or decoder complaints`);
      const got = track(ts.md5, kind).frames;
      const want = track(ref.md5, kind).frames;
      assert.ok(want.length > 5, `${name} ${kind}: the source decodes`);
      assert.deepEqual(got, want, `${name} ${kind}: decoded frames (size, md5)`);
    }
    // Packets as the demuxers read them: one AAC packet per FLV audio tag, one video packet per frame.
    const [tsCount, flvCount] = await Promise.all([packetCounts(file), packetCounts(flv)]);
    assert.deepEqual(tsCount, flvCount, `${name}: packets per stream`);
  }
});

test('a player joining at the third TS segment decodes the FLV\'s pictures from that keyframe on', { timeout: 30_000 }, async () => {
  const clip = (await sources())[1]!;
  const { file } = writeTs('join', clip.flv, 2);
  const [ts, ref] = await Promise.all([ffmpegMd5(file, ['-map', '0:v']), ffmpegMd5(clip.flv, ['-map', '0:v'])]);
  assert.equal(ts.errors, '');
  assert.deepEqual(track(ts.md5, 'video').frames, track(ref.md5, 'video').frames.slice(20));
});

test('TS structure: packets, continuity across chained segments, PSI CRCs, PES times and payloads, PCR', async () => {
  for (const { name, flv } of await sources()) {
    const { segments, ts } = writeTs(`struct-${name}`, flv);
    const cc = new Map<number, number>();
    segments.forEach((runs, i) => {
      const what = `${name} segment ${i}`;
      const r = readTs(ts[i]!, cc); // one map across segments: counters continue
      assert.deepEqual(r.pmt, { pcrPid: VIDEO_PID, streams: [[0x1b, VIDEO_PID], [0x0f, AUDIO_PID]] }, `${what}: PMT`);
      const [vrun, arun] = runs as [Fmp4Run, Fmp4Run];
      const v = r.pes.filter((p) => p.pid === VIDEO_PID);
      const a = r.pes.filter((p) => p.pid === AUDIO_PID);
      // Video: one PES per frame with the sample's times, the expected access unit, PCR = DTS.
      assert.equal(v.length, vrun.samples.length, `${what}: a PES per frame`);
      v.forEach((p, k) => {
        const s = vrun.samples[k]!;
        assert.equal(p.streamId, 0xe0);
        assert.equal(p.length, 0, 'video PES_packet_length 0');
        assert.equal(p.dts, s.dts * 90, `${what} frame ${k}: DTS`);
        assert.equal(p.pts - p.dts, (s.cts ?? 0) * 90, `${what} frame ${k}: PTS - DTS = cts`);
        assert.equal(p.pcr, p.dts, `${what} frame ${k}: PCR on the PES, at its DTS`);
        assert.equal(p.randomAccess, !!s.key, `${what} frame ${k}: random_access_indicator`);
        assert.ok(p.payload.equals(annexB(vrun.track.config, s)), `${what} frame ${k}: AUD [+ SPS PPS] + Annex B NALs`);
      });
      assert.ok(vrun.samples[0]!.key && v[0]!.pcr !== undefined, `${what}: PCR on the first keyframe PES`);
      assert.equal(r.pcrOnly.length, 0, `${what}: the segment opens with video`);
      // Audio: grouped frames, PTS of the first, every raw frame back in order.
      assert.ok(a.length < arun.samples.length, `${what}: ${arun.samples.length} AAC frames in ${a.length} PES`);
      const frames = a.flatMap((p) => {
        assert.equal(p.streamId, 0xc0);
        assert.notEqual(p.length, 0, 'audio PES_packet_length is set');
        assert.equal(p.pcr, undefined);
        assert.ok(p.payload.length <= 2930, 'audio PES payload bound');
        return adtsFrames(p.payload, { profile: 1, sfi: 4, channels: name === 'fixture' ? 2 : 1 });
      });
      assert.deepEqual(frames.map((f) => f.toString('hex')), arun.samples.map((s) => Buffer.from(s.data).toString('hex')), `${what}: AAC frames`);
      let k = 0;
      for (const p of a) {
        assert.equal(p.pts, arun.samples[k]!.dts * 90, `${what}: audio PES PTS is its first frame's`);
        k += adtsFrames(p.payload, { profile: 1, sfi: 4, channels: name === 'fixture' ? 2 : 1 }).length;
      }
      // Interleaved by DTS.
      const order = r.pes.map((p) => p.dts);
      assert.deepEqual(order, [...order].sort((x, y) => x - y), `${what}: PES in DTS order`);
    });
    // Unchained, each segment starts every counter at 0.
    const fresh = tsSegment(segments[1]!);
    readTs(fresh);
  }
});

test('continuity counters start where the caller says and come back advanced', () => {
  const runs = segmentsAtKeyframes(readFixture())[0]!;
  const continuity = new Map([[PAT_PID, 7], [PMT_PID, 15], [VIDEO_PID, 14], [AUDIO_PID, 3]]);
  const ts = tsSegment(runs, { continuity });
  const check = new Map([[PAT_PID, 7], [PMT_PID, 15], [VIDEO_PID, 14], [AUDIO_PID, 3]]);
  readTs(ts, check); // asserts every packet's counter from these starting values
  assert.deepEqual([...continuity].sort(), [...check].sort(), 'returned counters are the next ones to use');
  assert.deepEqual([continuity.get(PAT_PID), continuity.get(PMT_PID)], [8, 0]);
  // The next segment continues from them.
  readTs(tsSegment(segmentsAtKeyframes(readFixture())[1]!, { continuity }), check);
});

test('a segment that opens with audio gets a PCR-only packet on the video PID first', () => {
  const segs = segmentsAtKeyframes(readFixture());
  const [v, a] = segs[1] as [Fmp4Run, Fmp4Run];
  const prev = segs[0]![1]!.samples;
  const early: Fmp4Run = { ...a, samples: [prev[prev.length - 1]!, ...a.samples] };
  const r = readTs(tsSegment([v, early]));
  assert.equal(r.pes[0]!.pid, AUDIO_PID);
  assert.deepEqual(r.pcrOnly, [{ packet: 2, pid: VIDEO_PID, pcr: prev[prev.length - 1]!.dts * 90 }]);
  assert.equal(r.pes.find((p) => p.pid === VIDEO_PID)!.pcr, v.samples[0]!.dts * 90);
});

test('audio-only segments carry the PCR on the audio PID', () => {
  const [, a] = segmentsAtKeyframes(readFixture())[0] as [Fmp4Run, Fmp4Run];
  const r = readTs(tsSegment([a]));
  assert.deepEqual(r.pmt, { pcrPid: AUDIO_PID, streams: [[0x0f, AUDIO_PID]] });
  assert.ok(r.pes.length > 0 && r.pes.every((p) => p.pcr === p.pts && p.randomAccess));
});

test('2-byte NAL lengths (avcC lengthSizeMinusOne 1) give the same TS as 4-byte ones', () => {
  const runs = segmentsAtKeyframes(readFixture())[0]!;
  const [v, a] = runs as [Fmp4Run, Fmp4Run];
  const config = Buffer.from(v.track.config);
  config[4] = 0xfd;
  const track2: Fmp4Track = { ...v.track, config };
  const samples = v.samples.map((s) => {
    const d = Buffer.from(s.data);
    const parts: Buffer[] = [];
    for (let at = 0; at < d.length; at += 4 + d.readUInt32BE(at)) {
      const n = d.readUInt32BE(at);
      const len = Buffer.alloc(2);
      len.writeUInt16BE(n);
      parts.push(len, d.subarray(at + 4, at + 4 + n));
    }
    return { ...s, data: Buffer.concat(parts) };
  });
  const four = tsSegment(runs);
  const two = tsSegment([{ ...v, track: track2, samples }, a]);
  assert.ok(two.equals(four));
});

test('HEVC: ffprobe sees hevc and ffmpeg decodes the x265 clip\'s pictures from the TS', { timeout: 120_000 }, async () => {
  const clip = await enhancedClip('hevc', 2, 25, 10);
  const track = hevcTrack(1, clip.track.config);
  const samples: Fmp4Sample[] = clip.track.samples.map((s) => ({ dts: s.dts, cts: s.cts, key: s.key, data: s.data }));
  const cuts = samples.flatMap((s, i) => (s.key ? [i] : []));
  assert.ok(cuts.length >= 2, 'several GOPs');
  const continuity = new Map<number, number>();
  const cc = new Map<number, number>();
  const ts = cuts.map((from, k) => {
    const to = cuts[k + 1] ?? samples.length;
    const seg = tsSegment([{ track, samples: samples.slice(from, to) }], { continuity });
    const r = readTs(seg, cc);
    assert.deepEqual(r.pmt, { pcrPid: VIDEO_PID, streams: [[0x24, VIDEO_PID]] });
    r.pes.forEach((p, i) => {
      const s = samples[from + i]!;
      assert.equal(p.pts - p.dts, s.cts! * 90, 'PTS - DTS = cts');
      assert.deepEqual([...p.payload.subarray(0, 7)], [0, 0, 0, 1, 0x46, 0x01, 0x50], 'HEVC AUD first');
      if (s.key) assert.deepEqual([...p.payload.subarray(7, 12)], [0, 0, 0, 1, 0x40], 'VPS after the AUD of a keyframe');
    });
    return seg;
  });
  const file = tmpFile('hevc.ts');
  writeFileSync(file, Buffer.concat(ts));
  const streams = await probe(file);
  assert.deepEqual(streams.map((s) => [s.codec_type, s.codec_name, s.width, s.height]), [['video', 'hevc', 160, 120]]);
  const [got, want] = await Promise.all([ffmpegMd5(file, ['-map', '0:v']), clipPictures(clip)]);
  assert.equal(got.errors, '');
  assert.deepEqual(track0(got.md5), want);
});

function track0(md5: Awaited<ReturnType<typeof ffmpegMd5>>['md5']): string[] {
  return track(md5, 'video').frames.map((f) => f.split(' ')[1]!);
}

test('PTS, DTS and PCR wrap at 33 bits (26.5 h of 90 kHz)', () => {
  const [v] = segmentsAtKeyframes(readFixture())[0] as [Fmp4Run];
  const base = 95_443_700; // ms: 90 x base = 2^33 - 1592
  const samples = v.samples.map((s) => ({ ...s, dts: s.dts + base }));
  const r = readTs(tsSegment([{ ...v, samples }]));
  r.pes.forEach((p, i) => {
    const s = samples[i]!;
    assert.equal(p.dts, (s.dts * 90) % 2 ** 33, `frame ${i} DTS`);
    assert.equal(p.pts, ((s.dts + s.cts!) * 90) % 2 ** 33, `frame ${i} PTS`);
    assert.equal(p.pcr, p.dts, `frame ${i} PCR`);
  });
  assert.ok(r.pes.some((p) => p.dts > 2 ** 32) && r.pes.some((p) => p.pts < p.dts), 'past 2^32, and PTS wrapped before DTS');
});

test('AV1 is refused with ERR_CODEC', () => {
  const av1: Fmp4Track = { id: 1, kind: 'video', codec: 'av1', timescale: 90000, config: new Uint8Array([0x81, 0, 0, 0]), width: 160, height: 120, sampleRate: 0, channels: 0 };
  assert.throws(
    () => tsSegment([{ track: av1, samples: [{ dts: 0, key: true, data: new Uint8Array(10) }] }]),
    (err: unknown) => err instanceof SluiceError && err.code === 'ERR_CODEC' && /AV1/.test(err.message),
  );
  const opus: Fmp4Track = { ...av1, kind: 'audio', codec: 'opus', timescale: 48000, sampleRate: 48000, channels: 2 };
  assert.throws(() => tsSegment([{ track: opus, samples: [{ dts: 0, data: new Uint8Array(10) }] }]), (err: unknown) => err instanceof SluiceError && err.code === 'ERR_CODEC');
});

test('HE-AAC (explicit SBR signalling) is written as ADTS LC at the core rate', () => {
  const heaac = aacTrack(2, Buffer.from('2b118800', 'hex')); // AOT 5, core 24000 Hz, 2 ch, SBR to 48000 Hz
  const frames = [{ dts: 0, data: Buffer.alloc(100, 1) }, { dts: 43, data: Buffer.alloc(120, 2) }];
  const r = readTs(tsSegment([{ track: heaac, samples: frames }]));
  assert.deepEqual(adtsFrames(r.pes[0]!.payload, { profile: 1, sfi: 6, channels: 2 }), frames.map((f) => f.data));
});

test('bad input is ERR_CODEC: no runs, a NAL overrunning its sample, two video tracks', () => {
  const [v] = segmentsAtKeyframes(readFixture())[0] as [Fmp4Run];
  const isCodec = (err: unknown): boolean => err instanceof SluiceError && err.code === 'ERR_CODEC';
  assert.throws(() => tsSegment([]), isCodec);
  const bad = { ...v, samples: [{ ...v.samples[0]!, data: Uint8Array.of(0, 0, 0, 9, 0x65, 1) }] };
  assert.throws(() => tsSegment([bad]), isCodec);
  assert.throws(() => tsSegment([v, { ...v, track: { ...v.track, id: 3 } }]), isCodec);
});
