/**
 * Configuration: embedded defaults, then a YAML/JSON file, then SLUICE_*
 * environment variables, then command-line flags. Validated once at start;
 * a bad value fails with a message naming its key. Every limit lives here
 * with its default (docs/configuration.md lists them).
 */
import { readFileSync } from 'node:fs';
import { availableParallelism, hostname } from 'node:os';
import { z } from 'zod';
import YAML from 'yaml';
import { SluiceError } from '../core/errors.js';
import { parseCidr } from '../access/ip-rules.js';
import { envConfig, isObject } from './config-env.js';

const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.number().int().min(min).max(max);
const MiB = 1024 * 1024;

const cidrList = z
  .array(
    z.string().superRefine((text, ctx) => {
      try {
        parseCidr(text);
      } catch (err) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: (err as Error).message });
      }
    }),
  )
  .default([]);
const hookUrls = z.array(z.string().regex(/^https?:\/\/\S+$/, 'expected an http:// or https:// URL')).default([]);
const secretList = z.array(z.string().min(16, 'a signing secret needs at least 16 characters')).default([]);

/** A TLS listener: host, port, and a PEM certificate chain and private key (on when both are set). */
function tlsListener<T extends z.ZodRawShape>(port: number, extra: T) {
  return z
    .object({ host: z.string().default('0.0.0.0'), port: int(0, 65535).default(port), certFile: z.string().optional(), keyFile: z.string().optional(), ...extra })
    .strict()
    .refine((t) => (t.certFile === undefined) === (t.keyFile === undefined), { message: 'set both certFile and keyFile, or neither' })
    // {} is valid input (every key has a default or is optional); zod cannot see that through the generic T.
    .default({} as never);
}

/** An origin: rtmp[s]://host[:port][/app] (no app: the player's app is used). */
const originUrl = z
  .string()
  .regex(/^rtmps?:\/\/[^/\s?#]+(\/[^\s?#]*)?$/, 'expected rtmp://host[:port][/app] or rtmps://...');

const configObject = z
  .object({
    /** standalone: serves what is published to it; origin: the same, for edges to pull from; edge: pulls what it does not have from edge.origins. */
    mode: z.enum(['standalone', 'origin', 'edge']).default('standalone'),
    edge: z
      .object({
        /** Origins in order of preference; the first that has a stream serves it, the next ones are the failover. */
        origins: z.array(originUrl).default([]),
        /** rtmps:// upstreams (pulls, forwards, relay push): a PEM file of CAs trusted beside the system's. */
        tlsCaFile: z.string().optional(),
        /** rtmps:// upstreams: check the certificate and its name (off only for testing). */
        tlsVerify: z.boolean().default(true),
        /** Bound on reaching an origin: TCP connect, handshake, connect and play replies. */
        connectTimeoutMs: int(100).default(3000),
        /** Backoff between rounds over all origins: doubles from minMs to maxMs. */
        retry: z
          .object({ minMs: int(0).default(200), maxMs: int(0).default(5000) })
          .strict()
          .refine((r) => r.maxMs >= r.minMs, { message: 'maxMs must be at least minMs', path: ['maxMs'] })
          .default({}),
        /** A player of a stream no origin has (yet) waits this long, then gets StreamNotFound / 404. */
        playWaitMs: int(100).default(5000),
        /** The upstream of a stream closes this long after its last player left. */
        idleStopMs: int(0).default(5000),
        /** An upstream that delivers nothing this long is dropped and the next origin tried. */
        stallTimeoutMs: int(100).default(5000),
      })
      .strict()
      .default({}),
    relay: z
      .object({
        /** Republish streams whose key matches `match` (`*` = anything) to every URL of `to`, each independently. */
        push: z
          .array(z.object({ match: z.string().min(1), to: z.array(originUrl).min(1) }).strict())
          .default([]),
      })
      .strict()
      .default({}),
    cluster: z
      .object({
        /** Worker threads serving connections; 0 runs everything in one thread. */
        workers: int(0, 256).default(availableParallelism()),
        /** On SIGTERM/SIGINT, sessions get this long to close before workers are stopped. */
        shutdownGraceMs: int(0).default(10000),
        /** On SIGTERM/SIGINT, /readyz reads 503 this long while still serving, so load balancers stop sending first. */
        drainDelayMs: int(0).default(0),
        /** Each worker tells the primary it is alive this often. */
        heartbeatMs: int(10, 60000).default(1000),
        /** A serving worker silent this long (stuck in a loop) is taken out of service and replaced; 0 = never. At least 2 × heartbeatMs. */
        heartbeatTimeoutMs: int(0).default(5000),
        /** A worker (first start or replacement) must be listening within this long. */
        startTimeoutMs: int(100).default(30000),
        /** Test-only: lets the primary make a worker throw (crash drills). */
        crashHook: z.boolean().default(false),
        /** The cross-node stream directory (cluster/redis-directory.ts, docs/kubernetes.md); no url = none. */
        redis: z
          .object({
            url: z.string().regex(/^rediss?:\/\/\S+$/, 'expected redis://[user:pass@]host[:port][/db] or rediss://...').optional(),
            /** Every key this node writes starts with it (one Redis for several clusters). */
            keyPrefix: z.string().default('sluice:'),
            /** A live stream's key lives this long unless its node refreshes it: how fast a dead node is forgotten. */
            ttlMs: int(1000).default(10000),
            /** The node refreshes its keys this often. */
            refreshMs: int(100).default(3000),
            /** One Redis command (claim, lookup) fails after this; the node goes on without the cross-node view. */
            // Below the worker's 10 s directory request bound, with room for a pulled copy's 3 s to make way.
            commandTimeoutMs: int(50, 5000).default(1000),
          })
          .strict()
          .refine((r) => r.refreshMs * 2 <= r.ttlMs, { message: 'refreshMs must be at most half of ttlMs', path: ['refreshMs'] })
          .default({}),
        /** rtmp[s]://host:port other nodes pull this node's streams from; default: rtmp://$POD_IP (else this host's first address):rtmp.port. */
        advertise: z.string().regex(/^rtmps?:\/\/[^/\s?#]+$/, 'expected rtmp://host:port or rtmps://host:port (no application)').optional(),
        /** On drain, RTMP clients that announced E-RTMP reconnect (capsEx) get NetConnection.Connect.ReconnectRequest. */
        reconnectRequest: z.boolean().default(true),
        /** The tcUrl in ReconnectRequest (the Service, not the pod); `{app}` is the client's app; unset = the tcUrl the client connected with. */
        reconnectTcUrl: z.string().optional(),
        /** After ReconnectRequest, clients get this long to move before the rest is closed. */
        reconnectWaitMs: int(0).default(5000),
      })
      .strict()
      .refine((c) => c.heartbeatTimeoutMs === 0 || c.heartbeatTimeoutMs >= 2 * c.heartbeatMs, {
        message: 'heartbeatTimeoutMs must be 0 (off) or at least 2 × heartbeatMs',
        path: ['heartbeatTimeoutMs'],
      })
      .default({}),
    admin: z
      .object({
        /** Unset: 0.0.0.0 with a token, 127.0.0.1 without one (docs/access.md). */
        host: z.string().optional(),
        /** Control plane on the primary: /healthz, /readyz, /metrics, /api/v1; 0 = any free port. */
        port: int(0, 65535).default(8081),
        /** Bearer token every admin request needs (but openPaths). */
        token: z.string().min(16, 'an admin token needs at least 16 characters').optional(),
        /** A file holding the token (a Kubernetes Secret volume); read at start, trailing whitespace dropped. */
        tokenFile: z.string().optional(),
        /** Paths served without the token (probes, Prometheus). */
        openPaths: z.array(z.string()).default(['/healthz', '/readyz', '/metrics']),
      })
      .strict()
      .default({}),
    log: z.object({ level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info') }).strict().default({}),
    rtmp: z
      .object({
        host: z.string().default('0.0.0.0'),
        port: int(0, 65535).default(1935),
        /** Our outgoing chunk size (sent with Set Chunk Size after connect). */
        outChunkSize: int(128, 0xffffff).default(60000),
        /** Largest Set Chunk Size accepted from a peer. */
        maxIncomingChunkSize: int(1, 0x7fffffff).default(65536),
        /** Largest message accepted (checked before allocating). */
        maxMessageSize: int(64, 256 * MiB).default(16 * MiB),
        /** Largest message other than a publishing session's audio/video/data/aggregate (commands, control, media before publish). */
        maxCommandBytes: int(256, 16 * MiB).default(64 * 1024),
        maxChunkStreams: int(4, 65600).default(64),
        /** Message streams (createStream) one connection may have open at once; ids are the lowest free, from 1. */
        maxMessageStreams: int(1, 1024).default(8),
        maxConnections: int(1).default(10000),
        handshakeTimeoutMs: int(100).default(10000),
        /** A session that has neither published nor played this long after its handshake is closed. */
        startTimeoutMs: int(100).default(15000),
        /** A session that receives no whole message for this long is closed (slowloris bound). */
        idleTimeoutMs: int(100).default(30000),
        /**
         * Receive-rate floor while a message is being assembled (slowloris in the middle of a message, which
         * whole control messages would otherwise keep under idleTimeoutMs): a session that spends a whole
         * rateWindowMs mid-message and delivers fewer than minBytesPerSecond × window bytes is closed. 0 = off.
         */
        minBytesPerSecond: int(0).default(1024),
        rateWindowMs: int(100).default(10000),
        /**
         * Tell players NetStream.Play.UnpublishNotify / PublishNotify (with StreamEOF / StreamBegin) when
         * their publisher leaves and returns. Off by default, as nginx-rtmp's publish_notify: ffmpeg and
         * librtmp players end on UnpublishNotify, which would undo media.republishGraceMs.
         */
        publishNotify: z.boolean().default(false),
        windowAckSize: int(1).default(2500000),
        peerBandwidth: int(1).default(2500000),
      })
      .strict()
      .default({}),
    /** RTMP over TLS: on when certFile and keyFile are set; the same sessions as rtmp.* (docs/access.md). */
    rtmps: tlsListener(1936, {
      /** The files are polled this often and reloaded without dropping sessions. */
      reloadCheckMs: int(100).default(10000),
    }),
    /** HTTPS-FLV and WSS-FLV (uWS SSLApp): on when certFile and keyFile are set. */
    https: tlsListener(8443, {}),
    http: z
      .object({
        /** HTTP-FLV and WebSocket-FLV playback on every worker (uWebSockets.js). */
        enabled: z.boolean().default(true),
        host: z.string().default('0.0.0.0'),
        port: int(0, 65535).default(8080),
        /** Access-Control-Allow-Origin on playback responses and preflights. */
        corsOrigin: z.string().default('*'),
        /** WebSocket idle timeout in seconds (pings are sent automatically before it). */
        wsIdleTimeoutS: int(8, 960).default(120),
        /** HTTP-FLV + WS-FLV players per worker thread; further ones get 503. */
        maxPlayers: int(1).default(10000),
      })
      .strict()
      .default({}),
    /** HLS and LL-HLS (fMP4) on the playback port, for streams someone asks for over HLS (docs/hls.md). */
    hls: z
      .object({
        enabled: z.boolean().default(true),
        /** Target segment duration: segments start at the first keyframe after it (so a GOP longer than this sets the real length). */
        segmentMs: int(500, 30000).default(2000),
        /** LL-HLS part target (EXT-X-PART-INF PART-TARGET). */
        partMs: int(100, 5000).default(500),
        /** Complete segments in the playlist's sliding window. */
        windowSegments: int(2, 100).default(6),
        /** LL-HLS tags (parts, preload hints, blocking reload); off gives plain RFC 8216 playlists. */
        lowLatency: z.boolean().default(true),
        /** Playlist delta updates (CAN-SKIP-UNTIL, _HLS_skip): offered only when the window lasts more than six target durations. */
        deltaUpdates: z.boolean().default(true),
        /** `/{app}/{name}.m3u8` is a multivariant playlist (CODECS, RESOLUTION, BANDWIDTH) naming `{name}.fmp4.m3u8`; off: the media playlist. */
        multivariant: z.boolean().default(true),
        /** MPEG-TS segments at /{app}/{name}.ts.m3u8 for players without fMP4 (built only for streams someone asks for so). */
        mpegts: z.boolean().default(true),
        /** A stream's segments are built while HLS requests for it keep coming; this long after the last one they are freed. */
        idleStopMs: int(1000).default(30000),
        /** An HLS viewer (access control's on_play ... on_stop, one per address and query) ends this long after its last request. */
        sessionIdleMs: int(1000).default(20000),
        /** A playlist request for a stream with no complete segment yet waits this long for one (then 404). */
        firstSegmentWaitMs: int(0, 60000).default(10000),
        /** Segment memory of all HLS streams on the node (each held once, by its owner worker); the oldest segments go first. */
        maxMemoryBytes: int(4 * MiB).default(256 * MiB),
        /** One worker of the node segments each stream and the others serve its bytes from shared memory; false: every worker asked segments for itself. */
        shareAcrossWorkers: z.boolean().default(true),
        /** Threads that build segments (piscina); 0 builds on the I/O thread itself. */
        remuxThreads: int(0, 64).default(1),
      })
      .strict()
      .refine((h) => h.partMs <= h.segmentMs, { message: 'hls.partMs must not exceed hls.segmentMs' })
      .default({}),
    amf: z
      .object({
        maxDepth: int(1, 1000).default(32),
        maxItems: int(1).default(65536),
        maxStringBytes: int(1).default(MiB),
      })
      .strict()
      .default({}),
    media: z
      .object({
        /** Bytes of one stream's ring (a pooled SharedArrayBuffer slab); bounds its GOP cache. */
        ringBytes: int(64 * 1024, 1024 * MiB).default(16 * MiB),
        /** Most live streams at once (rings in use). */
        maxStreams: int(1).default(1000),
        /** Players stay attached this long after their publisher leaves; a republish resumes them. */
        republishGraceMs: int(0).default(5000),
        /** A player of a stream not (yet) published waits this long before Play.StreamNotFound. */
        playWaitMs: int(0).default(5000),
        /** A timestamp jump larger than this (either way) is treated as a discontinuity. */
        maxTimestampJumpMs: int(1).default(10000),
      })
      .strict()
      .default({}),
    /** Who may publish and play (src/access/, docs/access.md); all empty = anyone. */
    access: z
      .object({
        /** CIDR ranges (IPv4/IPv6) that may publish; empty = any address not denied. */
        publishAllow: cidrList,
        publishDeny: cidrList,
        playAllow: cidrList,
        playDeny: cidrList,
        /** Signed URLs: when set, a publish needs ?expires=&sign= made with one of these (several: rotation). */
        publishSecrets: secretList,
        playSecrets: secretList,
        /** The signature also covers the client's IP address. */
        signBindIp: z.boolean().default(false),
        /** RTMP sessions + HTTP-FLV/WS-FLV players one address may hold, per worker thread; 0 = no cap (carrier NAT puts many viewers behind one address). */
        maxConnectionsPerIp: int(0).default(0),
        /** Live streams one address may publish on the node (counted by the stream directory, across workers); 0 = no cap. */
        maxPublishesPerIp: int(0).default(0),
      })
      .strict()
      .default({}),
    /** SRS-compatible HTTP callbacks (access/hooks.ts, docs/access.md): URLs per event, all must allow. */
    hooks: z
      .object({
        onConnect: hookUrls,
        onPublish: hookUrls,
        onUnpublish: hookUrls,
        onPlay: hookUrls,
        onStop: hookUrls,
        /** A start event's answer must come within this. */
        timeoutMs: int(100, 60000).default(3000),
        /** What a failed callback (timeout, not 200, unreadable) means for the start it was asked about. */
        onError: z.enum(['deny', 'allow']).default('deny'),
        maxReplyBytes: int(1, MiB).default(64 * 1024),
        /** End events (on_unpublish, on_stop): attempts after the first, backing off from 200 ms. */
        retries: int(0, 10).default(3),
        /** `server_id` in every body. */
        serverId: z.string().default(hostname()),
      })
      .strict()
      .default({}),
    player: z
      .object({
        /** We stop handing a player's socket more bytes past this much unsent data. */
        writeHighWaterBytes: int(1024).default(MiB),
        /** Lag (bytes behind the live edge) past which a player drops to the next keyframe. */
        queueMaxBytes: int(1024).default(8 * MiB),
        /** Lag (media time behind the live edge) past which a player drops to the next keyframe. */
        queueMaxMs: int(100).default(10000),
        /** A player whose socket accepts nothing for this long is disconnected. */
        stallTimeoutMs: int(100).default(20000),
        /**
         * Merged writes, load-adaptive: a busy worker waits up to this many ms after new tags before pumping
         * players, so each write carries several tags (see media/merge-window.ts); an idle one pumps at once.
         * 0 = never merge.
         */
        mergeBudgetMs: int(0, 2000).default(40),
        /**
         * While a busy worker merges (above), audio of a stream with video waits for the next video frame, up to
         * mergeBudgetMs, so each write carries a frame and the audio before it; video is never held longer.
         */
        mergeAudioWithVideo: z.boolean().default(true),
        /** Merged writes, fixed (SRS's mw_latency): always wait this long; above 0 it replaces mergeBudgetMs. */
        mergeWriteMs: int(0, 2000).default(0),
        /** RTMP players: write a batch straight to the socket's fd when nothing is queued (see rtmp/socket-transport.ts). */
        directWrite: z.boolean().default(true),
        /** Players at the same place in a stream share one batch per turn, read from the ring once (see media/egress/turn-batch.ts). */
        sharedBatch: z.boolean().default(true),
      })
      .strict()
      .default({}),
  })
  .strict();

export const configSchema = configObject.refine((c) => c.mode !== 'edge' || c.edge.origins.length > 0 || c.cluster.redis.url !== undefined, {
  message: 'mode edge needs at least one origin (--origin rtmp://host:port[/app]) or cluster.redis.url',
  path: ['edge', 'origins'],
});

export type SluiceConfig = z.infer<typeof configSchema>;
export type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };
export type ConfigInput = DeepPartial<SluiceConfig>;

/** Deep merge of plain objects; later sources win. */
export function mergeConfig(...sources: unknown[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const src of sources) {
    if (!isObject(src)) continue;
    for (const [k, v] of Object.entries(src)) {
      out[k] = isObject(v) && isObject(out[k]) ? mergeConfig(out[k], v) : isObject(v) ? mergeConfig(v) : v;
    }
  }
  return out;
}

/** SLUICE_* environment variables as config (config-env.ts). */
export const configFromEnv = (env: NodeJS.ProcessEnv): Record<string, unknown> => envConfig(configObject, env);
export { ignoredEnvNames, setPath } from './config-env.js';

export function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new SluiceError('ERR_CONFIG', `config file ${path}: cannot read`, { cause: err });
  }
  try {
    const v = /\.json$/i.test(path) ? JSON.parse(text) : YAML.parse(text);
    return isObject(v) ? v : {};
  } catch (err) {
    throw new SluiceError('ERR_CONFIG', `config file ${path}: parse error`, { cause: err });
  }
}

/** Validates merged input; errors name the offending key. */
export function resolveConfig(...sources: unknown[]): SluiceConfig {
  const res = configSchema.safeParse(mergeConfig(...sources));
  if (!res.success) {
    const msg = res.error.issues
      .map((i) => {
        const key = [...i.path, ...('keys' in i ? (i.keys as string[]) : [])].join('.');
        return `${key || '(root)'}: ${i.message}`;
      })
      .join('; ');
    throw new SluiceError('ERR_CONFIG', `invalid config: ${msg}`);
  }
  return res.data;
}
