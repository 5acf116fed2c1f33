/**
 * Where a synthetic RTMP player's audio and video bodies are read: one
 * reused buffer per chunk stream, instead of a fresh buffer per message.
 * A player only looks at a frame while it is delivered (frame-tally.ts
 * keeps nothing), and at 500 players a buffer per frame was the generator's
 * largest cost after the kernel: every body over 4 KB is an ArrayBuffer of
 * its own, and collecting them stalled the player thread during the ramp,
 * which showed as time to first frame that the server did not add.
 *
 * One buffer per chunk stream because audio and video messages interleave
 * chunk by chunk; a message on one chunk stream ends before the next one
 * on it begins. Other messages (commands, data) get the client's own buffer.
 */
import { MessageType, type MessageHeader } from '../src/protocol/types.js';
import type { IngestSink } from '../src/rtmp/client/types.js';

/** Below this, the client's own buffer comes from Node's pool and costs no collection of its own. */
const POOLED_BYTES = 4096;

export class ScratchPayloads implements IngestSink {
  private readonly byCsid = new Map<number, Buffer>();

  payloadFor(h: MessageHeader): Uint8Array | undefined {
    if ((h.type !== MessageType.Audio && h.type !== MessageType.Video) || h.length < POOLED_BYTES) return undefined;
    let buf = this.byCsid.get(h.csid);
    if (!buf || buf.length < h.length) {
      // Grown to a power of two, so a stream whose frames grow slowly reallocates a few times, not per frame.
      buf = Buffer.allocUnsafe(2 ** Math.ceil(Math.log2(h.length)));
      this.byCsid.set(h.csid, buf);
    }
    return buf.subarray(0, h.length);
  }

  abandoned(): void {
    // The buffer is reused by the next message on its chunk stream: nothing to free.
  }
}
