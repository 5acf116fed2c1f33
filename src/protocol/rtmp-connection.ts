/**
 * The RTMP connection machine, socket-free, shared by the server session,
 * the client and the edge's upstreams: the handshake phase, the chunk
 * stream both ways, the acknowledgement window (RTMP spec 5.4.3), the
 * protocol control messages (5.4) and User Control pings (7.1.7).
 *
 * Bytes in through push(); bytes out through the owner's write(). Control
 * is applied here, at once and in order, and then reported; every other
 * message (commands, data, media, aggregates...) goes up to the owner.
 * Errors are thrown to the caller of push(), which ends its session.
 */
import { ChunkReader, type ChunkReaderLimits, type ChunkSink } from './chunk-reader.js';
import { ChunkWriter } from './chunk-writer.js';
import * as control from './control.js';
import type { HandshakeResult } from './handshake.js';
import { MessageType, type MessageHeader } from './types.js';

/** RTMP spec 5.4.1: the chunk size both ways until a Set Chunk Size. */
export const DEFAULT_CHUNK_SIZE = 128;

/** Either side's handshake (ServerHandshake, ClientHandshake). */
export interface HandshakeMachine {
  push(bytes: Uint8Array): HandshakeResult;
}

/** A protocol control message (RTMP spec 5.4) as the peer sent it, after it was applied. */
export interface ControlEvent {
  type: 'SetChunkSize' | 'Abort' | 'Acknowledgement' | 'WindowAckSize' | 'SetPeerBandwidth';
  value: number;
  /** Set Peer Bandwidth limit type. */
  limitType?: number;
}

/** What the peer sent: a protocol control message, or a User Control event (pings already answered). */
export type PeerControl = ControlEvent | { type: 'UserControl'; event: control.UserControl };

export interface ConnectionStats {
  /** Every byte both ways, the handshake's included. */
  bytesIn: number;
  bytesOut: number;
  messagesIn: number;
  acksSent: number;
  acksReceived: number;
  pingsAnswered: number;
}

export interface ConnectionHooks {
  /** Bytes for the peer, in order; false when the transport is backed up. */
  write(bytes: Buffer): boolean;
  /** The handshake is done; chunks follow (in the same read, if any came with it). */
  handshakeDone(): void;
  /** Where a message's `h.length` payload bytes go (ChunkSink.begin). */
  payloadFor(h: MessageHeader): Uint8Array;
  /** A partial message was dropped (Abort, or a new message replaced it) (ChunkSink.abandon). */
  abandoned(h: MessageHeader, dest: Uint8Array): void;
  /** A control message from the peer, already applied. `payload` is the raw message. */
  control(c: PeerControl, h: MessageHeader, payload: Uint8Array): void;
  /** Any other whole message. */
  message(h: MessageHeader, payload: Uint8Array): void;
}

export type ConnectionPhase = 'handshake' | 'chunks' | 'closed';

export class RtmpConnection {
  private phaseNow: ConnectionPhase = 'handshake';
  readonly reader: ChunkReader;
  readonly writer = new ChunkWriter(DEFAULT_CHUNK_SIZE);
  /** Window Acknowledgement Size the peer announced (0: none yet). */
  peerWindow = 0;
  /** Bytes received since the handshake, for Acknowledgement. */
  private received = 0;
  private lastAck = 0;

  constructor(
    private readonly handshake: HandshakeMachine,
    private readonly hooks: ConnectionHooks,
    limits: ChunkReaderLimits,
    readonly stats: ConnectionStats = { bytesIn: 0, bytesOut: 0, messagesIn: 0, acksSent: 0, acksReceived: 0, pingsAnswered: 0 },
  ) {
    this.reader = new ChunkReader(this.sink, limits);
  }

  get phase(): ConnectionPhase {
    return this.phaseNow;
  }

  /** Our outgoing chunk size. */
  get chunkSize(): number {
    return this.writer.chunkSize;
  }

  /** The peer's chunk size as we apply it. */
  get peerChunkSize(): number {
    return this.reader.getChunkSize();
  }

  /** One read from the peer, in any split. Throws on a protocol error. */
  push(buf: Buffer): void {
    if (this.phaseNow === 'closed') return;
    this.stats.bytesIn += buf.length;
    if (this.phaseNow === 'handshake') {
      const r = this.handshake.push(buf);
      for (const b of r.send) this.out(b);
      if (!r.done) return;
      this.phaseNow = 'chunks';
      this.hooks.handshakeDone();
      if (r.rest.length === 0 || this.phaseNow !== 'chunks') return;
      buf = Buffer.from(r.rest.buffer, r.rest.byteOffset, r.rest.length);
    }
    this.received += buf.length;
    this.reader.push(buf);
    // Acknowledge every window the peer asked for.
    const win = this.peerWindow;
    if (win > 0 && this.received - this.lastAck >= win && this.phaseNow === 'chunks') {
      this.lastAck = this.received;
      this.stats.acksSent++;
      this.sendControl(control.acknowledgement(this.received % 0x100000000));
    }
  }

  /** Handshake bytes of our own (the client's C0+C1), before any reply. */
  sendRaw(b: Buffer): boolean {
    return this.phaseNow !== 'closed' && this.out(b);
  }

  /** One message, chunked; false before the handshake is done, once closed, or when the transport is backed up. */
  send(h: MessageHeader, payload: Uint8Array): boolean {
    if (this.phaseNow !== 'chunks') return false;
    return this.out(this.writer.encode(h, payload));
  }

  sendControl(m: control.ControlMessage): boolean {
    return this.send(m.header, m.payload);
  }

  /** Our Set Chunk Size: announce it, then use it for everything after. */
  setChunkSize(size: number): void {
    this.sendControl(control.setChunkSize(size));
    this.writer.chunkSize = size;
  }

  /** A partial incoming message's destination moved (see ChunkReader.moveDestination). */
  moveDestination(from: Uint8Array, to: Uint8Array): boolean {
    return this.reader.moveDestination(from, to);
  }

  /** Nothing more is parsed or sent. Idempotent. */
  close(): void {
    this.phaseNow = 'closed';
  }

  private out(b: Buffer): boolean {
    this.stats.bytesOut += b.length;
    return this.hooks.write(b);
  }

  private readonly sink: ChunkSink = {
    begin: (h) => this.hooks.payloadFor(h),
    message: (h, payload) => {
      if (this.phaseNow === 'closed') return;
      this.stats.messagesIn++;
      if (!this.applyControl(h, payload)) this.hooks.message(h, payload);
    },
    abandon: (h, dest) => this.hooks.abandoned(h, dest),
  };

  /** Protocol control and User Control: applied here, then reported. False for any other message. */
  private applyControl(h: MessageHeader, payload: Uint8Array): boolean {
    let c: PeerControl;
    switch (h.type) {
      case MessageType.SetChunkSize: {
        // RTMP spec 5.4.1: the top bit is reserved (0).
        const size = control.decodeU32Control(payload, 'set chunk size') & 0x7fffffff;
        this.reader.setChunkSize(size);
        c = { type: 'SetChunkSize', value: size };
        break;
      }
      case MessageType.Abort: {
        const csid = control.decodeU32Control(payload, 'abort csid');
        this.reader.abort(csid);
        c = { type: 'Abort', value: csid };
        break;
      }
      case MessageType.Acknowledgement:
        this.stats.acksReceived++;
        c = { type: 'Acknowledgement', value: control.decodeU32Control(payload, 'acknowledgement') };
        break;
      case MessageType.WindowAckSize:
        this.peerWindow = control.decodeU32Control(payload, 'window ack size');
        c = { type: 'WindowAckSize', value: this.peerWindow };
        break;
      case MessageType.SetPeerBandwidth: {
        const bw = control.decodePeerBandwidth(payload);
        c = { type: 'SetPeerBandwidth', value: bw.size, limitType: bw.limitType };
        break;
      }
      case MessageType.UserControl: {
        const uc = control.decodeUserControl(payload);
        if (uc.event === 'PingRequest') {
          this.stats.pingsAnswered++;
          this.sendControl(control.pingResponse(uc.time));
        }
        c = { type: 'UserControl', event: uc };
        break;
      }
      default:
        return false;
    }
    this.hooks.control(c, h, payload);
    return true;
  }
}
