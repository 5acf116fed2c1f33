/**
 * Real-decoder checks shared by the fMP4 and HLS tests: ffmpeg's framemd5
 * of a file or playlist, ffprobe's stream list, and one stream's packets as
 * comparable (size, hash) lines with ms times.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { ffprobePath, spawnFfmpeg } from '../helpers/ffmpeg.js';
import { parseFramemd5, type Framemd5, type Packet } from '../helpers/framemd5.js';

/** ffmpeg with `-v error`: its framemd5 on stdout, and whatever it complained about. */
export async function ffmpegMd5(input: string, output: string[], inputArgs: string[] = []): Promise<{ md5: Framemd5; errors: string }> {
  let out = '';
  const p = spawnFfmpeg(['-v', 'error', ...inputArgs, '-i', input, ...output, '-f', 'framemd5', 'pipe:1'], {
    killAfterMs: 15_000,
    onStdout: (c) => (out += c.toString('utf8')),
  });
  const exit = await p.exited;
  assert.equal(exit.code, 0, `ffmpeg on ${input} exited ${exit.code ?? exit.signal}: ${p.stderr()}`);
  return { md5: parseFramemd5(out), errors: p.stderr().trim() };
}

export interface ProbedStream {
  codec_type: string;
  codec_name: string;
  width?: number;
  height?: number;
}

export function ffprobe(file: string, inputArgs: string[] = []): Promise<ProbedStream[]> {
  return new Promise((resolve, reject) => {
    const args = ['-v', 'error', ...inputArgs, '-show_entries', 'stream=codec_type,codec_name,width,height', '-of', 'json', file];
    execFile(ffprobePath, args, { timeout: 10_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`ffprobe: ${err.message} ${stderr}`)) : resolve(JSON.parse(stdout).streams),
    );
  });
}

/** Packets of one stream as (size, hash), pts in ms from the stream's first pts, and pts - dts in ms. */
export function track(f: Framemd5, mediaType: 'video' | 'audio'): { frames: string[]; pts: number[]; cts: number[] } {
  const s = f.streams.find((x) => x.mediaType === mediaType);
  assert.ok(s?.timeBase, `a ${mediaType} stream with a time base`);
  const [num, den] = s.timeBase.split('/').map(Number) as [number, number];
  const pkts: Packet[] = f.packets.filter((p) => p.stream === s.index);
  const ms = (t: number): number => Math.round((t * num * 1000) / den);
  return {
    frames: pkts.map((p) => `${p.size} ${p.hash}`),
    pts: pkts.map((p) => ms(p.pts) - ms(pkts[0]!.pts)),
    cts: pkts.map((p) => ms(p.pts) - ms(p.dts)),
  };
}
