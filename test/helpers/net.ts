/**
 * Network helpers for tests: free ports, bounded waits, and a raw RTMP
 * "poking" client that speaks just enough RTMP (simple handshake, fmt-0
 * chunks, a small AMF0 encoder) to send malformed input by hand and watch
 * whether and when the server closes the socket.
 *
 * Nothing here imports src/: the malformed-input suite must not depend on
 * the encoder it is trying to break.
 */
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';

/** A port that was free a moment ago (bind 0, read it, release it). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen({ host, port: 0 }, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Rejects with "timeout: WHAT after MS ms" unless `promise` settles first. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timeout: ${what} after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `cond` every `intervalMs` until it is truthy; rejects after `timeoutMs`. */
export async function waitFor(
  cond: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what = 'condition',
  intervalMs = 20,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() >= deadline) throw new Error(`timeout: ${what} not met within ${timeoutMs} ms`);
    await sleep(intervalMs);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Resolves once something listens on 127.0.0.1:`port`, found by reading
 * /proc/net/tcp (state 0A = LISTEN) rather than by connecting: a probe
 * connection would use up `ffmpeg -listen 1`'s single accept.
 */
export async function waitForListen(port: number, timeoutMs: number): Promise<void> {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  await waitFor(
    async () => {
      for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
        const text = await readFile(file, 'utf8').catch(() => '');
        for (const line of text.split('\n')) {
          const f = line.trim().split(/\s+/);
          // "sl local_address rem_address st ...": local is HEXADDR:HEXPORT
          if (f[1]?.endsWith(`:${hexPort}`) && f[3] === '0A') return true;
        }
      }
      return false;
    },
    timeoutMs,
    `listener on port ${port}`,
  );
}

// ---------------------------------------------------------------------------
// Bytes: basic header, fmt-0 chunks, AMF0
// ---------------------------------------------------------------------------

/** RTMP spec 5.3.1.1: 1-byte form for csid 2..63, 2-byte for 64..319, 3-byte for 64..65599. */
export function basicHeader(fmt: 0 | 1 | 2 | 3, csid: number): Buffer {
  if (csid >= 2 && csid <= 63) return Buffer.from([(fmt << 6) | csid]);
  if (csid >= 64 && csid <= 319) return Buffer.from([(fmt << 6) | 0, csid - 64]);
  if (csid >= 64 && csid <= 65599) {
    const v = csid - 64;
    return Buffer.from([(fmt << 6) | 1, v & 0xff, v >> 8]);
  }
  throw new RangeError(`csid ${csid} cannot be encoded`);
}

export interface ChunkOptions {
  csid?: number;
  timestamp?: number;
  type: number;
  streamId?: number;
  payload: Uint8Array;
  /** Message length to put in the header; defaults to payload.length (override to lie). */
  length?: number;
  /** Split the payload into chunks of this size with fmt-3 continuations (default 128). */
  chunkSize?: number;
}

/**
 * One message as a fmt-0 chunk (basic header + 11-byte message header +
 * payload), split into fmt-3 continuation chunks at `chunkSize`.
 *
 *   basic header | ts u24be | length u24be | type u8 | stream id u32le | [ext ts u32be]
 */
export function fmt0Chunk(o: ChunkOptions): Buffer {
  return Buffer.concat(fmt0Chunks(o));
}

/** fmt0Chunk's chunks one by one (header and payload of each), for interleaving messages by hand. */
export function fmt0Chunks(o: ChunkOptions): Buffer[] {
  const csid = o.csid ?? 3;
  const ts = o.timestamp ?? 0;
  const chunkSize = o.chunkSize ?? 128;
  const extended = ts >= 0xffffff;
  const mh = Buffer.alloc(11 + (extended ? 4 : 0));
  mh.writeUIntBE(extended ? 0xffffff : ts, 0, 3);
  mh.writeUIntBE(o.length ?? o.payload.length, 3, 3);
  mh.writeUInt8(o.type, 6);
  mh.writeUInt32LE(o.streamId ?? 0, 7);
  if (extended) mh.writeUInt32BE(ts >>> 0, 11);
  const payload = Buffer.from(o.payload.buffer, o.payload.byteOffset, o.payload.byteLength);
  const chunks: Buffer[] = [];
  for (let off = 0; off === 0 || off < payload.length; off += chunkSize) {
    // fmt-3 continuations repeat the extended timestamp.
    const head = off === 0 ? [basicHeader(0, csid), mh] : extended ? [basicHeader(3, csid), mh.subarray(11)] : [basicHeader(3, csid)];
    chunks.push(Buffer.concat([...head, payload.subarray(off, off + chunkSize)]));
  }
  return chunks;
}

/** Protocol control message Set Chunk Size (type 1, csid 2, stream 0; RTMP 5.4.1). */
export function setChunkSize(size: number): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt32BE(size >>> 0, 0);
  return fmt0Chunk({ csid: 2, type: 1, payload: p });
}

/** AMF0 values the encoder understands. Plain objects become AMF0 objects (0x03). */
export type Amf0Value = number | string | boolean | null | undefined | { [key: string]: Amf0Value };

/** Minimal AMF0 encoder (AMF0 spec 2.2-2.11): number, boolean, string, object, null, undefined. */
export function amf0(...values: Amf0Value[]): Buffer {
  const out: Buffer[] = [];
  const str = (s: string): Buffer => {
    const b = Buffer.from(s, 'utf8');
    const h = Buffer.alloc(2);
    h.writeUInt16BE(b.length, 0);
    return Buffer.concat([h, b]);
  };
  const enc = (v: Amf0Value): void => {
    if (typeof v === 'number') {
      const b = Buffer.alloc(9);
      b[0] = 0x00;
      b.writeDoubleBE(v, 1);
      out.push(b);
    } else if (typeof v === 'boolean') {
      out.push(Buffer.from([0x01, v ? 1 : 0]));
    } else if (typeof v === 'string') {
      out.push(Buffer.from([0x02]), str(v));
    } else if (v === null) {
      out.push(Buffer.from([0x05]));
    } else if (v === undefined) {
      out.push(Buffer.from([0x06]));
    } else {
      out.push(Buffer.from([0x03]));
      for (const [k, val] of Object.entries(v)) {
        out.push(str(k));
        enc(val);
      }
      out.push(Buffer.from([0x00, 0x00, 0x09])); // empty key + object-end marker
    }
  };
  for (const v of values) enc(v);
  return Buffer.concat(out);
}

/** The AMF0 payload of a NetConnection `connect` command (transaction id 1). */
export function connectCommand(app: string, tcUrl: string): Buffer {
  return amf0('connect', 1, {
    app,
    type: 'nonprivate',
    flashVer: 'FMLE/3.0 (compatible; sluice-test)',
    tcUrl,
  });
}

/**
 * An AMF0 value nested `depth` objects deep: {a:{a:{...{}}}} — a valid
 * encoding whose only fault is its depth.
 */
export function nestedAmf0Object(depth: number): Buffer {
  const open = Buffer.from([0x03, 0x00, 0x01, 0x61]); // object marker, then key "a" whose value is the next level
  const head: Buffer[] = [];
  for (let i = 0; i < depth - 1; i++) head.push(open);
  const innermost = Buffer.from([0x03, 0x00, 0x00, 0x09]); // {}
  const close = Buffer.from([0x00, 0x00, 0x09]);
  const tail: Buffer[] = [];
  for (let i = 0; i < depth - 1; i++) tail.push(close);
  return Buffer.concat([...head, innermost, ...tail]);
}

// ---------------------------------------------------------------------------
// Raw client
// ---------------------------------------------------------------------------

export const HANDSHAKE_SIZE = 1536;

export interface CloseInfo {
  /** ms since the client's `t0` (socket creation) when the server closed. */
  atMs: number;
  /** 'end' (FIN), 'error' (e.g. ECONNRESET) or 'close'. */
  how: 'end' | 'error' | 'close';
  error?: string;
}

/**
 * A raw TCP RTMP client for malformed-input tests. It never throws on
 * writes to a socket the server has closed; `closed` resolves the first
 * time the server ends, resets or closes the connection.
 */
export class RawRtmpClient {
  readonly socket: net.Socket;
  readonly t0 = Date.now();
  /** Everything the server sent, in order. */
  private readonly chunks: Buffer[] = [];
  private receivedLength = 0;
  private closeInfo: CloseInfo | undefined;
  readonly closed: Promise<CloseInfo>;
  private wake: (() => void) | undefined;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    this.closed = new Promise((resolve) => {
      const done = (how: CloseInfo['how'], err?: Error): void => {
        if (this.closeInfo) return;
        this.closeInfo = { atMs: Date.now() - this.t0, how, ...(err ? { error: err.message } : {}) };
        resolve(this.closeInfo);
        this.wake?.();
      };
      socket.on('end', () => done('end'));
      socket.on('error', (err) => done('error', err));
      socket.on('close', () => done('close'));
    });
    socket.on('data', (d: Buffer) => {
      this.chunks.push(d);
      this.receivedLength += d.length;
      this.wake?.();
    });
  }

  static async connect(port: number, host = '127.0.0.1', timeoutMs = 3000): Promise<RawRtmpClient> {
    const socket = net.connect({ port, host, noDelay: true });
    const client = new RawRtmpClient(socket);
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        socket.once('connect', () => resolve());
        socket.once('error', reject);
      }),
      timeoutMs,
      `connect to ${host}:${port}`,
    );
    return client;
  }

  get isClosed(): boolean {
    return this.closeInfo !== undefined;
  }

  get bytesReceived(): number {
    return this.receivedLength;
  }

  /** All bytes received so far. */
  received(): Buffer {
    return Buffer.concat(this.chunks);
  }

  /** Writes bytes; a write to a closed socket is silently dropped. */
  write(bytes: Uint8Array): void {
    if (this.isClosed || this.socket.destroyed) return;
    this.socket.write(bytes, () => undefined);
  }

  /** Resolves when at least `n` bytes in total have been received. */
  async waitForBytes(n: number, timeoutMs: number): Promise<void> {
    const wait = new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (this.receivedLength >= n) resolve();
        else if (this.closeInfo) reject(new Error(`server closed (${this.closeInfo.how}) after ${this.receivedLength} of ${n} bytes`));
        else this.wake = check;
      };
      check();
    });
    try {
      await withTimeout(wait, timeoutMs, `waiting for ${n} bytes (have ${this.receivedLength})`);
    } finally {
      this.wake = undefined;
    }
  }

  /**
   * Plain (simple) handshake, RTMP spec 5.2: C0=3, C1 = time + 4 zero bytes
   * (zero version field: no digest) + 1528 random; read S0+S1; send C2 = S1;
   * read S2. C2 goes out once S1 is in, as the spec allows, so servers that
   * hold S2 until C2 do not deadlock us.
   */
  async handshake(timeoutMs = 3000): Promise<void> {
    const c1 = Buffer.alloc(HANDSHAKE_SIZE);
    c1.writeUInt32BE(0, 0);
    c1.writeUInt32BE(0, 4);
    randomBytes(HANDSHAKE_SIZE - 8).copy(c1, 8);
    const base = this.receivedLength;
    this.write(Buffer.concat([Buffer.from([3]), c1]));
    await this.waitForBytes(base + 1 + HANDSHAKE_SIZE, timeoutMs);
    const got = this.received();
    if (got[base] !== 3) throw new Error(`S0 version ${got[base]}, want 3`);
    const s1 = got.subarray(base + 1, base + 1 + HANDSHAKE_SIZE);
    this.write(s1);
    await this.waitForBytes(base + 1 + 2 * HANDSHAKE_SIZE, timeoutMs);
  }

  /** Handshake, then a well-formed `connect` to `app`; waits for the server to answer with some bytes. */
  async handshakeAndConnect(port: number, app = 'live', timeoutMs = 3000): Promise<void> {
    await this.handshake(timeoutMs);
    const before = this.receivedLength;
    this.write(
      fmt0Chunk({ csid: 3, type: 20, payload: connectCommand(app, `rtmp://127.0.0.1:${port}/${app}`) }),
    );
    // Window Ack Size / Set Peer Bandwidth / _result: any reply will do.
    await this.waitForBytes(before + 12, timeoutMs);
  }

  /**
   * Resolves with the close info if the server closes the connection within
   * `ms` from now; rejects (and leaves the socket to `destroy()`) otherwise.
   */
  async expectClosedWithin(ms: number, what: string): Promise<CloseInfo> {
    return withTimeout(this.closed, ms, `server to close the connection (${what})`);
  }

  destroy(): void {
    this.socket.destroy();
  }
}
