/**
 * Chunk reader throughput on a realistic publish: 2.5 s of 25 fps video
 * (keyframe every 50 frames, ~10 KB inter / ~60 KB key frames), AAC audio at
 * ~43 frames/s, one onMetaData; chunked by our writer at 128, 4096 and 65536
 * bytes, fed in 64 KiB reads (a typical socket read). Baseline: the same
 * bytes through a naive parser that concatenates chunk payloads with
 * Buffer.concat, as many Node servers do.
 */
import { ChunkReader, type ChunkSink } from '../src/protocol/chunk-reader.js';
import { ChunkWriter } from '../src/protocol/chunk-writer.js';
import { bench } from './bench.js';

function publishBytes(chunkSize: number): { wire: Buffer; media: number } {
  const w = new ChunkWriter(chunkSize);
  const parts: Buffer[] = [];
  let media = 0;
  const push = (csid: number, type: number, ts: number, len: number) => {
    const p = Buffer.alloc(len, ts & 0xff);
    media += len;
    parts.push(w.encode({ csid, type, timestamp: ts, length: len, streamId: 1 }, p));
  };
  push(5, 18, 0, 300);
  for (let f = 0; f < 63; f++) {
    push(6, 9, f * 40, f % 50 === 0 ? 60000 : 10000);
    push(4, 8, f * 40, 200);
  }
  return { wire: Buffer.concat(parts), media };
}

const sink = (): ChunkSink => {
  const dest = Buffer.allocUnsafe(1 << 20);
  return { begin: (h) => dest.subarray(0, h.length), message: () => {}, abandon: () => {} };
};

/** Baseline: per-chunk payload Buffers joined with Buffer.concat at message end. */
function naiveParse(wire: Buffer, chunkSize: number): void {
  const state = new Map<number, { len: number; parts: Buffer[]; got: number; type: number }>();
  let pos = 0;
  while (pos < wire.length) {
    const b0 = wire[pos]!;
    const fmt = b0 >> 6;
    const csid = b0 & 0x3f;
    pos += 1;
    let st = state.get(csid);
    if (fmt === 0) {
      const len = wire.readUIntBE(pos + 3, 3);
      st = { len, parts: [], got: 0, type: wire[pos + 6]! };
      state.set(csid, st);
      pos += 11;
    } else if (fmt === 1) {
      st!.len = wire.readUIntBE(pos + 3, 3);
      st!.parts = [];
      st!.got = 0;
      pos += 7;
    } else if (fmt === 2) {
      st!.parts = [];
      st!.got = 0;
      pos += 3;
    } else if (st!.got === 0) {
      st!.parts = [];
    }
    const n = Math.min(chunkSize, st!.len - st!.got);
    st!.parts.push(wire.subarray(pos, pos + n));
    st!.got += n;
    pos += n;
    if (st!.got === st!.len) {
      Buffer.concat(st!.parts);
      st!.got = 0;
    }
  }
}

export function run(): void {
  for (const cs of [128, 4096, 65536]) {
    const { wire, media } = publishBytes(cs);
    const reader = new ChunkReader(sink(), { maxChunkSize: 65536, maxMessageSize: 1 << 20, maxChunkStreams: 64 });
    reader.setChunkSize(cs);
    const sluice = bench(`chunk reader, chunk size ${cs}`, media, () => {
      for (let p = 0; p < wire.length; p += 65536) reader.push(wire.subarray(p, p + 65536));
    });
    const base = bench(`  baseline (concat per message), chunk size ${cs}`, media, () => naiveParse(wire, cs));
    console.log(`  ratio sluice/baseline: ${(sluice.mbPerSec / base.mbPerSec).toFixed(2)}x`);
  }
}
