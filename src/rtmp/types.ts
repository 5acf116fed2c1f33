/**
 * What the command, publisher and player layers of an RTMP session need of
 * the session itself (rtmp/session.ts implements it): they depend on this,
 * never on the session class, so the session can own them without a circle.
 */
import type { Socket } from 'node:net';
import type { ControlMessage } from '../protocol/control.js';
import type { OutMessage } from '../protocol/commands.js';
import type { Logger } from '../app/log.js';
import type { ServerContext } from '../app/context.js';
import type { SocketTransport } from './socket-transport.js';

export interface RtmpSessionIO {
  readonly id: number;
  readonly log: Logger;
  readonly ctx: ServerContext;
  readonly socket: Socket;
  /** How a player of this session writes media (rtmp/socket-transport.ts). */
  readonly transport: SocketTransport;
  readonly closed: boolean;
  /** Our outgoing chunk size (after connect: rtmp.outChunkSize). */
  readonly chunkSize: number;
  send(m: OutMessage | ControlMessage): void;
  /** Announce our Set Chunk Size and use it from now on. */
  setOutChunkSize(size: number): void;
  /** Stop dispatching (socket paused, messages held in order) while the directory decides. */
  hold(): void;
  /** Replay what was held, then read on. */
  unhold(): void;
  /** The session published or played: rtmp.startTimeoutMs no longer applies. */
  started(): void;
  /** A player may stay silent for ever: no idle bound from now on. */
  stopIdleTimer(): void;
  /** Ends the session for a protocol or policy error (logged and counted). */
  fail(err: unknown): void;
  close(reason: string): void;
}
