/**
 * One read buffer for the plain-TCP sockets of a thread that parse each
 * read before the next one lands (net.connect's `onread`), and copy out
 * whatever must outlive it. Node would otherwise allocate an ArrayBuffer
 * per read; at a load generator's 1 Gbit/s, collecting those stalled the
 * thread. Used by the RTMP client (edge pulls, the load generator) and the
 * load generator's HTTP-FLV and WS-FLV players.
 */
import type { OnReadOpts } from 'node:net';

const buffer = Buffer.allocUnsafe(64 * 1024);

/** `onread` options that hand each read to `onData` as a view of the shared buffer, valid until it returns. */
export function sharedReads(onData: (bytes: Buffer) => void): OnReadOpts {
  return {
    buffer,
    callback: (n) => {
      onData(buffer.subarray(0, n));
      return true;
    },
  };
}
