/**
 * Interop harness around the ffmpeg binary shipped by
 * @ffmpeg-installer/linux-x64 (a 2018 static build, libavformat 58.24 /
 * ffmpeg ~4.1; no ffprobe).
 *
 * The check is byte-exact: ffmpeg's `framemd5` muxer prints one line per
 * packet with its size and the MD5 of its payload, so a player that copies
 * what it receives (`-c copy`) can be compared packet by packet with the
 * clip it came from. framemd5 from this build looks like:
 *
 *   #format: frame checksums
 *   #version: 2
 *   #hash: MD5
 *   #extradata 0,                              37, 41b19338d07e2b618579bb6ae0bde376
 *   #extradata 1,                               5, ff45c3a76898cdd565877d2f8752846e
 *   #software: Lavf58.24.100
 *   #tb 0: 1/1000
 *   #media_type 0: video
 *   #codec_id 0: h264
 *   #dimensions 0: 320x240
 *   #sar 0: 1/1
 *   #tb 1: 1/1000
 *   #media_type 1: audio
 *   #codec_id 1: aac
 *   #sample_rate 1: 44100
 *   #channel_layout 1: 4
 *   #channel_layout_name 1: mono
 *   #stream#, dts,        pts, duration,     size, hash
 *   1,          0,          0,       23,      191, f722b627fdf8a325fcab37529bc3c9e7
 *   0,        -57,         23,        0,     3588, 7dda205e3c69a016bf67827030b10321
 *
 * Sequence headers (AVCDecoderConfigurationRecord, AudioSpecificConfig) are
 * not packets: they show up as `#extradata` lines. Timestamps differ between
 * a clip and what a player receives (a late joiner starts elsewhere; the
 * demuxer shifts B-frame dts), so runs are matched on (size, hash) only.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const require = createRequire(import.meta.url);

/** Absolute path of the bundled ffmpeg binary. */
export const ffmpegPath = path.join(
  path.dirname(require.resolve('@ffmpeg-installer/linux-x64/package.json')),
  'ffmpeg',
);

// ---------------------------------------------------------------------------
// Process bookkeeping: nothing outlives the test process.
// ---------------------------------------------------------------------------

const live = new Set<ChildProcess>();

function killAll(): void {
  for (const p of live) {
    try {
      p.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  live.clear();
}

process.once('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    killAll();
    process.exit(sig === 'SIGINT' ? 130 : 143);
  });
}

/** Exit status of a spawned ffmpeg. */
export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** ms since spawn. */
  atMs: number;
}

export interface FfmpegProcess {
  readonly proc: ChildProcess;
  /** Date.now() at spawn. */
  readonly t0: number;
  /** stderr so far (ffmpeg's log). */
  stderr(): string;
  /** Resolves when the process has exited, however it ended. Never rejects. */
  readonly exited: Promise<Exit>;
  /** SIGINT (ffmpeg finishes its output cleanly), SIGKILL after `graceMs`. Resolves on exit. */
  kill(graceMs?: number): Promise<Exit>;
  readonly running: boolean;
}

export interface SpawnOptions {
  /** Hard limit: SIGKILL after this many ms (default 30 s). */
  killAfterMs?: number;
  /** Called with each stdout chunk. */
  onStdout?: (chunk: Buffer) => void;
}

/** Spawns ffmpeg with `args`, registered for kill-at-exit and a hard kill timeout. */
export function spawnFfmpeg(args: string[], opts: SpawnOptions = {}): FfmpegProcess {
  const proc = spawn(ffmpegPath, ['-hide_banner', '-nostdin', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const t0 = Date.now();
  live.add(proc);
  let err = '';
  proc.stderr!.setEncoding('utf8');
  proc.stderr!.on('data', (s: string) => {
    // keep the tail only: a long run with -stats would otherwise grow without bound
    err = (err + s).slice(-64 * 1024);
  });
  if (opts.onStdout) proc.stdout!.on('data', opts.onStdout);
  else proc.stdout!.resume();
  let running = true;
  const hard = setTimeout(() => proc.kill('SIGKILL'), opts.killAfterMs ?? 30_000);
  hard.unref();
  const exited = new Promise<Exit>((resolve) => {
    const finish = (code: number | null, signal: NodeJS.Signals | null): void => {
      if (!running) return;
      running = false;
      clearTimeout(hard);
      live.delete(proc);
      resolve({ code, signal, atMs: Date.now() - t0 });
    };
    // 'error' alone (no 'close') when the binary cannot be spawned at all
    proc.once('error', (e) => {
      err += `\nspawn error: ${e.message}`;
      if (proc.pid === undefined) finish(-1, null);
    });
    proc.once('close', finish);
  });
  return {
    proc,
    t0,
    stderr: () => err,
    exited,
    get running() {
      return running;
    },
    async kill(graceMs = 2000) {
      if (running) {
        proc.kill('SIGINT');
        const t = setTimeout(() => proc.kill('SIGKILL'), graceMs);
        t.unref();
        const e = await exited;
        clearTimeout(t);
        return e;
      }
      return exited;
    },
  };
}

/** Runs ffmpeg to completion; rejects with its stderr tail if it fails. */
async function runFfmpeg(args: string[], killAfterMs: number): Promise<string> {
  let out = '';
  const p = spawnFfmpeg(args, { killAfterMs, onStdout: (c) => (out += c.toString('utf8')) });
  const e = await p.exited;
  if (e.code !== 0) {
    throw new Error(`ffmpeg ${args.join(' ')} exited ${e.code ?? e.signal}:\n${p.stderr().slice(-2000)}`);
  }
  return out;
}

// ---------------------------------------------------------------------------
// Clips
// ---------------------------------------------------------------------------

export interface ClipParams {
  seconds: number;
  fps: number;
  /** Fixed GOP: a keyframe every `gop` video packets, exactly. */
  gop: number;
  width: number;
  height: number;
  /** B-frames between references (default 2, so the clip carries composition time offsets). */
  bframes?: number;
}

export interface Clip extends Required<ClipParams> {
  file: string;
}

let clipDir: string | undefined;
const clips = new Map<string, Promise<Clip>>();

const TMP_PREFIX = 'sluice-interop-';

/** Removes directories left by test processes that were killed outright (older than an hour). */
function sweepStaleDirs(): void {
  const cutoff = Date.now() - 3600_000;
  for (const name of readdirSync(tmpdir())) {
    if (!name.startsWith(TMP_PREFIX)) continue;
    const dir = path.join(tmpdir(), name);
    try {
      if (statSync(dir).mtimeMs < cutoff) rmSync(dir, { recursive: true, force: true });
    } catch {
      // raced with its owner: leave it
    }
  }
}

function tmpDir(): string {
  if (!clipDir) {
    sweepStaleDirs();
    clipDir = mkdtempSync(path.join(tmpdir(), TMP_PREFIX));
    const dir = clipDir;
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  return clipDir;
}

/** A fresh path in this process's temporary directory. */
export function tmpFile(name: string): string {
  return path.join(tmpDir(), name);
}

/**
 * Encodes (once per process per parameter set) an FLV clip: H.264 from
 * lavfi testsrc (libx264, closed fixed GOP: -g/-keyint_min = gop,
 * -sc_threshold 0, B-frames by default) + AAC mono 44.1 kHz from a sine.
 * Keyframes are exactly the video packets whose index is a multiple of gop.
 */
export function makeClip(params: ClipParams): Promise<Clip> {
  const p: Required<ClipParams> = { bframes: 2, ...params };
  const key = `${p.seconds}s-${p.fps}fps-g${p.gop}-${p.width}x${p.height}-b${p.bframes}`;
  let clip = clips.get(key);
  if (!clip) {
    clip = (async () => {
      const file = path.join(tmpDir(), `clip-${key}.flv`);
      await runFfmpeg(
        [
          '-loglevel', 'error', '-y',
          '-f', 'lavfi', '-i', `testsrc=size=${p.width}x${p.height}:rate=${p.fps}`,
          '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100',
          '-t', String(p.seconds),
          '-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p',
          '-g', String(p.gop), '-keyint_min', String(p.gop), '-sc_threshold', '0',
          '-bf', String(p.bframes),
          '-c:a', 'aac', '-b:a', '64k', '-ar', '44100', '-ac', '1',
          '-f', 'flv', file,
        ],
        60_000,
      );
      return { ...p, file };
    })();
    clips.set(key, clip);
  }
  return clip;
}

// ---------------------------------------------------------------------------
// framemd5
// ---------------------------------------------------------------------------

export interface Framemd5Stream {
  index: number;
  mediaType: string;
  codecId?: string;
  timeBase?: string;
  extradata?: { size: number; hash: string };
}

export interface Packet {
  stream: number;
  dts: number;
  pts: number;
  duration: number;
  size: number;
  hash: string;
  /** ms after the player was spawned that its line was read (live players only). */
  atMs?: number;
}

export interface Framemd5 {
  streams: Framemd5Stream[];
  packets: Packet[];
}

/** Incremental framemd5 parser: feed text as it arrives, read `result` any time. */
export class Framemd5Parser {
  readonly result: Framemd5 = { streams: [], packets: [] };
  private rest = '';

  constructor(private readonly clock?: () => number) {}

  push(text: string): void {
    const lines = (this.rest + text).split('\n');
    this.rest = lines.pop() ?? '';
    for (const line of lines) this.line(line);
  }

  end(): Framemd5 {
    if (this.rest) this.line(this.rest);
    this.rest = '';
    return this.result;
  }

  private stream(index: number): Framemd5Stream {
    let s = this.result.streams.find((x) => x.index === index);
    if (!s) {
      s = { index, mediaType: 'unknown' };
      this.result.streams.push(s);
      this.result.streams.sort((a, b) => a.index - b.index);
    }
    return s;
  }

  private line(raw: string): void {
    const line = raw.trim();
    if (!line) return;
    if (line.startsWith('#')) {
      let m: RegExpMatchArray | null;
      if ((m = /^#media_type (\d+): (\S+)/.exec(line))) this.stream(Number(m[1])).mediaType = m[2]!;
      else if ((m = /^#codec_id (\d+): (\S+)/.exec(line))) this.stream(Number(m[1])).codecId = m[2]!;
      else if ((m = /^#tb (\d+): (\S+)/.exec(line))) this.stream(Number(m[1])).timeBase = m[2]!;
      else if ((m = /^#extradata (\d+),\s*(\d+),\s*([0-9a-f]{32})/.exec(line)))
        this.stream(Number(m[1])).extradata = { size: Number(m[2]), hash: m[3]! };
      return;
    }
    const f = line.split(',').map((x) => x.trim());
    if (f.length !== 6 || !/^[0-9a-f]{32}$/.test(f[5]!)) return; // not a packet line
    const pkt: Packet = {
      stream: Number(f[0]),
      dts: Number(f[1]),
      pts: Number(f[2]),
      duration: Number(f[3]),
      size: Number(f[4]),
      hash: f[5]!,
    };
    if (this.clock) pkt.atMs = this.clock();
    this.result.packets.push(pkt);
  }
}

export function parseFramemd5(text: string): Framemd5 {
  const p = new Framemd5Parser();
  p.push(text);
  return p.end();
}

/** Index of the stream of `mediaType` ('video' | 'audio'), or undefined. */
export function streamIndex(f: Framemd5, mediaType: 'video' | 'audio'): number | undefined {
  return f.streams.find((s) => s.mediaType === mediaType)?.index;
}

/** Packets of one media type, in order. */
export function packetsOf(f: Framemd5, mediaType: 'video' | 'audio'): Packet[] {
  const i = streamIndex(f, mediaType);
  return i === undefined ? [] : f.packets.filter((p) => p.stream === i);
}

const md5Cache = new Map<string, Promise<Framemd5>>();

/** framemd5 of a file as stored, with `-copyinkf` like the players: the reference list. */
export function framemd5(file: string): Promise<Framemd5> {
  let r = md5Cache.get(file);
  if (!r) {
    r = runFfmpeg(['-loglevel', 'error', '-i', file, '-c', 'copy', '-copyinkf', '-f', 'framemd5', 'pipe:1'], 60_000).then(
      parseFramemd5,
    );
    md5Cache.set(file, r);
  }
  return r;
}

// ---------------------------------------------------------------------------
// Publisher and player
// ---------------------------------------------------------------------------

export interface PublishOptions {
  /** Hard kill after this many ms (default: clip length + 15 s). */
  killAfterMs?: number;
  /** Extra output options before the URL. */
  extraArgs?: string[];
}

/** `ffmpeg -re -i clip -c copy -f flv url`: publishes the clip in real time. */
export function publish(url: string, clip: Clip, opts: PublishOptions = {}): FfmpegProcess {
  return spawnFfmpeg(
    ['-loglevel', 'info', '-nostats', '-re', '-i', clip.file, '-c', 'copy', ...(opts.extraArgs ?? []), '-f', 'flv', url],
    { killAfterMs: opts.killAfterMs ?? clip.seconds * 1000 + 15_000 },
  );
}

export interface PlayOptions {
  /** Output duration (`-t`). */
  seconds: number;
  /** Also write the framemd5 text here (for debugging). */
  outFile?: string;
  /** Hard kill after this many ms (default seconds + 15 s). */
  killAfterMs?: number;
  /** Input options placed before `-i` (e.g. `['-listen', '1', '-timeout', '10']`). */
  inputArgs?: string[];
}

export interface PlayResult extends Framemd5 {
  exit: Exit;
  stderr: string;
}

export interface Player extends FfmpegProcess {
  /** Packets parsed so far, each stamped with `atMs` (ms after spawn it was read). */
  readonly packets: Packet[];
  /** Streams announced so far. */
  readonly streams: Framemd5Stream[];
  /** Resolves when ffmpeg exits, with everything it printed. Never rejects. */
  readonly done: Promise<PlayResult>;
}

/**
 * `ffmpeg -i url -c copy -copyinkf -t seconds -f framemd5 pipe:1`, parsed
 * as it streams (`-flush_packets 1`), so tests can watch packets arrive.
 *
 * -copyinkf keeps leading non-keyframes (ffmpeg's stream copy drops them by
 * default, which would hide a server that starts a player mid-GOP).
 * -fpsprobesize 0 skips the 40-frame rate probe so the first packet line
 * appears as soon as the server delivers it.
 */
export function play(url: string, opts: PlayOptions): Player {
  let text = '';
  const t0 = Date.now();
  const parser = new Framemd5Parser(() => Date.now() - t0);
  const p = spawnFfmpeg(
    [
      '-loglevel', 'info', '-nostats',
      '-fpsprobesize', '0',
      ...(opts.inputArgs ?? []),
      '-i', url,
      '-c', 'copy', '-copyinkf', '-t', String(opts.seconds),
      '-flush_packets', '1', '-f', 'framemd5', 'pipe:1',
    ],
    {
      killAfterMs: opts.killAfterMs ?? opts.seconds * 1000 + 15_000,
      onStdout: (c) => {
        const s = c.toString('utf8');
        text += s;
        parser.push(s);
      },
    },
  );
  const done = p.exited.then((exit) => {
    parser.end();
    if (opts.outFile) writeFileSync(opts.outFile, text);
    return { ...parser.result, exit, stderr: p.stderr() };
  });
  return {
    proc: p.proc,
    t0: p.t0,
    stderr: p.stderr,
    exited: p.exited,
    kill: p.kill,
    get running() {
      return p.running;
    },
    packets: parser.result.packets,
    streams: parser.result.streams,
    done,
  };
}

// ---------------------------------------------------------------------------
// The check
// ---------------------------------------------------------------------------

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
