/**
 * ChunkReader on a publisher's socket reads: MB/s of media bodies parsed
 * at chunk sizes 128 (the RTMP default), 4096 (ffmpeg, OBS) and 65536.
 *
 * One op is 4 s of a 2.2 Mbit/s publish (fixtures.ts: 25 fps, 2 s GOP,
 * ~60 KB key / ~10 KB inter frames, AAC at ~43 frames/s, onMetaData and
 * sequence headers) chunked as an encoder does (compressed headers, video
 * on csid 6, the rest on 4), pushed in 16 KiB reads.
 *
 * sluice's sink is the server's ingest path: LiveStream.beginMedia hands
 * out space in the stream's ring, each chunk's payload is copied there
 * once, and commitMedia classifies the tag, corrects its timestamp and
 * publishes it (the FLV header written in place).
 *
 * For context (no ratio), the same reader into one reused non-shared
 * Buffer: the parse without the ring's copy and commit.
 *
 * Baselines, fed the same reads:
 * - node-media-server's Rtmp parser (protocol/rtmp.js), past its
 *   handshake state, chunk size set as its Set Chunk Size handler would;
 *   it copies payloads into a reused per-chunk-stream buffer and hands an
 *   AVPacket (Flv.parserTag) to onPacketCallback, stubbed here: NMS then
 *   copies the body again into its FLV and RTMP forms (see flv-tag and
 *   chunk-writer), which this point does not charge it for.
 * - a naive parser that keeps every chunk payload as a Buffer view and
 *   joins a message's with Buffer.concat (many small Node servers).
 */
import type { ChunkSink } from '../../src/protocol/chunk-reader.js';
import { ChunkReader } from '../../src/protocol/chunk-reader.js';
import { unwrapSetDataFrame } from '../../src/protocol/commands.js';
import { decodeAmf0 } from '../../src/protocol/amf0.js';
import type { LiveStream } from '../../src/media/live-stream.js';
import { MessageType } from '../../src/protocol/types.js';
import { point, same, type Bench, type Row } from '../bench.js';
import { bodyBytes, mediaMix, publishingStream, publishReads } from '../fixtures.js';
import { NmsRtmp, RTMP_HANDSHAKE_DONE } from '../nms.js';

interface Count {
  messages: number;
  bytes: number;
}

const isMedia = (type: number): boolean => type === MessageType.Audio || type === MessageType.Video;

/** The publishing session's sink (server/rtmp-session.ts + rtmp-commands.ts), minus command dispatch. */
function ingestSink(stream: LiveStream, count: Count, reader: () => ChunkReader): ChunkSink {
  const moved = (from: Uint8Array, to: Uint8Array): void => void reader().moveDestination(from, to);
  return {
    begin: (h) => (isMedia(h.type) ? stream.beginMedia(h.length, moved) : Buffer.allocUnsafe(h.length)),
    message: (h, payload) => {
      count.messages++;
      count.bytes += payload.length;
      if (isMedia(h.type)) {
        stream.commitMedia(h.type, h.timestamp, payload);
      } else {
        const body = unwrapSetDataFrame(payload);
        const fields = decodeAmf0(body)[1] as Record<string, unknown>;
        stream.commitMetadata(h.timestamp, Buffer.from(body), { ...fields });
      }
    },
    abandon: (_h, dest) => stream.abandonMedia(dest),
  };
}

interface NaiveStream {
  len: number;
  parts: Buffer[];
  got: number;
}

/** Baseline: per-chunk payload views joined with Buffer.concat when the message is whole. */
class NaiveReader {
  private readonly streams = new Map<number, NaiveStream>();
  private pending = Buffer.alloc(0);

  constructor(
    private readonly chunkSize: number,
    private readonly count: Count,
  ) {}

  push(read: Buffer): void {
    const buf = this.pending.length > 0 ? Buffer.concat([this.pending, read]) : read;
    let pos = 0;
    for (;;) {
      const at = pos;
      if (pos >= buf.length) break;
      const b0 = buf[pos]!;
      const fmt = b0 >> 6;
      const head = 1 + [11, 7, 3, 0][fmt]!;
      if (buf.length - pos < head) break;
      let st = this.streams.get(b0 & 0x3f);
      if (fmt === 0) {
        st = { len: buf.readUIntBE(pos + 4, 3), parts: [], got: 0 };
        this.streams.set(b0 & 0x3f, st);
      } else if (fmt === 1) {
        st!.len = buf.readUIntBE(pos + 4, 3);
      }
      const s = st!;
      const n = Math.min(this.chunkSize, s.len - s.got);
      if (buf.length - pos - head < n) {
        pos = at;
        break;
      }
      pos += head;
      s.parts.push(buf.subarray(pos, pos + n));
      s.got += n;
      pos += n;
      if (s.got === s.len) {
        const msg = Buffer.concat(s.parts);
        this.count.messages++;
        this.count.bytes += msg.length;
        s.parts = [];
        s.got = 0;
      }
    }
    this.pending = pos < buf.length ? Buffer.from(buf.subarray(pos)) : Buffer.alloc(0);
  }
}

function run(): Row[] {
  const mix = mediaMix();
  const media = bodyBytes(mix);
  const rows: Row[] = [];
  for (const chunkSize of [128, 4096, 65536]) {
    const reads = publishReads(mix, chunkSize);

    const ours: Count = { messages: 0, bytes: 0 };
    const reader: ChunkReader = new ChunkReader(ingestSink(publishingStream(), ours, () => reader), { maxChunkSize: 65536, maxMessageSize: 1 << 24, maxChunkStreams: 64 });
    reader.setChunkSize(chunkSize);

    const theirs: Count = { messages: 0, bytes: 0 };
    const nms = new NmsRtmp();
    nms.handshakeState = RTMP_HANDSHAKE_DONE;
    nms.inChunkSize = chunkSize;
    nms.onPacketCallback = (p) => {
      theirs.messages++;
      theirs.bytes += p.size;
    };

    // For context: the same parser into one reused, non-shared Buffer (the parse without the ring).
    const scratch = Buffer.allocUnsafe(1 << 20);
    const bare = new ChunkReader({ begin: (h) => scratch.subarray(0, h.length), message: () => {}, abandon: () => {} });
    bare.setChunkSize(chunkSize);

    const naiveCount: Count = { messages: 0, bytes: 0 };
    const naive = new NaiveReader(chunkSize, naiveCount);

    const contenders = [
      { name: 'ChunkReader -> ring (LiveStream ingest)', side: 'sluice' as const, op: () => { for (const r of reads) reader.push(r); } },
      { name: 'ChunkReader -> reused Buffer (parse alone)', side: 'info' as const, op: () => { for (const r of reads) bare.push(r); } },
      { name: 'node-media-server Rtmp.parserData', side: 'baseline' as const, op: () => { for (const r of reads) nms.parserData(r); } },
      { name: 'naive: chunk views + Buffer.concat', side: 'baseline' as const, op: () => { for (const r of reads) naive.push(r); } },
    ];
    // One op each first: all must see every message and every byte.
    for (const c of contenders) c.op();
    same(`messages parsed at chunk size ${chunkSize}`, [ours, theirs, naiveCount], [{ messages: mix.length, bytes: media }, { messages: mix.length, bytes: media }, { messages: mix.length, bytes: media }]);

    rows.push(...point('chunk-reader', `chunk size ${chunkSize}`, { label: 'MB/s', perOp: media / 1e6 }, contenders));
  }
  return rows;
}

export const bench: Bench = {
  name: 'chunk-reader',
  title: 'ChunkReader into the stream ring vs node-media-server Rtmp parser and a concat parser (MB/s of media)',
  run,
};
