/**
 * The byte-exact check of what an ffmpeg player received against the clip
 * it came from: per stream, one contiguous run of the clip's packets,
 * matched on (size, hash) from framemd5, the video run starting on a
 * keyframe; and timestamps that never go back.
 */
import { packetsOf, streamIndex, type Framemd5, type Packet } from './framemd5.js';

export interface RunPosition {
  /** Index in the reference's packets of that media type where the run starts. */
  start: number;
  /** Number of packets received (all matched). */
  length: number;
}

export interface ContiguousRun {
  video: RunPosition;
  audio: RunPosition;
}

const key = (p: Packet): string => `${p.size}:${p.hash}`;

function findRun(recv: Packet[], ref: Packet[], what: string, startFilter: (i: number) => boolean): RunPosition {
  if (recv.length === 0) throw new Error(`${what}: no packets received`);
  const rk = recv.map(key);
  const fk = ref.map(key);
  let best = { start: -1, matched: -1 };
  for (let s = 0; s < fk.length; s++) {
    if (fk[s] !== rk[0]) continue;
    let n = 1;
    while (n < rk.length && s + n < fk.length && fk[s + n] === rk[n]) n++;
    if (n === rk.length && startFilter(s)) return { start: s, length: rk.length };
    if (n > best.matched) best = { start: s, matched: n };
  }
  if (best.start < 0) {
    throw new Error(
      `${what}: first received packet (size ${recv[0]!.size}, ${recv[0]!.hash}) is not in the reference ` +
        `(${rk.length} received, ${fk.length} in reference)`,
    );
  }
  if (best.matched === rk.length) {
    throw new Error(`${what}: received run matches the reference only at #${best.start}, which is not a keyframe`);
  }
  const i = best.matched;
  throw new Error(
    `${what}: not contiguous: received packets #0..#${i - 1} match reference #${best.start}..#${best.start + i - 1}, ` +
      `but received #${i} (size ${recv[i]?.size}, ${recv[i]?.hash}) is not reference #${best.start + i}` +
      (fk[best.start + i] ? ` (size ${ref[best.start + i]!.size})` : ' (past the end of the reference)'),
  );
}

/**
 * Per stream (video and audio, both required): the received (size, hash)
 * sequence must appear as one contiguous run inside the reference's; the
 * video run must start on a keyframe (reference index % gop === 0).
 * Returns where each run starts in the reference.
 */
export function assertContiguousRun(received: Framemd5, reference: Framemd5, opts: { gop: number }): ContiguousRun {
  for (const f of [received, reference]) {
    for (const t of ['video', 'audio'] as const) {
      if (streamIndex(f, t) === undefined) {
        throw new Error(`${f === received ? 'received' : 'reference'}: no ${t} stream (streams: ${JSON.stringify(f.streams)})`);
      }
    }
  }
  for (const t of ['video', 'audio'] as const) {
    // The sequence header (AVCDecoderConfigurationRecord / AudioSpecificConfig) arrives as extradata.
    const r = received.streams.find((s) => s.mediaType === t)?.extradata;
    const f = reference.streams.find((s) => s.mediaType === t)?.extradata;
    if (r && f && (r.size !== f.size || r.hash !== f.hash)) {
      throw new Error(`${t}: sequence header (extradata ${r.size} bytes ${r.hash}) differs from the reference's (${f.size} bytes ${f.hash})`);
    }
  }
  const video = findRun(packetsOf(received, 'video'), packetsOf(reference, 'video'), 'video', (s) => s % opts.gop === 0);
  const audio = findRun(packetsOf(received, 'audio'), packetsOf(reference, 'audio'), 'audio', () => true);
  return { video, audio };
}

/**
 * Timestamps a player saw must be monotonic: ffmpeg rewrites a
 * non-monotonic DTS before muxing (and says so on stderr), so check both
 * its log and the dts it printed. Video dts strictly increase, audio never
 * go back.
 */
export function assertMonotonic(r: Framemd5 & { stderr?: string }): void {
  const m = /.*(non[- ]monoton\w*).*/i.exec(r.stderr ?? '');
  if (m) throw new Error(`ffmpeg reported non-monotonic timestamps: ${m[0]}`);
  for (const t of ['video', 'audio'] as const) {
    const ps = packetsOf(r, t);
    for (let i = 1; i < ps.length; i++) {
      const ok = t === 'video' ? ps[i]!.dts > ps[i - 1]!.dts : ps[i]!.dts >= ps[i - 1]!.dts;
      if (!ok) throw new Error(`${t}: dts goes from ${ps[i - 1]!.dts} to ${ps[i]!.dts} at packet #${i}`);
    }
  }
}

/** For messages: "video 50+75, audio 86+130". */
export function describeRun(r: ContiguousRun): string {
  return `video ${r.video.start}+${r.video.length}, audio ${r.audio.start}+${r.audio.length}`;
}
