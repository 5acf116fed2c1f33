/**
 * Clients that misbehave, one every 0.5-2.5 s, each for at most a few
 * seconds: random bytes after the TCP connect, a bad RTMP handshake, a
 * valid handshake then a malformed chunk, and HTTP requests the playback
 * port must refuse. The raw client is the malformed-input tests' own
 * (test/helpers/net.ts), which shares no code with the server it pokes.
 * Counted by what the server did: closed the socket, answered (HTTP
 * status), or left it open until we closed it.
 */
import { fmt0Chunk, RawRtmpClient, setChunkSize, HANDSHAKE_SIZE } from '../../test/helpers/net.js';
import type { ClientSet } from './client-set.js';
import { within } from './deadline.js';
import type { Rng } from './rng.js';
import { bump, type Counts } from './types.js';

/** How long one abusive client may live. */
const LIFETIME_MS = 3000;
const MAX_AT_ONCE = 10;

type Variant = (c: RawRtmpClient, rng: Rng, ports: AbusePorts) => Promise<void>;

export interface AbusePorts {
  rtmp: number;
  http: number;
}

const httpRequest = (line: string, headers = 'Host: 127.0.0.1\r\n'): Buffer => Buffer.from(`${line}\r\n${headers}\r\n`, 'latin1');

/** Kind → variants; each variant sends its bytes and returns. */
const KINDS: Record<string, { port: keyof AbusePorts; variants: Record<string, Variant> }> = {
  randomBytes: {
    port: 'rtmp',
    variants: {
      rtmp: async (c, rng) => c.write(rng.bytes(rng.int(1, 4096))),
    },
  },
  badHandshake: {
    port: 'rtmp',
    variants: {
      // C0 names a version that does not exist.
      badVersion: async (c, rng) => c.write(Buffer.concat([Buffer.from([0x1f]), rng.bytes(HANDSHAKE_SIZE)])),
      // RTMPE (encrypted, C0 = 6): not supported.
      rtmpe: async (c, rng) => c.write(Buffer.concat([Buffer.from([0x06]), rng.bytes(HANDSHAKE_SIZE)])),
      // Half a C1, then silence (the server's handshake timeout is longer than our lifetime).
      truncated: async (c, rng) => c.write(Buffer.concat([Buffer.from([0x03]), rng.bytes(700)])),
    },
  },
  badChunk: {
    port: 'rtmp',
    variants: {
      // A command claiming 16 MB: over rtmp.maxCommandBytes, refused at the chunk header.
      hugeCommand: async (c) => {
        await c.handshake();
        c.write(fmt0Chunk({ csid: 3, type: 20, payload: Buffer.alloc(64), length: 0xffffff }));
      },
      chunkSizeZero: async (c) => {
        await c.handshake();
        c.write(setChunkSize(0));
      },
      // fmt 1 on a chunk stream that never had a fmt-0 header: nothing to inherit.
      orphanFmt1: async (c, rng) => {
        await c.handshake();
        c.write(Buffer.concat([Buffer.from([0x45]), Buffer.from([0, 0, 0, 0, 0, 16, 20]), rng.bytes(16)]));
      },
      garbageAmf: async (c, rng) => {
        await c.handshake();
        c.write(fmt0Chunk({ csid: 3, type: 20, payload: Buffer.concat([Buffer.from([0x02, 0xff, 0xff]), rng.bytes(100)]) }));
      },
    },
  },
  badHttp: {
    port: 'http',
    variants: {
      badEscape: async (c) => c.write(httpRequest('GET /live/%zz%zz.flv HTTP/1.1')),
      dotDot: async (c) => c.write(httpRequest('GET /../../etc/passwd HTTP/1.1')),
      notFlv: async (c) => c.write(httpRequest('GET /live/x.mp4 HTTP/1.1')),
      longPath: async (c) => c.write(httpRequest(`GET /live/${'a'.repeat(8000)}.flv HTTP/1.1`)),
      badMethod: async (c) => c.write(httpRequest('BREW /live/x.flv HTTP/1.1')),
      wsBadPath: async (c) =>
        c.write(httpRequest('GET /nope HTTP/1.1', 'Host: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n')),
      notHttp: async (c, rng) => c.write(rng.bytes(rng.int(16, 2048))),
    },
  },
};

export const ABUSE_KINDS = Object.keys(KINDS);

export class AbuseChurn {
  readonly counts: Record<string, Counts> = Object.fromEntries(ABUSE_KINDS.map((k) => [k, {}]));
  private active = 0;

  constructor(
    private readonly ports: AbusePorts,
    private readonly rng: Rng,
    private readonly set: ClientSet,
  ) {}

  start(): void {
    this.set.later(this.rng.between(500, 2500), () => {
      if (this.active < MAX_AT_ONCE) void this.one();
      this.start();
    });
  }

  private async one(): Promise<void> {
    const kind = this.rng.pick(ABUSE_KINDS);
    const spec = KINDS[kind]!;
    const variant = this.rng.pick(Object.keys(spec.variants));
    const counts = this.counts[kind]!;
    const outcome = (what: string): void => bump(counts, `${variant}: ${what}`);
    this.active++;
    let c: RawRtmpClient | undefined;
    try {
      c = await this.set.track(RawRtmpClient.connect(this.ports[spec.port], '127.0.0.1', LIFETIME_MS));
      const client = c;
      const forget = this.set.add(async () => client.destroy());
      // A send that fails (the server cut a handshake short) is told apart by what the close shows.
      await this.set.track(within(spec.variants[variant]!(client, this.rng, this.ports).catch(() => undefined), LIFETIME_MS));
      const closed = (await within(client.closed.then(() => true), spec.port === 'http' ? 1000 : LIFETIME_MS)) ?? false;
      if (spec.port === 'http') {
        const status = /^HTTP\/1\.[01] (\d{3})/.exec(client.received().toString('latin1'))?.[1];
        outcome(status ? `HTTP ${status}${closed ? ', closed' : ''}` : closed ? 'closed without an answer' : 'no answer');
      } else outcome(closed ? 'closed by the server' : 'left open (we closed it)');
      client.destroy();
      forget();
    } catch {
      outcome('connect failed');
      c?.destroy();
    } finally {
      this.active--;
    }
  }
}
