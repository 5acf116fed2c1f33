/**
 * A player transport over a net.Socket. With `direct` on, a batch for a
 * socket with nothing queued goes straight to the kernel in one writev(2)
 * on the socket's fd: net.Socket's stream and libuv write path cost ~4 µs of
 * JavaScript and C++ per write, which at hundreds of players per tag is the
 * worker's CPU (docs/performance.md). Whatever the kernel does not take, and
 * every batch while anything is queued, goes through socket.write, so order
 * and 'drain' stay the socket's.
 */
import type { Socket } from 'node:net';
import { writeSync, writevSync } from 'node:fs';
import type { PlayerTransport } from '../media/types.js';

/**
 * A class, not an object literal: literal getters closing over each socket
 * give every transport its own hidden class, and the subscriber's
 * `writableLength` read goes megamorphic (measured with perf at 500 players).
 */
export class SocketTransport implements PlayerTransport {
  /** Bytes written past net.Socket (its bytesWritten does not count them). */
  directBytes = 0;
  private readonly fd: number;

  constructor(
    private readonly socket: Socket,
    direct: boolean,
  ) {
    this.fd = direct ? fdOf(socket) : -1;
  }

  get writableLength(): number {
    return this.socket.writableLength;
  }

  write(chunks: Buffer[]): void {
    const socket = this.socket;
    if (socket.destroyed) return;
    let n = 0;
    if (this.fd >= 0 && socket.writableLength === 0) {
      n = tryWrite(this.fd, chunks);
      this.directBytes += n;
    }
    // `chunks` may be shared with other players: the rest is sliced, never cut in place.
    let i = 0;
    while (i < chunks.length && n >= chunks[i]!.length) n -= chunks[i++]!.length;
    if (i === chunks.length) return;
    socket.cork();
    socket.write(n > 0 ? chunks[i]!.subarray(n) : chunks[i]);
    for (i++; i < chunks.length; i++) socket.write(chunks[i]);
    socket.uncork();
  }
}

/**
 * The socket's file descriptor where the platform exposes one, else -1 (then
 * every write goes through the socket). Never for TLS: the fd carries the
 * ciphertext, and plain bytes written to it would break the session.
 */
function fdOf(socket: Socket): number {
  if ((socket as Socket & { encrypted?: boolean }).encrypted) return -1;
  const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 && process.platform !== 'win32' ? fd : -1;
}

/** Bytes the kernel took; 0 on EAGAIN or any error (socket.write then meets the error and reports it the usual way). */
function tryWrite(fd: number, chunks: Buffer[]): number {
  try {
    return chunks.length === 1 ? writeSync(fd, chunks[0]) : writevSync(fd, chunks);
  } catch {
    return 0;
  }
}
