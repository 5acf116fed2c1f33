/**
 * Which worker of a cluster a client landed on (the kernel spreads
 * connections over the workers with SO_REUSEPORT), read from the workers'
 * snapshots: a session's `peer` is ip:port as the server sees it, so its
 * port is the client socket's local port.
 */
import type { RunningCluster } from '../../src/process/primary.js';
import type { RtmpClient } from '../../src/rtmp/client/rtmp-client.js';

export interface SessionPlace {
  worker: number;
  role: string;
  streamKey?: string;
}

/** Every RTMP session of every worker, by the client's local port. */
export async function sessionsByPort(cluster: RunningCluster): Promise<Map<number, SessionPlace>> {
  const out = new Map<number, SessionPlace>();
  for (const snap of await cluster.snapshots()) {
    for (const s of snap.sessions) {
      out.set(Number(s.peer.slice(s.peer.lastIndexOf(':') + 1)), { worker: snap.worker, role: s.role, ...(s.streamKey ? { streamKey: s.streamKey } : {}) });
    }
  }
  return out;
}

/** Worker of each client's session (-1: no session). */
export async function workersOf(cluster: RunningCluster, clients: RtmpClient[]): Promise<number[]> {
  const byPort = await sessionsByPort(cluster);
  return clients.map((c) => byPort.get(c.socket.localPort ?? -1)?.worker ?? -1);
}

/**
 * Connects (with `connect`) until a client lands on a worker `want`
 * accepts, at most `tries` times; the others are destroyed. Undefined when
 * none did.
 */
export async function connectOnWorker(
  cluster: RunningCluster,
  connect: () => Promise<RtmpClient>,
  want: (worker: number) => boolean,
  tries: number,
): Promise<{ c: RtmpClient; worker: number } | undefined> {
  for (let i = 0; i < tries; i++) {
    const c = await connect();
    const [worker] = await workersOf(cluster, [c]);
    if (worker! > 0 && want(worker!)) return { c, worker: worker! };
    c.destroy();
  }
  return undefined;
}

/** Players of stream `key` per worker, as the workers count them (FLV players subscribe like RTMP ones). */
export async function playersPerWorker(cluster: RunningCluster, key: string): Promise<Map<number, number>> {
  return new Map((await cluster.snapshots()).map((s) => [s.worker, s.streams.find((x) => x.key === key)?.players ?? 0]));
}
