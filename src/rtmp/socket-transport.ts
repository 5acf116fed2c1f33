/** A player transport over a net.Socket: one corked batch per pump (a single writev). */
import type { Socket } from 'node:net';
import type { PlayerTransport } from '../media/types.js';

export function socketTransport(socket: Socket): PlayerTransport {
  return {
    get writableLength() {
      return socket.writableLength;
    },
    write(chunks: Buffer[]) {
      if (socket.destroyed) return;
      socket.cork();
      for (const c of chunks) socket.write(c);
      socket.uncork();
    },
  };
}
