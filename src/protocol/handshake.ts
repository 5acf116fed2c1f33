import { randomBytes } from 'node:crypto';
import { ByteReader, ByteWriter } from '../core/bytes.js';
import { SluiceError } from '../core/errors.js';
import {
  FMS_KEY,
  FMS_KEY_NAME,
  FP_KEY,
  FP_KEY_NAME,
  HANDSHAKE_SIZE,
  findDigest,
  imprintDigest,
  imprintResponse,
  verifyResponse,
  type DigestSchema,
} from './handshake-digest.js';

/**
 * The RTMP handshake (RTMP spec 5.2) as two socket-free state machines.
 * Bytes go in through push() in any split; what to write back comes out,
 * and once the handshake is done the bytes that followed it in the same
 * push come back as `rest` — they are the first chunks of the session.
 *
 *   client                         server
 *   C0 (1) + C1 (1536)   ─────▶
 *                        ◀─────   S0 (1) + S1 (1536) + S2 (1536)
 *   C2 (1536)            ─────▶
 *
 * Plain (spec): S2 echoes C1, C2 echoes S1. Digest ("complex") handshake:
 * when C1's version field is non-zero and C1 carries a valid digest, S1
 * carries one too and S2/C2 are signed; see handshake-digest.ts.
 */

/** C0/S0: the only version we speak (spec 5.2.2; 0-2 deprecated, 6/8 = RTMPE). */
export const RTMP_VERSION = 3;
/** S1 version field of a digest reply: FMS 13.14.10.13; ffmpeg checks S1 only when byte 0 is >= 3. */
export const SERVER_VERSION = 0x0d0e0a0d;
/** C1 version field of a digest C1: Flash Player 9.0.124.2, as ffmpeg and librtmp send. */
export const CLIENT_VERSION = 0x09007c02;

/** What one push() produced. */
export interface HandshakeResult {
  /** Buffers to write to the peer, in order. */
  send: Buffer[];
  /** The handshake is complete; hand `rest` and all later bytes to the chunk reader. */
  done: boolean;
  /** Bytes of this push that followed the handshake (a view, no copy); empty until done. */
  rest: Uint8Array;
}

export interface ServerHandshakeOptions {
  /** Answer digest C1s with the digest handshake (default true); false always replies plain. */
  complex?: boolean;
  /** Milliseconds for S1's time field (default: process uptime). */
  now?: () => number;
}

export interface ClientHandshakeOptions {
  /** Send a digest C1 signed with the Flash Player key (default true). */
  complex?: boolean;
  /** Digest layout of C1 (default 1, digest block first, as ffmpeg and librtmp send). */
  schema?: DigestSchema;
  /** Milliseconds for C1's time field (default: process uptime). */
  now?: () => number;
}

const EMPTY = new Uint8Array(0);
const uptime = (): number => Math.floor(performance.now());

/**
 * A fixed-size packet (C1, S1, …) collected across pushes. When it arrives
 * whole in one push it is returned as a view of the input; only a packet
 * split across reads is staged (copied) into a buffer of its own.
 */
class FixedPacket {
  private stage: Buffer | undefined;
  private have = 0;

  constructor(readonly what: string, readonly size = HANDSHAKE_SIZE) {}

  get received(): number {
    return this.have;
  }

  /** Takes what it can from `r`; the whole packet once complete, else undefined. */
  take(r: ByteReader): Uint8Array | undefined {
    if (this.have === 0 && r.remaining >= this.size) {
      this.have = this.size;
      return r.bytes(this.size, this.what);
    }
    this.stage ??= Buffer.allocUnsafe(this.size);
    const n = Math.min(this.size - this.have, r.remaining);
    this.stage.set(r.bytes(n, this.what), this.have);
    this.have += n;
    return this.have === this.size ? this.stage : undefined;
  }
}

/** 0x09007c02 → "9.0.124.2". */
export function formatVersion(v: number): string {
  return [v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff].join('.');
}

/** Refuses a C0/S0 that is not version 3, saying what it looks like instead. */
function checkVersion(v: number, what: 'C0' | 'S0'): void {
  if (v === RTMP_VERSION) return;
  if (v === 6 || v === 8) {
    throw new SluiceError('ERR_HANDSHAKE', `${what} version ${v} is RTMPE (encrypted RTMP): not supported`);
  }
  // Spec 5.2.2: values >= 32 are reserved so text protocols are told apart.
  const hint =
    v === 0x16 ? ' (a TLS ClientHello: rtmps to a plain port?)'
    : v >= 0x41 && v <= 0x5a ? ` ('${String.fromCharCode(v)}': looks like HTTP)`
    : '';
  throw new SluiceError('ERR_HANDSHAKE', `${what} version ${v}${hint}: only RTMP version ${RTMP_VERSION} is supported`);
}

/** Bytes 0..3 (time) and 8..1535 (random) of two packets match: an echo (time2 at 4..7 is free). */
function isEcho(echo: Uint8Array, original: Buffer): boolean {
  return original.compare(echo, 0, 4, 0, 4) === 0 && original.compare(echo, 8, HANDSHAKE_SIZE, 8, HANDSHAKE_SIZE) === 0;
}

function afterDone(): SluiceError {
  return new SluiceError('ERR_HANDSHAKE', 'push after the handshake completed');
}

type ServerStage = 'c0' | 'c1' | 'c2' | 'done';

/** Server side: C0+C1 in → S0+S1+S2 out → C2 in → done. */
export class ServerHandshake {
  stage: ServerStage = 'c0';
  /** The client sent a valid digest C1 and got a digest reply. */
  complex = false;
  /** Digest layout the client used (and S1 mirrors); undefined when plain. */
  schema: DigestSchema | undefined;
  /** C1's version field, e.g. 0x09007c02 from ffmpeg; 0 from a plain client. */
  clientVersion = 0;
  /** C2 was the expected echo/signature. Log-worthy only: many clients get it wrong. */
  c2Valid: boolean | undefined;

  private readonly allowComplex: boolean;
  private readonly now: () => number;
  private readonly c1 = new FixedPacket('C1');
  private readonly c2 = new FixedPacket('C2');
  /** The S1 we sent (plain: C2 must echo it). */
  private s1: Buffer | undefined;
  /** The digest of the S1 we sent (complex: keys C2's signature). */
  private s1Digest: Buffer | undefined;

  constructor(options: ServerHandshakeOptions = {}) {
    this.allowComplex = options.complex ?? true;
    this.now = options.now ?? uptime;
  }

  push(bytes: Uint8Array): HandshakeResult {
    if (this.stage === 'done') throw afterDone();
    const r = new ByteReader(bytes, 0, bytes.length, 'ERR_HANDSHAKE');
    const send: Buffer[] = [];
    while (this.stage !== 'done' && r.remaining > 0) {
      switch (this.stage) {
        case 'c0':
          checkVersion(r.u8('C0'), 'C0');
          this.stage = 'c1';
          break;
        case 'c1': {
          const c1 = this.c1.take(r);
          if (c1) {
            send.push(this.reply(c1));
            this.stage = 'c2';
          }
          break;
        }
        case 'c2': {
          const c2 = this.c2.take(r);
          if (c2) {
            this.c2Valid = this.s1Digest ? verifyResponse(c2, this.s1Digest, FP_KEY) : isEcho(c2, this.s1!);
            this.s1 = this.s1Digest = undefined;
            this.stage = 'done';
          }
          break;
        }
      }
    }
    const done = this.stage === 'done';
    return { send, done, rest: done ? bytes.subarray(r.pos) : EMPTY };
  }

  /** The peer closed: throws unless the handshake completed, naming where it stopped. */
  end(): void {
    if (this.stage === 'done') return;
    const at =
      this.stage === 'c0' ? 'C0'
      : this.stage === 'c1' ? `C1 (${this.c1.received} of ${HANDSHAKE_SIZE} bytes)`
      : `C2 (${this.c2.received} of ${HANDSHAKE_SIZE} bytes)`;
    throw new SluiceError('ERR_HANDSHAKE', `connection closed while waiting for ${at}`);
  }

  /** S0+S1+S2 in one buffer (one write). */
  private reply(c1: Uint8Array): Buffer {
    const r = new ByteReader(c1, 0, c1.length, 'ERR_HANDSHAKE');
    r.skip(4, 'C1 time');
    this.clientVersion = r.u32be('C1 version');
    // A zero version field means a plain (spec) C1; otherwise look for the FP-key digest.
    const found = this.allowComplex && this.clientVersion !== 0 ? findDigest(c1, FP_KEY_NAME) : undefined;

    const w = new ByteWriter(1 + 2 * HANDSHAKE_SIZE);
    w.u8(RTMP_VERSION);
    w.u32be(this.now()).u32be(found ? SERVER_VERSION : 0).bytes(randomBytes(HANDSHAKE_SIZE - 8));
    w.bytes(found ? randomBytes(HANDSHAKE_SIZE) : c1); // plain S2 echoes C1 (spec 5.2.4)
    const out = w.view();
    const s1 = out.subarray(1, 1 + HANDSHAKE_SIZE);
    if (found) {
      this.complex = true;
      this.schema = found.schema;
      this.s1Digest = imprintDigest(s1, found.schema, FMS_KEY_NAME).digest;
      imprintResponse(out.subarray(1 + HANDSHAKE_SIZE), found.digest, FMS_KEY);
    } else {
      this.s1 = s1;
    }
    return out;
  }
}

type ClientStage = 'start' | 's0' | 's1' | 's2' | 'done';

/** Client side: start() → C0+C1 out → S0+S1+S2 in → C2 out → done. */
export class ClientHandshake {
  stage: ClientStage = 'start';
  /** The server answered with the digest handshake (S1 digest verified). */
  complex = false;
  /** Digest layout of the server's S1; undefined when it replied plain. */
  schema: DigestSchema | undefined;
  /** S1's version field (0 from a plain server). */
  serverVersion = 0;
  /** S2 was the expected signature/echo of C1. Informational, like the server's c2Valid. */
  s2Valid: boolean | undefined;

  private readonly wantComplex: boolean;
  private readonly wantSchema: DigestSchema;
  private readonly now: () => number;
  private readonly s1 = new FixedPacket('S1');
  private readonly s2 = new FixedPacket('S2');
  private c1: Buffer | undefined;
  private c1Digest: Buffer | undefined;
  /** Built as soon as S1 is in, sent once S2 is. */
  private c2: Buffer | undefined;

  constructor(options: ClientHandshakeOptions = {}) {
    this.wantComplex = options.complex ?? true;
    this.wantSchema = options.schema ?? 1;
    this.now = options.now ?? uptime;
  }

  /** C0+C1, to write first. */
  start(): Buffer {
    if (this.stage !== 'start') throw new SluiceError('ERR_HANDSHAKE', 'start() called twice');
    const w = new ByteWriter(1 + HANDSHAKE_SIZE);
    w.u8(RTMP_VERSION);
    w.u32be(this.now()).u32be(this.wantComplex ? CLIENT_VERSION : 0).bytes(randomBytes(HANDSHAKE_SIZE - 8));
    const out = w.view();
    this.c1 = out.subarray(1);
    if (this.wantComplex) this.c1Digest = imprintDigest(this.c1, this.wantSchema, FP_KEY_NAME).digest;
    this.stage = 's0';
    return out;
  }

  push(bytes: Uint8Array): HandshakeResult {
    if (this.stage === 'start') throw new SluiceError('ERR_HANDSHAKE', 'push before start()');
    if (this.stage === 'done') throw afterDone();
    const r = new ByteReader(bytes, 0, bytes.length, 'ERR_HANDSHAKE');
    const send: Buffer[] = [];
    while (this.stage !== 'done' && r.remaining > 0) {
      switch (this.stage) {
        case 's0':
          checkVersion(r.u8('S0'), 'S0');
          this.stage = 's1';
          break;
        case 's1': {
          const s1 = this.s1.take(r);
          if (s1) {
            this.c2 = this.answer(s1);
            this.stage = 's2';
          }
          break;
        }
        case 's2': {
          const s2 = this.s2.take(r);
          if (s2) {
            this.s2Valid = this.complex ? verifyResponse(s2, this.c1Digest!, FMS_KEY) : isEcho(s2, this.c1!);
            send.push(this.c2!);
            this.c1 = this.c1Digest = this.c2 = undefined;
            this.stage = 'done';
          }
          break;
        }
      }
    }
    const done = this.stage === 'done';
    return { send, done, rest: done ? bytes.subarray(r.pos) : EMPTY };
  }

  /** The peer closed: throws unless the handshake completed, naming where it stopped. */
  end(): void {
    if (this.stage === 'done') return;
    const at =
      this.stage === 'start' ? 'start()'
      : this.stage === 's0' ? 'S0'
      : this.stage === 's1' ? `S1 (${this.s1.received} of ${HANDSHAKE_SIZE} bytes)`
      : `S2 (${this.s2.received} of ${HANDSHAKE_SIZE} bytes)`;
    throw new SluiceError('ERR_HANDSHAKE', `connection closed while waiting for ${at}`);
  }

  /** Classifies S1 and builds C2 while S1 is at hand (it may be a view of the caller's read). */
  private answer(s1: Uint8Array): Buffer {
    const r = new ByteReader(s1, 0, s1.length, 'ERR_HANDSHAKE');
    r.skip(4, 'S1 time');
    this.serverVersion = r.u32be('S1 version');
    // Plain reply: version 0, or an echo of our C1 as S1 (nginx-rtmp's old-style answer).
    const plain = !this.wantComplex || this.serverVersion === 0 || isEcho(s1, this.c1!);
    if (plain) return Buffer.from(s1); // C2 echoes S1 (spec 5.2.4)

    const found = findDigest(s1, FMS_KEY_NAME, this.wantSchema);
    if (!found) {
      throw new SluiceError(
        'ERR_HANDSHAKE',
        `S1 digest does not verify with the FMS key (server version ${formatVersion(this.serverVersion)})`,
      );
    }
    this.complex = true;
    this.schema = found.schema;
    const c2 = randomBytes(HANDSHAKE_SIZE);
    imprintResponse(c2, found.digest, FP_KEY);
    return c2;
  }
}
