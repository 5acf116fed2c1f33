/**
 * A WebSocket client's side of the framing (RFC 6455 §5) for the load
 * generator's WS-FLV players: the server's frames decoded in place, as
 * chunked-body.ts does for HTTP, and the few frames a client sends.
 *
 * Each read's frame headers are squeezed out of the buffer it arrived in
 * and the binary payload is handed on as one piece per read. FLV is one
 * byte stream however the server cuts it into messages, so message
 * boundaries are not kept. Pings and pongs go to `onControl` as they come;
 * a Close ends decoding and is left in `closePayload` for the caller to act
 * on after the data before it. The ws package allocated a buffer per message
 * (and Node one per read); collecting them was the player thread's largest
 * cost at 500 players, and most of the WS-FLV latency it measured.
 */
import { randomBytes } from 'node:crypto';
import { SluiceError } from '../src/core/errors.js';

export const WsOpcode = { Continuation: 0, Text: 1, Binary: 2, Close: 8, Ping: 9, Pong: 10 } as const;

/** 2 bytes, then up to 8 of extended length; a server's frames carry no mask. */
const MAX_HEADER = 10;
/** RFC 6455 §5.5: control frames are not fragmented and carry at most 125 bytes. */
const MAX_CONTROL = 125;

const fail = (msg: string): SluiceError => new SluiceError('ERR_PROTOCOL', `websocket: ${msg}`);

export class WsFrames {
  private readonly stage = Buffer.alloc(MAX_HEADER);
  private staged = 0;
  /** Payload bytes left in the current frame; -1 while reading a header. */
  private left = -1;
  private opcode = 0;
  /** A control frame's payload, collected whole for `onControl`. */
  private control: Buffer | null = null;
  private controlFill = 0;
  /** A binary message whose last frame has not come yet: continuations follow. */
  private fragmented = false;
  /** A Close frame came: nothing after it is read. Its payload, for the caller once the data before it is handled. */
  closed = false;
  closePayload: Buffer | undefined;

  constructor(
    private readonly onControl: (opcode: number, payload: Buffer) => void,
    private readonly maxFrameBytes = 64 * 1024 * 1024,
  ) {}

  /**
   * Decodes `buf` (which it rewrites: pass a buffer nobody else reads) and
   * returns the binary payload it held, a view of `buf`'s start. Throws on
   * a frame a server must not send.
   */
  push(buf: Buffer): Buffer {
    let out = 0;
    let i = 0;
    const n = buf.length;
    while (i < n && !this.closed) {
      if (this.left < 0) {
        i = this.header(buf, i);
        continue;
      }
      const take = Math.min(this.left, n - i);
      if (this.control) {
        buf.copy(this.control, this.controlFill, i, i + take);
        this.controlFill += take;
      } else {
        if (out !== i) buf.copy(buf, out, i, i + take);
        out += take;
      }
      i += take;
      this.left -= take;
      if (this.left === 0) this.endFrame();
    }
    return buf.subarray(0, out);
  }

  /** Stages header bytes from `i` until the header is whole; returns where it stopped. */
  private header(buf: Buffer, i: number): number {
    while (i < buf.length) {
      this.stage[this.staged++] = buf[i++]!;
      if (this.staged === this.headerSize()) {
        this.staged = 0;
        this.begin();
        return i;
      }
    }
    return i;
  }

  private headerSize(): number {
    if (this.staged < 2) return 2;
    const len7 = this.stage[1]! & 0x7f;
    return len7 === 126 ? 4 : len7 === 127 ? 10 : 2;
  }

  private begin(): void {
    const b0 = this.stage[0]!;
    const b1 = this.stage[1]!;
    if (b0 & 0x70) throw fail('reserved bits set, and no extension was negotiated');
    if (b1 & 0x80) throw fail('a masked frame from the server');
    const fin = (b0 & 0x80) !== 0;
    const opcode = b0 & 0x0f;
    let len = b1 & 0x7f;
    if (len === 126) len = this.stage.readUInt16BE(2);
    else if (len === 127) {
      const high = this.stage.readUInt32BE(2);
      if (high > 0x1fffff) throw fail('a frame length over 2^53');
      len = high * 2 ** 32 + this.stage.readUInt32BE(6);
    }
    if (opcode >= 8) {
      if (opcode !== WsOpcode.Close && opcode !== WsOpcode.Ping && opcode !== WsOpcode.Pong) throw fail(`unknown control opcode ${opcode}`);
      if (!fin || len > MAX_CONTROL) throw fail(`control frame ${opcode} fragmented or over ${MAX_CONTROL} bytes`);
      this.control = Buffer.alloc(len);
      this.controlFill = 0;
    } else {
      if (opcode === WsOpcode.Text) throw fail('a text message: FLV comes in binary messages');
      if (opcode === WsOpcode.Binary && this.fragmented) throw fail('a new message inside a fragmented one');
      if (opcode === WsOpcode.Continuation && !this.fragmented) throw fail('a continuation frame outside a message');
      if (opcode !== WsOpcode.Binary && opcode !== WsOpcode.Continuation) throw fail(`unknown data opcode ${opcode}`);
      if (len > this.maxFrameBytes) throw fail(`a frame of ${len} bytes, over ${this.maxFrameBytes}`);
      this.fragmented = !fin;
    }
    this.opcode = opcode;
    this.left = len;
    if (len === 0) this.endFrame();
  }

  private endFrame(): void {
    this.left = -1;
    const c = this.control;
    if (!c) return;
    this.control = null;
    if (this.opcode !== WsOpcode.Close) return this.onControl(this.opcode, c);
    // Not reported from here: the payload before the Close, in this same read, comes first.
    this.closed = true;
    this.closePayload = c;
  }
}

/** A client frame (FIN set, masked as RFC 6455 §5.3 requires) of a control opcode. */
export function clientControlFrame(opcode: number, payload: Uint8Array = Buffer.alloc(0)): Buffer {
  if (payload.length > MAX_CONTROL) throw new RangeError(`control payload of ${payload.length} bytes, over ${MAX_CONTROL}`);
  const mask = randomBytes(4);
  const out = Buffer.allocUnsafe(6 + payload.length);
  out[0] = 0x80 | opcode;
  out[1] = 0x80 | payload.length;
  mask.copy(out, 2);
  for (let i = 0; i < payload.length; i++) out[6 + i] = payload[i]! ^ mask[i & 3]!;
  return out;
}

/** A Close frame's payload: the status code (§7.4), no reason. */
export function closePayload(code: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(code);
  return b;
}

/** The close code a Close frame's payload carries; 1005 (§7.1.5) when it has none. */
export function closeCodeOf(payload: Buffer): number {
  return payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
}
