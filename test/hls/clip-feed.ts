/**
 * A clip's FLV tags sent over an RTMP publisher as fast as the server takes
 * them (segments are cut by timestamps, not by the clock): the sequence
 * headers once, then the frames of both tracks in timestamp order.
 */
import type { RtmpClient } from '../../src/rtmp/client/rtmp-client.js';
import type { ClipReference, ClipTag } from '../helpers/clip-tags.js';
import { sleep } from '../helpers/net.js';

export function clipFrames(ref: ClipReference): ClipTag[] {
  return [...ref.video, ...ref.audio].sort((a, b) => a.ts - b.ts || a.type - b.type);
}

export function sendHeaders(pub: RtmpClient, ref: ClipReference): void {
  pub.sendMedia(9, 0, ref.vseq);
  pub.sendMedia(8, 0, ref.aseq);
}

/** Sends `frames`, yielding now and then so the socket drains. */
export async function sendFrames(pub: RtmpClient, frames: readonly ClipTag[]): Promise<void> {
  for (const [i, t] of frames.entries()) {
    pub.sendMedia(t.type as 8 | 9, t.ts, t.data);
    if (i % 10 === 9) await sleep(1);
  }
}
