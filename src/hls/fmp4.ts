import { SluiceError } from '../core/errors.js';
import { parseAudioSpecificConfig } from '../protocol/aac.js';
import { parseAvcDecoderConfig, parseAvcSps } from '../protocol/avc.js';
import { parseHevcDecoderConfig, parseHevcSps } from '../protocol/hevc.js';
import { parseAv1Config } from '../protocol/av1.js';
import { OPUS_RATE, opusPacketSamples, parseOpusHead } from '../protocol/opus.js';
import { box, fourCC, fullBox, serialize, u16, u32, u64, u8, type Box } from './mp4-boxes.js';

/**
 * fMP4 / CMAF segments for HLS (RFC 8216 3.3, ISO/IEC 23000-19, boxes from
 * ISO/IEC 14496-12): one init segment (ftyp + moov with empty sample tables
 * and mvex) and media segments (moof + mdat), built from what RTMP/FLV
 * carries: the AVCDecoderConfigurationRecord and AudioSpecificConfig of the
 * sequence headers, and frames with millisecond timestamps.
 */

/** A track as the init segment declares it; build with avcTrack() / aacTrack(). */
export interface Fmp4Track {
  readonly id: number;
  readonly kind: 'video' | 'audio';
  /** What the sample entry says: avc1 + avcC, hvc1 + hvcC, av01 + av1C, mp4a + esds, Opus + dOps. */
  readonly codec: 'avc' | 'hevc' | 'av1' | 'aac' | 'opus';
  /** Ticks per second of every time in this track's boxes. */
  readonly timescale: number;
  /** The codec configuration record (avcC, hvcC or av1C body), AudioSpecificConfig or OpusHead; referenced, not copied. */
  readonly config: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly sampleRate: number;
  readonly channels: number;
}

export interface Fmp4Sample {
  /** Decode time, ms (the FLV tag timestamp). */
  dts: number;
  /** Composition offset pts - dts, ms (the FLV CompositionTime); 0 when absent. */
  cts?: number;
  /** Sync sample (video keyframe); audio samples are always sync. */
  key?: boolean;
  /** Video: AVCC length-prefixed NAL units (tag body after 5 bytes); audio: one raw AAC frame (after 2). */
  data: Uint8Array;
  /** The ring record `data` is a view of, if it is one: whoever builds from it checks it was not overwritten. */
  ref?: number;
}

export interface Fmp4Run {
  track: Fmp4Track;
  /** This track's samples in this segment, in decode order. */
  samples: readonly Fmp4Sample[];
  /**
   * DTS (ms) of the sample that follows the last one (the next segment's
   * first), which gives the last sample its exact duration. Without it the
   * last sample repeats the previous duration (one AAC frame, 1024 ticks, if
   * it is the only audio sample); a lone video sample then needs it.
   */
  endDts?: number;
}

/** 90 kHz: the MPEG clock, fine enough for any frame rate's ms timestamps and what HLS tooling expects. */
export const VIDEO_TIMESCALE = 90000;
/** AAC frames hold 1024 samples (14496-3 4.5.1.1), so with timescale = sample rate one frame is 1024 ticks. */
const AAC_FRAME_TICKS = 1024;
/** 20 ms at 48 kHz: the usual Opus frame, for a packet whose TOC cannot say. */
const OPUS_FRAME_TICKS = 960;
const MAX_TRACK_ID = 0xffffffff;

function checkTrackId(id: number): void {
  if (!Number.isInteger(id) || id < 1 || id > MAX_TRACK_ID) throw new SluiceError('ERR_CODEC', `fmp4: track_ID ${id} (1..2^32-1)`);
}

/**
 * A video track from a codec configuration record: `size` reads the picture
 * size from it (and throws on a bad record); any failure is ERR_CODEC naming
 * the codec.
 */
function videoTrack(id: number, codec: 'avc' | 'hevc' | 'av1', config: Uint8Array, size: () => { width: number; height: number }): Fmp4Track {
  checkTrackId(id);
  try {
    const { width, height } = size();
    return { id, kind: 'video', codec, timescale: VIDEO_TIMESCALE, config, width, height, sampleRate: 0, channels: 0 };
  } catch (err) {
    throw new SluiceError('ERR_CODEC', `fmp4: ${codec.toUpperCase()} track config`, { cause: err });
  }
}

/** A video track from the FLV AVC sequence header's record (the body after `17 00 000000`). */
export function avcTrack(id: number, avcC: Uint8Array): Fmp4Track {
  return videoTrack(id, 'avc', avcC, () => {
    const cfg = parseAvcDecoderConfig(avcC);
    const first = cfg.sps[0];
    if (!first) throw new SluiceError('ERR_CODEC', 'avcC has no SPS');
    if (cfg.pps.length === 0) throw new SluiceError('ERR_CODEC', 'avcC has no PPS');
    return parseAvcSps(first);
  });
}

/** A video track from an HEVC sequence header's HEVCDecoderConfigurationRecord (legacy or E-RTMP 'hvc1'). */
export function hevcTrack(id: number, hvcC: Uint8Array): Fmp4Track {
  return videoTrack(id, 'hevc', hvcC, () => {
    const first = parseHevcDecoderConfig(hvcC).sps[0];
    if (!first) throw new SluiceError('ERR_CODEC', 'hvcC has no SPS');
    return parseHevcSps(first);
  });
}

/** A video track from an E-RTMP 'av01' SequenceStart's AV1CodecConfigurationRecord. */
export function av1Track(id: number, av1C: Uint8Array): Fmp4Track {
  return videoTrack(id, 'av1', av1C, () => parseAv1Config(av1C));
}

/** An audio track from the FLV AAC sequence header's AudioSpecificConfig (the body after `af 00`). */
export function aacTrack(id: number, asc: Uint8Array): Fmp4Track {
  checkTrackId(id);
  try {
    const cfg = parseAudioSpecificConfig(asc);
    return {
      // The core rate: AAC frames (and so sample durations) count core samples, also for HE-AAC.
      id, kind: 'audio', codec: 'aac', timescale: cfg.sampleRate, config: asc,
      width: 0, height: 0, sampleRate: cfg.sampleRate, channels: cfg.channels,
    };
  } catch (err) {
    throw new SluiceError('ERR_CODEC', 'fmp4: AAC track config', { cause: err });
  }
}

/** An audio track from an E-RTMP 'Opus' SequenceStart's identification header (OpusHead). */
export function opusTrack(id: number, head: Uint8Array): Fmp4Track {
  checkTrackId(id);
  try {
    const h = parseOpusHead(head);
    // Opus in ISOBMFF: timescale 48000 whatever the input rate (Opus-in-ISOBMFF 4.3).
    return { id, kind: 'audio', codec: 'opus', timescale: OPUS_RATE, config: head, width: 0, height: 0, sampleRate: OPUS_RATE, channels: h.channels };
  } catch (err) {
    throw new SluiceError('ERR_CODEC', 'fmp4: Opus track config', { cause: err });
  }
}

// ---------------------------------------------------------------------------
// Init segment
// ---------------------------------------------------------------------------

/** Unity transformation matrix (14496-12 8.2.2.3), shared by mvhd and tkhd. */
const MATRIX = u32(0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000);
/** ISO 639-2 'und' packed as three 5-bit letters minus 0x60 (mdhd language). */
const LANGUAGE_UND = 0x55c4;

/**
 * ftyp: major brand iso6 (ISO BMFF 2015+ with default-base-is-moof and
 * 64-bit tfdt, the base CMAF builds on), compatible cmfc (the CMAF
 * structural brand, ISO/IEC 23000-19 7.2) and mp41 for players that only
 * look for an MP4 brand. Apple's HLS authoring spec asks for CMAF fMP4.
 */
function ftyp(): Box {
  return box('ftyp', fourCC('iso6'), u32(0), fourCC('iso6', 'cmfc', 'mp41'));
}

function mvhd(nextTrackId: number): Box {
  // Times 0 and duration 0: a live presentation's length is unknown; mvex says fragments follow.
  return fullBox('mvhd', 0, 0, u32(0, 0, 1000, 0, 0x00010000), u16(0x0100, 0), u32(0, 0), MATRIX, u32(0, 0, 0, 0, 0, 0, nextTrackId));
}

function tkhd(t: Fmp4Track): Box {
  // flags 3 = track_enabled | track_in_movie; width/height are 16.16 fixed point.
  return fullBox(
    'tkhd', 0, 3,
    u32(0, 0, t.id, 0, 0, 0, 0), u16(0, 0, t.kind === 'audio' ? 0x0100 : 0, 0), MATRIX,
    u32(t.width * 0x10000, t.height * 0x10000),
  );
}

function hdlr(t: Fmp4Track): Box {
  const name = t.kind === 'video' ? 'VideoHandler' : 'SoundHandler';
  return fullBox('hdlr', 0, 0, u32(0), fourCC(t.kind === 'video' ? 'vide' : 'soun'), u32(0, 0, 0), new TextEncoder().encode(`${name}\0`));
}

/** Sample entry and configuration box per video codec (14496-15 5.4.2 and 8.4.1, AV1-ISOBMFF 2.2). */
const VISUAL_ENTRY = { avc: ['avc1', 'avcC'], hevc: ['hvc1', 'hvcC'], av1: ['av01', 'av1C'] } as const;

/** VisualSampleEntry (14496-12 12.1.3) carrying the codec's configuration record as it came. */
function visualEntry(t: Fmp4Track): Box {
  if (t.kind === 'audio' || t.codec === 'aac' || t.codec === 'opus') throw new SluiceError('ERR_INTERNAL', 'fmp4: an audio track has no visual sample entry');
  const [entry, config] = VISUAL_ENTRY[t.codec];
  return box(
    entry,
    u8(0, 0, 0, 0, 0, 0), u16(1), // reserved, data_reference_index 1
    u16(0, 0), u32(0, 0, 0), u16(t.width, t.height),
    u32(0x00480000, 0x00480000, 0), u16(1), // 72 dpi, reserved, frame_count 1
    new Uint8Array(32), u16(0x0018, 0xffff), // compressorname (empty), depth 24, pre_defined -1
    box(config, t.config),
  );
}

/** Expandable-length descriptor of 14496-1 8.3.3: 7 bits a byte, high bit = more follow. */
function descriptor(tag: number, ...body: Uint8Array[]): Uint8Array {
  const length = body.reduce((n, b) => n + b.length, 0);
  if (length >= 1 << 28) throw new SluiceError('ERR_LIMIT', `esds: descriptor of ${length} bytes`);
  const size: number[] = [length & 0x7f];
  for (let rest = length >>> 7; rest > 0; rest >>>= 7) size.unshift(0x80 | (rest & 0x7f));
  const out = new Uint8Array(1 + size.length + length);
  out[0] = tag;
  out.set(size, 1);
  let at = 1 + size.length;
  for (const b of body) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}

/** The configuration box of an audio track's sample entry: esds for AAC, dOps for Opus. */
function audioConfig(t: Fmp4Track): Box {
  if (t.codec === 'opus') return dOps(t.config);
  // esds (14496-14 5.6): ES_Descriptor > DecoderConfigDescriptor > ASC.
  const decoderConfig = descriptor(
    0x04,
    // objectTypeIndication 0x40 (14496-3 audio), streamType 5 (audio) << 2 | reserved 1; buffer and bitrates unknown (0).
    u8(0x40, 0x15, 0, 0, 0), u32(0, 0),
    descriptor(0x05, t.config),
  );
  // ES_ID 0 "as stored" (14496-14 3.1.2), no stream flags; SLConfig predefined 2 (reserved for MP4 files).
  const es = descriptor(0x03, u16(0), u8(0), decoderConfig, descriptor(0x06, u8(0x02)));
  return fullBox('esds', 0, 0, es);
}

/**
 * OpusSpecificBox (Opus-in-ISOBMFF 4.3.2), a plain box: the OpusHead's
 * fields without its magic, big-endian where OpusHead is little-endian.
 */
function dOps(head: Uint8Array): Box {
  const h = parseOpusHead(head);
  const mapping = h.mapping ? [u8(h.mapping.streams, h.mapping.coupled), h.mapping.table] : [];
  const gain = u16(h.outputGain & 0xffff);
  return box('dOps', u8(0, h.channels), u16(h.preSkip), u32(h.inputSampleRate), gain, u8(h.mappingFamily), ...mapping);
}

/** AudioSampleEntry (14496-12 12.2.3): 'mp4a' + esds or 'Opus' + dOps. */
function audioEntry(t: Fmp4Track): Box {
  // samplerate is 16.16 fixed point: rates above 65535 Hz cannot be written there, and the config holds the truth.
  const rate = t.sampleRate <= 0xffff ? t.sampleRate * 0x10000 : 0;
  return box(
    t.codec === 'opus' ? 'Opus' : 'mp4a',
    u8(0, 0, 0, 0, 0, 0), u16(1), u32(0, 0),
    // channelcount (2 when a program_config_element defines it), samplesize 16, pre_defined, reserved
    u16(t.channels || 2, 16, 0, 0), u32(rate),
    audioConfig(t),
  );
}

function trak(t: Fmp4Track): Box {
  const mediaHeader = t.kind === 'video'
    ? fullBox('vmhd', 0, 1, u16(0, 0, 0, 0)) // flags 1 (required); graphicsmode copy, opcolor
    : fullBox('smhd', 0, 0, u16(0, 0)); // balance centre, reserved
  const dinf = box('dinf', fullBox('dref', 0, 0, u32(1), fullBox('url ', 0, 1))); // flags 1: media in this file
  // Empty sample tables: every sample lives in a moof (14496-12 8.8.1).
  const stbl = box(
    'stbl',
    fullBox('stsd', 0, 0, u32(1), t.kind === 'video' ? visualEntry(t) : audioEntry(t)),
    fullBox('stts', 0, 0, u32(0)),
    fullBox('stsc', 0, 0, u32(0)),
    fullBox('stsz', 0, 0, u32(0, 0)),
    fullBox('stco', 0, 0, u32(0)),
  );
  const mdhd = fullBox('mdhd', 0, 0, u32(0, 0, t.timescale, 0), u16(LANGUAGE_UND, 0));
  return box('trak', tkhd(t), box('mdia', mdhd, hdlr(t), box('minf', mediaHeader, dinf, stbl)));
}

/** ftyp + moov for these tracks (no styp/sidx needed: HLS addresses segments by URI). */
export function initSegment(tracks: readonly Fmp4Track[]): Buffer {
  if (tracks.length === 0) throw new SluiceError('ERR_CODEC', 'fmp4: init segment without tracks');
  const ids = new Set(tracks.map((t) => t.id));
  if (ids.size !== tracks.length) throw new SluiceError('ERR_CODEC', 'fmp4: two tracks share a track_ID');
  const nextId = Math.max(...ids) + 1;
  // trex: sample description 1, no defaults (every trun states duration, size and flags).
  const mvex = box('mvex', ...tracks.map((t) => fullBox('trex', 0, 0, u32(t.id, 1, 0, 0, 0))));
  // next_track_ID all ones means "search for a free one" (14496-12 8.2.2.3), for a track_ID at the maximum.
  const moov = box('moov', mvhd(Math.min(nextId, MAX_TRACK_ID)), ...tracks.map(trak), mvex);
  return serialize([ftyp(), moov]);
}

// ---------------------------------------------------------------------------
// Media segment
// ---------------------------------------------------------------------------

/** trun flags (14496-12 8.8.8.1). */
const TRUN_DATA_OFFSET = 0x000001;
const TRUN_DURATION = 0x000100;
const TRUN_SIZE = 0x000200;
const TRUN_FLAGS = 0x000400;
const TRUN_CTO = 0x000800;
/** tfhd flag: data offsets count from the start of the moof (what CMAF requires). */
const TFHD_DEFAULT_BASE_IS_MOOF = 0x020000;
/** sample_flags: sample_depends_on 2 (independent); and 1 + sample_is_non_sync_sample. */
const SAMPLE_SYNC = 0x02000000;
const SAMPLE_NON_SYNC = 0x01010000;

/** Timed sample values of one run, in the track timescale, each from the absolute ms time (no drift). */
interface TimedRun {
  run: Fmp4Run;
  base: number;
  durations: number[];
  offsets: number[];
  bytes: number;
}

function time(run: Fmp4Run): TimedRun {
  const { track, samples } = run;
  const what = `fmp4: track ${track.id}`;
  if (samples.length === 0) throw new SluiceError('ERR_CODEC', `${what}: no samples`);
  const ticks = (ms: number, field: string): number => {
    if (!Number.isFinite(ms) || ms < 0) throw new SluiceError('ERR_CODEC', `${what}: ${field} ${ms} ms`);
    return Math.round((ms * track.timescale) / 1000);
  };
  const dts = samples.map((s, i) => ticks(s.dts, `sample ${i} dts`));
  const durations: number[] = [];
  for (let i = 1; i < dts.length; i++) durations.push(dts[i]! - dts[i - 1]!);
  const last = dts[dts.length - 1]!;
  if (run.endDts !== undefined) durations.push(ticks(run.endDts, 'endDts') - last);
  else if (durations.length > 0) durations.push(durations[durations.length - 1]!);
  else if (track.codec === 'opus') durations.push(opusPacketSamples(samples[0]!.data) || OPUS_FRAME_TICKS);
  else if (track.kind === 'audio') durations.push(AAC_FRAME_TICKS);
  else throw new SluiceError('ERR_CODEC', `${what}: a single video sample needs endDts for its duration`);
  const bad = durations.findIndex((d) => d < 0 || d > 0xffffffff);
  if (bad >= 0) throw new SluiceError('ERR_CODEC', `${what}: sample ${bad} lasts ${durations[bad]} ticks (decode time goes back or jumps)`);
  let bytes = 0;
  const offsets = samples.map((s, i) => {
    if (s.data.length === 0) throw new SluiceError('ERR_CODEC', `${what}: sample ${i} is empty`);
    bytes += s.data.length;
    const cts = s.cts ?? 0;
    if (!Number.isInteger(cts)) throw new SluiceError('ERR_CODEC', `${what}: sample ${i} cts ${cts}`);
    // pts rounded on its own, so the pts sequence is as drift-free as the dts one.
    const offset = ticks(s.dts + cts, `sample ${i} pts`) - dts[i]!;
    if (offset > 0x7fffffff) throw new SluiceError('ERR_CODEC', `${what}: sample ${i} cts ${cts} ms`);
    return offset;
  });
  return { run, base: dts[0]!, durations, offsets, bytes };
}

function trun(t: TimedRun, dataOffset: number): Box {
  const video = t.run.track.kind === 'video';
  const { samples } = t.run;
  const entry = video ? 16 : 12;
  const table = new Uint8Array(8 + samples.length * entry);
  const dv = new DataView(table.buffer);
  dv.setUint32(0, samples.length);
  dv.setInt32(4, dataOffset);
  samples.forEach((s, i) => {
    const at = 8 + i * entry;
    dv.setUint32(at, t.durations[i]!);
    dv.setUint32(at + 4, s.data.length);
    dv.setUint32(at + 8, !video || s.key ? SAMPLE_SYNC : SAMPLE_NON_SYNC);
    // Version 1: signed offsets, so B-frames need no edit list to start at pts = dts.
    if (video) dv.setInt32(at + 12, t.offsets[i]!);
  });
  const flags = TRUN_DATA_OFFSET | TRUN_DURATION | TRUN_SIZE | TRUN_FLAGS | (video ? TRUN_CTO : 0);
  return fullBox('trun', video ? 1 : 0, flags, table);
}

function moof(seq: number, timed: readonly TimedRun[], dataOffsets: readonly number[]): Box {
  return box(
    'moof',
    fullBox('mfhd', 0, 0, u32(seq)),
    ...timed.map((t, i) => box(
      'traf',
      fullBox('tfhd', 0, TFHD_DEFAULT_BASE_IS_MOOF, u32(t.run.track.id)),
      fullBox('tfdt', 1, 0, u64(t.base)), // version 1: 64-bit baseMediaDecodeTime, 32 bits wrap in 13 h at 90 kHz
      trun(t, dataOffsets[i]!),
    )),
  );
}

/**
 * moof + mdat for one segment: `seq` is the mfhd sequence_number (1, 2, ...
 * per fragment). mdat holds the runs' samples in the order given; each
 * trun's data_offset points at its first sample, counted from the moof.
 * No styp: HLS does not need it, and its absence keeps init + segments
 * concatenated a plain fragmented MP4.
 */
export function mediaSegment(seq: number, runs: readonly Fmp4Run[]): Buffer {
  if (!Number.isInteger(seq) || seq < 1 || seq > 0xffffffff) throw new SluiceError('ERR_CODEC', `fmp4: sequence_number ${seq}`);
  if (runs.length === 0) throw new SluiceError('ERR_CODEC', 'fmp4: media segment without tracks');
  if (new Set(runs.map((r) => r.track.id)).size !== runs.length) throw new SluiceError('ERR_CODEC', 'fmp4: a track appears twice in one segment');
  const timed = runs.map(time);
  // Box sizes do not depend on the offset values, so a first pass with zeros sizes the moof.
  const moofSize = moof(seq, timed, timed.map(() => 0)).size;
  const offsets: number[] = [];
  let at = moofSize + 8; // past the mdat header
  for (const t of timed) {
    offsets.push(at);
    at += t.bytes;
  }
  if (at > 0x7fffffff) throw new SluiceError('ERR_LIMIT', `fmp4: segment of ${at} bytes (data_offset is a signed 32-bit field)`);
  const mdat = box('mdat', ...timed.flatMap((t) => t.run.samples.map((s) => s.data)));
  return serialize([moof(seq, timed, offsets), mdat]);
}
