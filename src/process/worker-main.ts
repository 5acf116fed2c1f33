/**
 * Entry point of a worker thread: an RTMP listener on the SO_REUSEPORT fd
 * the primary made for it, sessions, and a WorkerHub linked to the
 * primary's stream directory.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ParentLink } from '../cluster/parent-link.js';
import { WorkerHub } from '../cluster/worker-hub.js';
import type { PrimaryMessage } from '../cluster/messages.js';
import { type SluiceConfig } from '../app/config.js';
import { httpsOf, rtmpsOf, streamOptionsOf } from '../app/config-views.js';
import { createLogger } from '../app/log.js';
import { listenRtmp } from '../rtmp/listener.js';
import { listenHttp } from '../http/flv-route.js';
import { stopServing } from './stop-serving.js';
import type { WorkerMessage } from '../cluster/messages.js';
import { newContext, type HlsNodeShare } from '../app/context.js';
import { answerRequest } from '../control/worker-control.js';
import { describeError } from '../core/errors.js';
import { RESCUE_GLOBAL } from '../cluster/thread-rescue.js';
import { enableEdge } from '../edge/edge-node.js';

const { id, fd, tlsFd, httpPort, httpsPort, config, hls } = workerData as {
  id: number;
  fd: number;
  tlsFd: number | undefined;
  httpPort: number | undefined;
  httpsPort: number | undefined;
  config: SluiceConfig;
  hls: HlsNodeShare | undefined;
};
const port = parentPort!;
const log = createLogger(config.log.level).child({ worker: id });
const link = new ParentLink(port);
const hub = new WorkerHub(id, link, streamOptionsOf(config));
const ctx = newContext(config, log, hub, id);
ctx.hlsNode = hls;
enableEdge(ctx);
const tlsFiles = rtmpsOf(config)?.files;
const listener = await listenRtmp(ctx, { fd }, tlsFd !== undefined && tlsFiles ? { on: { fd: tlsFd }, files: tlsFiles } : undefined);
const https = httpsOf(config);
const http = httpPort === undefined ? undefined : await listenHttp(ctx, config.http.host, httpPort, https && httpsPort !== undefined ? { ...https, port: httpsPort } : undefined);

const heartbeat = setInterval(() => link.post({ t: 'heartbeat' }), config.cluster.heartbeatMs);

// Any uWS socket still open when the thread ends (listen socket, a player, an
// idle keep-alive connection) aborts the whole process: before this thread is
// ended (crash, or stuck and terminated by the primary) they are all closed.
function closeUwsSockets(reason: string): void {
  try {
    for (const p of [...ctx.flvPlayers]) p.close(reason, true);
  } catch {
    // The thread is ending anyway; what could be closed was.
  }
  http?.closeAll();
}

// The primary calls this through the inspector when this thread is stuck (cluster/thread-rescue.ts).
(globalThis as Record<string, unknown>)[RESCUE_GLOBAL] = (workerId: number, reason: string): boolean => {
  if (workerId !== id) return false;
  log.error({ code: 'ERR_TIMEOUT', reason }, 'worker unresponsive; closing its HTTP sockets before it is terminated');
  closeUwsSockets(reason);
  return true;
};

process.on('uncaughtException', (err) => {
  closeUwsSockets('worker crashed');
  log.fatal({ code: 'ERR_INTERNAL', reason: err.stack ?? String(err) }, 'worker crashed');
  port.postMessage({ t: 'crashed', reason: err.stack ?? String(err) } satisfies WorkerMessage);
  process.exit(1);
});

port.on('message', (m: PrimaryMessage) => {
  if (link.onReply(m)) return;
  switch (m.t) {
    case 'streamUp':
    case 'streamDown':
    case 'streamEnd':
    case 'attachReader':
    case 'pull':
    case 'pullStop':
    case 'pullWake':
      hub.onEvent(m);
      return;
    case 'snapshot':
    case 'kick':
    case 'dropPublisher': {
      // An admin request that hits a bug must not take this worker's connections down with it.
      let result;
      try {
        result = answerRequest(ctx, m);
      } catch (err) {
        log.error({ code: 'ERR_INTERNAL', reason: describeError(err), request: m.t }, 'control request failed');
      }
      link.post({ t: 'answer', req: m.req, result });
      return;
    }
    case 'drain':
      void drain(m.reason);
      return;
    case 'crash':
      if (config.cluster.crashHook) {
        setImmediate(() => {
          throw new Error(m.message);
        });
      }
      return;
    case 'hang':
      if (config.cluster.crashHook) {
        setImmediate(() => {
          const until = Date.now() + m.ms;
          while (Date.now() < until);
        });
      }
      return;
  }
});

/** Stop accepting, close every session properly, then let the thread end. */
async function drain(reason: string): Promise<void> {
  await stopServing(ctx, listener, http, reason, config.cluster.shutdownGraceMs);
  clearInterval(heartbeat);
  link.post({ t: 'drained' });
  port.close();
}

link.post({ t: 'listening', port: listener.port, httpPort: http?.port });
