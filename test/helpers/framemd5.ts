/**
 * ffmpeg's `framemd5` muxer output, parsed. It prints one line per packet
 * with its size and the MD5 of its payload, so a player that copies what it
 * receives (`-c copy`) can be compared packet by packet with the clip it
 * came from (packet-run.ts). framemd5 from this build looks like:
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
