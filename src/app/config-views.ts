/**
 * What each part of sluice takes from the validated config (config.ts): the
 * options objects of the stream directory, streams, access control, hooks,
 * the TLS listeners and the admin port, derived in one place.
 */
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { SluiceError } from '../core/errors.js';
import { SlabPool } from '../core/slab-pool.js';
import type { StreamOptions } from '../media/types.js';
import { mergeWindowOf } from '../media/merge-window.js';
import type { DirectoryOptions } from '../cluster/directory.js';
import { RedisDirectory } from '../cluster/redis-directory.js';
import type { Logger } from './log.js';
import type { AccessOptions } from '../access/policy.js';
import type { HookOptions } from '../access/hooks.js';
import type { SluiceConfig } from './config.js';

/** The per-stream settings of a config. */
export function streamOptionsOf(config: SluiceConfig): StreamOptions {
  return {
    maxTimestampJumpMs: config.media.maxTimestampJumpMs,
    mergeWindowMs: mergeWindowOf(config.player.mergeWriteMs, config.player.mergeBudgetMs),
    audioHoldMs: config.player.mergeAudioWithVideo && config.player.mergeWriteMs === 0 ? config.player.mergeBudgetMs : 0,
    hlsSegmentMs: config.hls.enabled && config.http.enabled ? config.hls.segmentMs : undefined,
  };
}

/**
 * Whether this node pulls what it does not have: an edge always (from Redis's
 * answer, then edge.origins), an origin of a Redis cluster from the node Redis names.
 */
export function pullsStreams(config: SluiceConfig): boolean {
  return config.mode === 'edge' || (config.mode === 'origin' && config.cluster.redis.url !== undefined);
}

/** The stream directory's rules: a pulling node waits edge.playWaitMs for its origins and elects one puller per stream. */
export function directoryOptionsOf(config: SluiceConfig): DirectoryOptions {
  const pulls = pullsStreams(config);
  return {
    maxStreams: config.media.maxStreams,
    maxPublishesPerIp: config.access.maxPublishesPerIp,
    republishGraceMs: config.media.republishGraceMs,
    playWaitMs: pulls ? config.edge.playWaitMs : config.media.playWaitMs,
    pull: pulls ? { idleStopMs: config.edge.idleStopMs } : undefined,
  };
}

/** This node's address for other nodes: cluster.advertise, else rtmp://$POD_IP (else the first external IPv4):port. */
export function advertisedUrl(config: SluiceConfig, rtmpPort: number, env = process.env): string {
  if (config.cluster.advertise) return config.cluster.advertise;
  const external = Object.values(networkInterfaces())
    .flat()
    .find((i) => i && i.family === 'IPv4' && !i.internal)?.address;
  const host = env.POD_IP || external || '127.0.0.1';
  return `rtmp://${host.includes(':') ? `[${host}]` : host}:${rtmpPort}`;
}

/** The cross-node directory of a node with cluster.redis.url; undefined without. `rtmpPort` is read when first needed. */
export function redisDirectoryOf(config: SluiceConfig, rtmpPort: () => number, log: Logger, onLive?: (name: string) => void): RedisDirectory | undefined {
  const r = config.cluster.redis;
  if (!r.url) return undefined;
  let advertise: string | undefined;
  if (config.mode !== 'edge' && !config.cluster.advertise && !process.env.POD_IP) {
    log.warn({ code: 'ERR_CONFIG', reason: "neither cluster.advertise nor POD_IP is set: other nodes are told this host's first IPv4 address, which two hosts may share" }, 'cross-node address guessed');
  }
  return new RedisDirectory({
    ...r,
    url: r.url,
    // Kept once the listener's port is known (a requested port 0 becomes real only then).
    advertise: () => advertise ?? (rtmpPort() ? (advertise = advertisedUrl(config, rtmpPort())) : advertisedUrl(config, config.rtmp.port)),
    claims: config.mode !== 'edge',
    ...(onLive && pullsStreams(config) ? { onLive } : {}),
    log: log.child({ component: 'redis' }),
  });
}

/** The slab pool every stream ring comes from. */
export function slabPoolFor(config: SluiceConfig): SlabPool {
  return new SlabPool(config.media.ringBytes, config.media.maxStreams);
}

/** The access policy's options (access/policy.ts) from the config. */
export function accessOptionsOf(config: SluiceConfig): AccessOptions {
  const a = config.access;
  return {
    publish: { allow: a.publishAllow, deny: a.publishDeny },
    play: { allow: a.playAllow, deny: a.playDeny },
    signed: { publishSecrets: a.publishSecrets, playSecrets: a.playSecrets, bindIp: a.signBindIp },
  };
}

/** The admin listener: its token (from admin.token or admin.tokenFile) and the address that follows from it. */
export function adminAccessOf(config: SluiceConfig): { host: string; token: string | undefined; openPaths: string[] } {
  const a = config.admin;
  let token = a.token;
  if (a.tokenFile !== undefined) {
    try {
      token = readFileSync(a.tokenFile, 'utf8').trimEnd();
    } catch (err) {
      throw new SluiceError('ERR_CONFIG', `admin.tokenFile ${a.tokenFile}: cannot read`, { cause: err });
    }
    if (token.length < 16) throw new SluiceError('ERR_CONFIG', `admin.tokenFile ${a.tokenFile}: an admin token needs at least 16 characters`);
  }
  return { host: a.host ?? (token ? '0.0.0.0' : '127.0.0.1'), token, openPaths: a.openPaths };
}

/** The HTTP callbacks' options (access/hooks.ts) from the config. */
export function hookOptionsOf(config: SluiceConfig): HookOptions {
  const h = config.hooks;
  return {
    urls: { on_connect: h.onConnect, on_publish: h.onPublish, on_unpublish: h.onUnpublish, on_play: h.onPlay, on_stop: h.onStop },
    timeoutMs: h.timeoutMs,
    onError: h.onError,
    maxReplyBytes: h.maxReplyBytes,
    retries: h.retries,
    serverId: h.serverId,
  };
}

/** A certificate and key on disk, checked for changes every reloadCheckMs (rtmp/tls-files.ts). */
export interface TlsFiles {
  /** The config section, for messages. */
  key: 'rtmps' | 'https';
  certFile: string;
  keyFile: string;
  reloadCheckMs: number;
}

/** Where RTMPS listens and with which files, or undefined when it is off. */
export function rtmpsOf(config: SluiceConfig): { host: string; port: number; files: TlsFiles } | undefined {
  const t = config.rtmps;
  if (t.certFile === undefined || t.keyFile === undefined) return undefined;
  return { host: t.host, port: t.port, files: { key: 'rtmps', certFile: t.certFile, keyFile: t.keyFile, reloadCheckMs: t.reloadCheckMs } };
}

/** Where HTTPS-FLV / WSS-FLV listen and with which files, or undefined when off. */
export function httpsOf(config: SluiceConfig): { host: string; port: number; files: TlsFiles } | undefined {
  const t = config.https;
  if (t.certFile === undefined || t.keyFile === undefined) return undefined;
  return { host: t.host, port: t.port, files: { key: 'https', certFile: t.certFile, keyFile: t.keyFile, reloadCheckMs: 0 } };
}

/** TLS options of the edge's rtmps:// upstreams (the CA file is read at each connect, so a rotated one is used). */
export function upstreamTlsOf(config: SluiceConfig): { tlsCa?: Buffer; tlsVerify: boolean } {
  const { tlsCaFile, tlsVerify } = config.edge;
  if (tlsCaFile === undefined) return { tlsVerify };
  try {
    return { tlsCa: readFileSync(tlsCaFile), tlsVerify };
  } catch (err) {
    throw new SluiceError('ERR_CONFIG', `edge.tlsCaFile ${tlsCaFile}: cannot read`, { cause: err });
  }
}

/**
 * How long a drain (process/stop-serving.ts) may take at most, besides the
 * sockets' own close: the reconnect wait, when on, then the grace period.
 * The supervisor's deadline and the CLI's forced exit allow this.
 */
export function drainBudgetMs(cluster: SluiceConfig['cluster']): number {
  return (cluster.reconnectRequest ? cluster.reconnectWaitMs : 0) + cluster.shutdownGraceMs;
}
