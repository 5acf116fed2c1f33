/**
 * Interop harness around the ffmpeg binary shipped by
 * @ffmpeg-installer/linux-x64 (a 2018 static build, libavformat 58.24 /
 * ffmpeg ~4.1; no ffprobe).
 *
 * What players received is parsed by framemd5.ts and checked by
 * packet-run.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Framemd5Parser, parseFramemd5, type Framemd5, type Framemd5Stream, type Packet } from './framemd5.js';

const require = createRequire(import.meta.url);

/** Absolute path of the bundled ffmpeg binary. */
export const ffmpegPath = path.join(
  path.dirname(require.resolve('@ffmpeg-installer/linux-x64/package.json')),
  'ffmpeg',
);

/** Absolute path of the bundled ffprobe binary (@ffprobe-installer). */
export const ffprobePath = path.join(path.dirname(require.resolve('@ffprobe-installer/linux-x64/package.json')), 'ffprobe');

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
export async function runFfmpeg(args: string[], killAfterMs: number): Promise<string> {
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
// framemd5 of a file
// ---------------------------------------------------------------------------

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
