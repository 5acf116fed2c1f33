import { describeError, SluiceError } from '../core/errors.js';
import { AAC_SAMPLE_RATES, parseAudioSpecificConfig } from '../protocol/aac.js';
import { parseAvcDecoderConfig } from '../protocol/avc.js';
import { parseHevcDecoderConfig } from '../protocol/hevc.js';
import type { Fmp4Run, Fmp4Sample, Fmp4Track } from './fmp4.js';
import { AUDIO_PID, PAT_PID, PMT_PID, StreamType, TS_PACKET_SIZE, VIDEO_PID, writePat, writePmt } from './ts-psi.js';

export { AUDIO_PID, PAT_PID, PMT_PID, VIDEO_PID } from './ts-psi.js';

/**
 * MPEG-2 transport stream segments (ISO/IEC 13818-1) for HLS clients that
 * predate fMP4 (RFC 8216 3.2), from the same runs fmp4.ts mediaSegment
 * takes. Each segment stands alone: PAT, PMT, then one PES per video
 * frame and per group of AAC frames, interleaved by DTS. H.264 / HEVC
 * become Annex B access units (AUD first, parameter sets before every
 * keyframe); AAC frames get ADTS headers. AV1 and Opus are refused: HLS
 * carries them in fMP4 only. PCR equals the DTS of the PES carrying it (no
 * T-STD buffering lead): HLS players time by PTS and ignore PCR pacing.
 */

export interface TsSegmentOptions {
  /**
   * Continuity counters by PID: the value the next packet of that PID gets
   * (absent = 0). Read at the start and overwritten with the next values at
   * the end, so passing one Map to consecutive calls keeps the counters
   * continuous across segments (PAT_PID, PMT_PID, VIDEO_PID, AUDIO_PID).
   */
  continuity?: Map<number, number>;
  /**
   * Every track of the stream, for the PMT and the PCR PID: a part that
   * happens to hold no sample of one must still declare it (one PMT
   * version per segment, 13818-1 2.4.4.9). Default: the runs' tracks.
   */
  tracks?: readonly Fmp4Track[];
}

/** Why MPEG-TS cannot carry these tracks (codec, or a config ADTS / Annex B cannot express), or undefined when it can. */
export function tsRefusal(tracks: readonly Fmp4Track[]): string | undefined {
  try {
    for (const t of tracks) trackInfo(t);
    return undefined;
  } catch (err) {
    return describeError(err);
  }
}

const TS_PAYLOAD = TS_PACKET_SIZE - 4;
/** 33-bit PTS / DTS / PCR base wrap (13818-1 2.4.3.7). */
const WRAP = 2 ** 33;
/** Adaptation field bytes carrying a PCR: length, flags, 6 bytes program_clock_reference. */
const PCR_AF = 8;
const AF_PCR = 0x10;
const AF_RANDOM_ACCESS = 0x40;
/**
 * AAC frames per PES: like ffmpeg's mpegts muxer, group frames until the
 * PES payload would pass 2930 bytes (its default pes_payload_size: 16 TS
 * packets' worth), which keeps the PES header and last-packet stuffing
 * near 3 % instead of ~22 % for one 300-byte frame per PES. The duration
 * bound (ffmpeg uses max_delay 0.7 s) is tighter here so audio never runs
 * more than ~150 ms ahead of the video it is interleaved with, even at low
 * bitrates where 2930 bytes would be most of a second.
 */
const AUDIO_PES_MAX_BYTES = 2930;
const AUDIO_PES_MAX_MS = 150;
const ADTS_HEADER = 7;
const ADTS_MAX_FRAME = 0x1fff;

const START = Uint8Array.of(0, 0, 0, 1);

interface VideoInfo {
  kind: 'video';
  pid: number;
  streamType: number;
  nalLengthSize: number;
  /** NAL unit type of a byte-0 (H.264) / 2-byte (HEVC) header. */
  nalType: (b0: number) => number;
  audType: number;
  /** Start code + AUD: H.264 primary_pic_type 7 (any); HEVC pic_type 2 (I, P, B), nuh_temporal_id_plus1 1. */
  aud: Uint8Array;
  /** Types that, all present in a sample, mean it carries its own parameter sets. */
  paramTypes: readonly number[];
  /** Start code + NAL of each parameter set from the record, in decoding order (VPS, SPS, PPS). */
  paramSets: Uint8Array[];
  paramBytes: number;
}

interface AudioInfo {
  kind: 'audio';
  pid: number;
  streamType: number;
  /** ADTS fixed header and buffer fullness 0x7ff; frame_length is or-ed in per frame. */
  adts: Uint8Array;
}

type TrackInfo = VideoInfo | AudioInfo;

const infos = new WeakMap<Fmp4Track, TrackInfo>();

function videoInfo(codec: 'avc' | 'hevc', config: Uint8Array): VideoInfo {
  const hevc = codec === 'hevc';
  const rec = hevc ? parseHevcDecoderConfig(config) : { ...parseAvcDecoderConfig(config), vps: [] };
  if (rec.sps.length === 0 || rec.pps.length === 0) throw new SluiceError('ERR_CODEC', `${codec} config has no SPS or PPS`);
  const paramSets = [...rec.vps, ...rec.sps, ...rec.pps].map((nal) => Buffer.concat([START, nal]));
  return {
    kind: 'video',
    pid: VIDEO_PID,
    streamType: hevc ? StreamType.Hevc : StreamType.Avc,
    nalLengthSize: rec.nalLengthSize,
    nalType: hevc ? (b0) => (b0 >> 1) & 0x3f : (b0) => b0 & 0x1f,
    audType: hevc ? 35 : 9,
    aud: hevc ? Uint8Array.of(0, 0, 0, 1, 0x46, 0x01, 0x50) : Uint8Array.of(0, 0, 0, 1, 0x09, 0xf0),
    paramTypes: hevc ? [32, 33, 34] : [7, 8],
    paramSets,
    paramBytes: paramSets.reduce((n, p) => n + p.length, 0),
  };
}

function audioInfo(asc: Uint8Array): AudioInfo {
  const cfg = parseAudioSpecificConfig(asc);
  // ADTS profile is the core object type - 1 (Main, LC, SSR, LTP); HE-AAC rides as LC with implicit SBR.
  const profile = cfg.coreObjectType - 1;
  if (profile < 0 || profile > 3) throw new SluiceError('ERR_CODEC', `AAC object type ${cfg.coreObjectType} has no ADTS profile`);
  const sfi = (AAC_SAMPLE_RATES as readonly number[]).indexOf(cfg.sampleRate);
  if (sfi < 0) throw new SluiceError('ERR_CODEC', `AAC sample rate ${cfg.sampleRate} has no ADTS sampling_frequency_index`);
  const ch = cfg.channelConfig;
  if (ch < 1 || ch > 7) throw new SluiceError('ERR_CODEC', `AAC channelConfiguration ${ch} (a PCE) is not written to ADTS here`);
  // syncword, MPEG-4, layer 0, protection_absent 1 | profile, sfi, private 0, channels | ... | fullness 0x7ff, 1 raw block.
  const adts = Uint8Array.of(0xff, 0xf1, (profile << 6) | (sfi << 2) | (ch >> 2), (ch & 3) << 6, 0x00, 0x1f, 0xfc);
  return { kind: 'audio', pid: AUDIO_PID, streamType: StreamType.Aac, adts };
}

function trackInfo(track: Fmp4Track): TrackInfo {
  let info = infos.get(track);
  if (info) return info;
  const { codec } = track;
  if (codec !== 'avc' && codec !== 'hevc' && codec !== 'aac') {
    // AV1 and Opus have TS mappings outside 13818-1 that HLS does not use: those streams are fMP4-only.
    throw new SluiceError('ERR_CODEC', `mpegts: ${codec === 'av1' ? 'AV1' : codec} is not carried in MPEG-TS here (HLS carries it in fMP4 only)`);
  }
  try {
    info = codec === 'aac' ? audioInfo(track.config) : videoInfo(codec, track.config);
  } catch (err) {
    throw new SluiceError('ERR_CODEC', `mpegts: track ${track.id} ${track.codec.toUpperCase()} config`, { cause: err });
  }
  infos.set(track, info);
  return info;
}

/** One PES to packetize: its header fields and the pieces its payload is made of, in order. */
interface Pes {
  pid: number;
  streamId: number;
  dts: number;
  /** 90 kHz, already wrapped. */
  pts90: number;
  dts90: number;
  pieces: Uint8Array[];
  payload: number;
  /** Bytes of the PES header: 14 with PTS, 19 with PTS and DTS. */
  header: number;
  key: boolean;
  pcr: boolean;
}

function clock(ms: number): number {
  return Math.round(ms * 90) % WRAP;
}

function checkSample(s: Fmp4Sample, what: string): void {
  if (!Number.isFinite(s.dts) || s.dts < 0) throw new SluiceError('ERR_CODEC', `${what}: dts ${s.dts} ms`);
  const cts = s.cts ?? 0;
  if (!Number.isInteger(cts) || s.dts + cts < 0) throw new SluiceError('ERR_CODEC', `${what}: cts ${cts} ms`);
  if (s.data.length === 0) throw new SluiceError('ERR_CODEC', `${what}: empty`);
}

function videoPes(v: VideoInfo, s: Fmp4Sample, what: string): Pes {
  checkSample(s, what);
  const { data } = s;
  const n = v.nalLengthSize;
  const nals: Uint8Array[] = [];
  let seen = 0;
  for (let pos = 0; pos < data.length; ) {
    if (pos + n > data.length) throw new SluiceError('ERR_CODEC', `${what}: truncated NAL length at byte ${pos}`);
    let len = 0;
    for (let k = 0; k < n; k++) len = len * 256 + data[pos + k]!;
    pos += n;
    if (len === 0 || pos + len > data.length) throw new SluiceError('ERR_CODEC', `${what}: NAL of ${len} bytes at byte ${pos - n} overruns the sample`);
    const nal = data.subarray(pos, pos + len);
    const i = v.paramTypes.indexOf(v.nalType(nal[0]!));
    if (i >= 0) seen |= 1 << i;
    nals.push(nal);
    pos += len;
  }
  // AUD first (its own if the sample leads with one), then the record's parameter sets before a keyframe.
  const ownAud = v.nalType(nals[0]![0]!) === v.audType;
  const pieces: Uint8Array[] = ownAud ? [START, nals[0]!] : [v.aud];
  let payload = ownAud ? 4 + nals[0]!.length : v.aud.length;
  if (s.key && seen !== (1 << v.paramTypes.length) - 1) {
    pieces.push(...v.paramSets);
    payload += v.paramBytes;
  }
  for (let i = ownAud ? 1 : 0; i < nals.length; i++) {
    pieces.push(START, nals[i]!);
    payload += 4 + nals[i]!.length;
  }
  const dts90 = clock(s.dts);
  const pts90 = clock(s.dts + (s.cts ?? 0));
  return { pid: v.pid, streamId: 0xe0, dts: s.dts, pts90, dts90, pieces, payload, header: pts90 === dts90 ? 14 : 19, key: !!s.key, pcr: false };
}

/** Groups of consecutive AAC frames, one PES each (see AUDIO_PES_MAX_BYTES); `scratch` holds their ADTS headers. */
function audioPes(a: AudioInfo, samples: readonly Fmp4Sample[], what: string): Pes[] {
  const scratch = Buffer.allocUnsafe(samples.length * ADTS_HEADER);
  const out: Pes[] = [];
  let cur: Pes | undefined;
  samples.forEach((s, i) => {
    checkSample(s, `${what} sample ${i}`);
    const frame = ADTS_HEADER + s.data.length;
    if (frame > ADTS_MAX_FRAME) throw new SluiceError('ERR_CODEC', `${what} sample ${i}: AAC frame of ${s.data.length} bytes is too long for ADTS`);
    const h = scratch.subarray(i * ADTS_HEADER, (i + 1) * ADTS_HEADER);
    h.set(a.adts);
    h[3]! |= frame >> 11;
    h[4] = (frame >> 3) & 0xff;
    h[5]! |= (frame & 7) << 5;
    if (!cur || cur.payload + frame > AUDIO_PES_MAX_BYTES || s.dts - cur.dts >= AUDIO_PES_MAX_MS) {
      const t = clock(s.dts + (s.cts ?? 0));
      cur = { pid: a.pid, streamId: 0xc0, dts: s.dts, pts90: t, dts90: t, pieces: [], payload: 0, header: 14, key: true, pcr: false };
      out.push(cur);
    }
    cur.pieces.push(h, s.data);
    cur.payload += frame;
  });
  return out;
}

/** PTS or DTS: 4-bit prefix, then 33 bits in 3 / 15 / 15 with marker bits (13818-1 2.4.3.7). */
function writeTimestamp(out: Buffer, at: number, prefix: number, t: number): void {
  const hi = Math.floor(t / 2 ** 30); // bits 32..30
  const lo = t % 2 ** 30;
  out[at] = (prefix << 4) | (hi << 1) | 1;
  out[at + 1] = lo >>> 22;
  out[at + 2] = ((lo >>> 14) & 0xfe) | 1;
  out[at + 3] = (lo >>> 7) & 0xff;
  out[at + 4] = ((lo << 1) & 0xfe) | 1;
}

/** program_clock_reference: 33-bit base (90 kHz), 6 reserved bits, 9-bit extension 0. */
function writePcr(out: Buffer, at: number, base: number): void {
  out.writeUInt32BE(Math.floor(base / 2), at);
  out[at + 4] = ((base % 2) << 7) | 0x7e;
  out[at + 5] = 0;
}

function writePesHeader(out: Buffer, at: number, p: Pes): void {
  out[at] = 0;
  out[at + 1] = 0;
  out[at + 2] = 1;
  out[at + 3] = p.streamId;
  // PES_packet_length counts what follows it; 0 (unbounded) for video, and whenever it would not fit.
  const length = p.header - 6 + p.payload;
  out.writeUInt16BE(p.streamId === 0xe0 || length > 0xffff ? 0 : length, at + 4);
  out[at + 6] = 0x84; // '10', not scrambled, data_alignment_indicator
  const both = p.header === 19;
  out[at + 7] = both ? 0xc0 : 0x80;
  out[at + 8] = p.header - 9;
  writeTimestamp(out, at + 9, both ? 3 : 2, p.pts90);
  if (both) writeTimestamp(out, at + 14, 1, p.dts90);
}

function packetsOf(p: Pes): number {
  const first = TS_PAYLOAD - (p.pcr ? PCR_AF : 0);
  const rest = p.header + p.payload - first;
  return rest <= 0 ? 1 : 1 + Math.ceil(rest / TS_PAYLOAD);
}

/**
 * Writes PES `p` as TS packets from `at`; returns the end. The PCR (with
 * random_access_indicator on a keyframe) goes in the first packet's
 * adaptation field; the last packet's shortfall is adaptation-field stuffing.
 */
function writePes(out: Buffer, at: number, p: Pes, cc: number, pcrBase: number): number {
  let left = p.header + p.payload;
  let piece = 0;
  let off = 0;
  for (let first = true; left > 0; first = false) {
    const af = first && p.pcr ? PCR_AF : 0;
    const take = Math.min(left, TS_PAYLOAD - af);
    const afLen = TS_PAYLOAD - take; // whole adaptation field, its length byte included
    out[at] = 0x47;
    out[at + 1] = (first ? 0x40 : 0) | (p.pid >> 8);
    out[at + 2] = p.pid & 0xff;
    out[at + 3] = (afLen > 0 ? 0x30 : 0x10) | cc;
    cc = (cc + 1) & 0x0f;
    let w = at + 4;
    if (afLen > 0) {
      out[w] = afLen - 1;
      if (afLen > 1) {
        out[w + 1] = af ? AF_PCR | (p.key ? AF_RANDOM_ACCESS : 0) : 0;
        if (af) writePcr(out, w + 2, pcrBase);
        out.fill(0xff, w + 2 + (af ? 6 : 0), w + afLen);
      }
      w += afLen;
    }
    let copy = take;
    if (first) {
      writePesHeader(out, w, p);
      w += p.header;
      copy -= p.header;
    }
    while (copy > 0) {
      const src = p.pieces[piece]!;
      const n = Math.min(copy, src.length - off);
      out.set(n === src.length ? src : src.subarray(off, off + n), w);
      w += n;
      copy -= n;
      off += n;
      if (off === src.length) (piece++, off = 0);
    }
    left -= take;
    at += TS_PACKET_SIZE;
  }
  return at;
}

/**
 * One self-contained MPEG-TS segment from one segment's runs (at most one
 * video run, H.264 or HEVC, and one AAC run): PAT, PMT, then the PES
 * packets of both tracks merged by DTS (video first on a tie). PTS/DTS are
 * the samples' ms times at 90 kHz, wrapped at 33 bits. The PCR (PID of the
 * video, else the audio) is the DTS of the PES that carries it and rides
 * on every PES of that PID (so at each keyframe, and at least every frame
 * interval, within 13818-1's 100 ms for video of 10 fps or more); if the
 * segment opens with an audio PES, an adaptation-only packet on the video
 * PID gives the PCR first. Throws ERR_CODEC on AV1, bad records or samples.
 */
export function tsSegment(runs: readonly Fmp4Run[], opts: TsSegmentOptions = {}): Buffer {
  if (runs.length === 0) throw new SluiceError('ERR_CODEC', 'mpegts: segment without tracks');
  const infosOf = runs.map((r) => trackInfo(r.track));
  if (new Set(infosOf.map((i) => i.pid)).size !== runs.length) throw new SluiceError('ERR_CODEC', 'mpegts: at most one video and one audio track per segment');
  let video: Pes[] = [];
  let audio: Pes[] = [];
  runs.forEach((r, i) => {
    const info = infosOf[i]!;
    const what = `mpegts: track ${r.track.id}`;
    if (r.samples.length === 0) throw new SluiceError('ERR_CODEC', `${what}: no samples`);
    if (info.kind === 'video') video = r.samples.map((s, k) => videoPes(info, s, `${what} sample ${k}`));
    else audio = audioPes(info, r.samples, what);
  });
  const declared = opts.tracks ? opts.tracks.map(trackInfo) : infosOf;
  const pcrPid = declared.some((i) => i.kind === 'video') ? VIDEO_PID : AUDIO_PID;
  const all: Pes[] = [];
  for (let v = 0, a = 0; v < video.length || a < audio.length; ) {
    if (v < video.length && (a >= audio.length || video[v]!.dts <= audio[a]!.dts)) all.push(video[v++]!);
    else all.push(audio[a++]!);
  }
  let packets = 2;
  for (const p of all) {
    p.pcr = p.pid === pcrPid;
    packets += packetsOf(p);
  }
  const pcrOnly = all[0]!.pid !== pcrPid;
  if (pcrOnly) packets++;

  const cont = opts.continuity ?? new Map<number, number>();
  const cc = (pid: number): number => (cont.get(pid) ?? 0) & 0x0f;
  const out = Buffer.allocUnsafe(packets * TS_PACKET_SIZE);
  const streams = declared.map((i) => ({ streamType: i.streamType, pid: i.pid })).sort((x, y) => x.pid - y.pid);
  writePat(out, 0, cc(PAT_PID));
  writePmt(out, TS_PACKET_SIZE, cc(PMT_PID), pcrPid, streams);
  cont.set(PAT_PID, (cc(PAT_PID) + 1) & 0x0f);
  cont.set(PMT_PID, (cc(PMT_PID) + 1) & 0x0f);
  let at = 2 * TS_PACKET_SIZE;
  if (pcrOnly) {
    // adaptation_field_control '10' (no payload): continuity_counter repeats the last one sent, not incremented.
    out[at] = 0x47;
    out[at + 1] = pcrPid >> 8;
    out[at + 2] = pcrPid & 0xff;
    out[at + 3] = 0x20 | ((cc(pcrPid) + 15) & 0x0f);
    out[at + 4] = TS_PAYLOAD - 1;
    out[at + 5] = AF_PCR;
    writePcr(out, at + 6, all[0]!.dts90);
    out.fill(0xff, at + 12, at + TS_PACKET_SIZE);
    at += TS_PACKET_SIZE;
  }
  for (const p of all) {
    const c = cc(p.pid);
    at = writePes(out, at, p, c, p.dts90);
    cont.set(p.pid, (c + packetsOf(p)) & 0x0f);
  }
  return out;
}

/**
 * One segment from TS pieces built separately (one per LL-HLS part, each
 * starting its counters at 0), already concatenated in `out`: every PID's
 * continuity counter is renumbered in place to run on. A packet without payload repeats the last
 * counter (13818-1 2.4.3.3). Each piece keeps its PAT/PMT, which a segment
 * may repeat.
 */
export function renumberTsParts(out: Buffer): Buffer {
  if (out.length % TS_PACKET_SIZE !== 0) throw new SluiceError('ERR_INTERNAL', `mpegts: ${out.length} bytes is not whole packets`);
  const next = new Uint8Array(0x2000);
  for (let at = 0; at < out.length; at += TS_PACKET_SIZE) {
    const pid = ((out[at + 1]! & 0x1f) << 8) | out[at + 2]!;
    const b3 = out[at + 3]!;
    const cc = b3 & 0x10 ? next[pid]! : (next[pid]! + 15) & 0x0f;
    if (b3 & 0x10) next[pid] = (cc + 1) & 0x0f;
    out[at + 3] = (b3 & 0xf0) | cc;
  }
  return out;
}
