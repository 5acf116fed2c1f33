/**
 * The primary's workers: spawns them, gives each its own SO_REUSEPORT
 * listening fd (the kernel then spreads connections; the primary itself
 * never accepts), routes their directory requests, replaces a worker that
 * dies or is stuck (silent past its heartbeat timeout), and drains them on
 * shutdown.
 */
import { Worker, type TransferListItem } from 'node:worker_threads';
import { createReuseportFd } from 'node-unix-socket';
import { unpack } from 'msgpackr';
import net from 'node:net';
import { randomUUID } from 'node:crypto';
import { describeError, SluiceError } from '../core/errors.js';
import type { StreamDirectory } from './directory.js';
import { rescueThread } from './thread-rescue.js';
import type { RedisDirectory } from './redis-directory.js';
import type { DirectoryEvent, PrimaryMessage, PublishGrant, Refusal, SubscribeGrant, WorkerAnswers, WorkerMessage, WorkerRequest } from './messages.js';

/**
 * SO_REUSEPORT lets a second sluice (same user) bind the same port and the
 * kernel would split connections between the two: a plain bind first makes
 * that operator mistake fail loudly instead.
 */
function assertPortFree(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', (err: NodeJS.ErrnoException) =>
      reject(new SluiceError('ERR_CONFIG', `rtmp port ${host}:${port} is in use (${err.code})`, { cause: err })),
    );
    probe.listen(port, host, () => probe.close(() => resolve()));
  });
}

function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, host, () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

export interface SupervisorOptions {
  script: URL;
  count: number;
  host: string;
  /** Requested port; 0 = the first worker's bound port is used for all. */
  port: number;
  /** Requested HTTP port (every worker's uWS app binds it with SO_REUSEPORT); undefined = no HTTP. */
  httpPort: number | undefined;
  /** RTMPS: each worker gets its own SO_REUSEPORT fd of this address too (port 0: one free port for all); undefined = off. */
  tls?: { host: string; port: number };
  /** HTTPS-FLV/WSS-FLV: like httpPort (port 0: one free port for all); undefined = off. */
  https?: { host: string; port: number };
  /** Passed to every worker as workerData.config. */
  config: unknown;
  /** Worker liveness (cluster.heartbeatMs, heartbeatTimeoutMs (0 = off), startTimeoutMs). */
  heartbeat: { intervalMs: number; timeoutMs: number; startTimeoutMs: number };
  log: { info(o: object, m: string): void; warn(o: object, m: string): void; error(o: object, m: string): void };
}

interface Slot {
  index: number;
  worker: Worker;
  id: number;
  listening: boolean;
  drained: boolean;
  exited: boolean;
  spawnedAt: number;
  /** When its last message (any: heartbeats come every heartbeatMs) arrived. */
  lastSeen: number;
  /** Why it is being taken out of service (set once: it is stuck and being terminated). */
  stuck?: string;
  /** Cause reported by the worker before it ended itself. */
  crash?: string;
}

/** How long a stuck thread gets to close its sockets through the inspector before it is terminated anyway. */
const RESCUE_TIMEOUT_MS = 2000;

export class Supervisor {
  private readonly slots: Slot[] = [];
  private nextId = 1;
  /**
   * What the workers share for HLS (http/hls-share.ts): their channel,
   * unique to this cluster (another in the same process must not hear
   * it), and one held-bytes word per worker slot, for the node-wide bound.
   */
  private hlsNode: { channel: string; held: SharedArrayBuffer } | undefined;
  private port = 0;
  private httpPort: number | undefined;
  private stopping = false;
  private started = false;
  private nextReq = 1;
  /** Control-plane requests awaiting a worker's answer, by req. */
  private readonly pending = new Map<number, { worker: number; done: (result: unknown) => void }>();
  restarts = 0;
  /** Directory events held while a request is answered (see answer()). */
  private deferred: [number, DirectoryEvent][] | undefined;
  /** Set by the owner: directory decisions go back to workers through it. */
  directory!: StreamDirectory;
  /** Set by the owner with cluster.redis: client publishes claim their names across nodes first. */
  crossNode: RedisDirectory | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private lastCheck = 0;

  constructor(private readonly opts: SupervisorOptions) {}

  /** Starts all workers; resolves with the RTMP port once every one listens. */
  async start(): Promise<number> {
    this.port = this.opts.port;
    this.httpPort = this.opts.httpPort;
    if (this.port !== 0) await assertPortFree(this.opts.host, this.port);
    // uWS shares a fixed port between threads (SO_REUSEPORT) but not one it got for port 0.
    if (this.httpPort === 0) this.httpPort = await freePort(this.opts.host);
    if (this.opts.https) this.httpsPort = this.opts.https.port === 0 ? await freePort(this.opts.https.host) : this.opts.https.port;
    if (this.opts.tls) this.tlsPort = this.opts.tls.port === 0 ? await freePort(this.opts.tls.host) : this.opts.tls.port;
    this.lastCheck = Date.now();
    this.watchdog = setInterval(() => this.checkLiveness(), this.opts.heartbeat.intervalMs).unref();
    // The first worker binds first, so a requested port 0 becomes one real port for all.
    await this.spawn(0);
    const rest = [];
    for (let i = 1; i < this.opts.count; i++) rest.push(this.spawn(i));
    await Promise.all(rest);
    this.started = true;
    return this.port;
  }

  /** The RTMPS port every worker serves (resolved at start), when RTMPS is on. */
  tlsPort: number | undefined;
  /** The HTTPS-FLV port every worker serves (resolved at start), when on. */
  httpsPort: number | undefined;

  /** The HTTP port every worker serves (resolved after start). */
  getHttpPort(): number | undefined {
    return this.httpPort;
  }

  private spawn(index: number): Promise<void> {
    const id = this.nextId++;
    const fd = createReuseportFd(this.port, this.opts.host);
    const tlsFd = this.opts.tls && createReuseportFd(this.tlsPort!, this.opts.tls.host);
    if (this.opts.count > 1) this.hlsNode ??= { channel: `sluice-hls-${randomUUID()}`, held: new SharedArrayBuffer(8 * this.opts.count) };
    const hls = this.hlsNode && { ...this.hlsNode, slot: index };
    const worker = new Worker(this.opts.script, { workerData: { id, fd, tlsFd, httpPort: this.httpPort, httpsPort: this.httpsPort, config: this.opts.config, hls } });
    const now = Date.now();
    const slot: Slot = { index, worker, id, listening: false, drained: false, exited: false, spawnedAt: now, lastSeen: now };
    this.slots[index] = slot;
    let crash: unknown;
    const listening = new Promise<void>((resolve, reject) => {
      worker.on('message', (m: WorkerMessage) => {
        slot.lastSeen = Date.now();
        if (m.t === 'listening') {
          if (this.port === 0) this.port = m.port;
          if (this.httpPort === 0) this.httpPort = m.httpPort;
          slot.listening = true;
          resolve();
          return;
        }
        this.onMessage(slot, m);
      });
      worker.on('error', (err) => {
        crash = err;
        reject(err);
      });
      worker.on('exit', (code) => {
        const everListened = slot.listening;
        slot.listening = false;
        slot.exited = true;
        reject(new Error(`worker ${id} exited with code ${code} before listening`, { cause: crash ?? slot.crash }));
        this.onExit(slot, code, crash ?? slot.crash, everListened);
      });
    });
    return listening;
  }

  private onExit(slot: Slot, code: number, crash: unknown, everListened: boolean): void {
    this.directory.workerGone(slot.id);
    // What the thread held for HLS died with it: out of the node's bound at once, not when a replacement starts.
    if (this.hlsNode) Atomics.store(new BigInt64Array(this.hlsNode.held), slot.index, 0n);
    for (const p of [...this.pending.values()]) if (p.worker === slot.id) p.done(undefined);
    if (this.stopping) return;
    if (!this.started && !everListened) {
      // A worker that cannot even start (port taken, bad config) would fail again: start() reports it.
      this.opts.log.error({ worker: slot.id, exitCode: code, reason: crash === undefined ? `exited with code ${code}` : describeError(crash) }, 'worker failed to start');
      return;
    }
    this.restarts++;
    this.opts.log.error(
      { worker: slot.id, exitCode: code, code: 'ERR_INTERNAL', reason: crash === undefined ? `exited with code ${code}` : describeError(crash) },
      'worker died; replacing it',
    );
    if (this.slots[slot.index] !== slot) return;
    this.spawn(slot.index).catch((err) => this.opts.log.error({ reason: describeError(err) }, 'worker replacement failed'));
  }

  private onMessage(slot: Slot, m: WorkerMessage): void {
    const d = this.directory;
    switch (m.t) {
      case 'publish': {
        const grant = () => this.answer(slot.id, m.req, () => d.publish(m.key, slot.id, m.ip));
        if (!m.claim || !this.crossNode) return void grant();
        // The claim takes a Redis round trip: a worker that died meanwhile must not become a stream's home.
        const grantIfAlive = () => (slot.exited ? undefined : grant());
        const refuse = (refusal: Refusal) => this.post(slot.id, { t: 'reply', req: m.req, result: refusal });
        return void this.crossNode.claimFor(m.key, grantIfAlive, refuse, () => d.yieldPull(m.key));
      }
      case 'locate': {
        const cross = this.crossNode;
        if (!cross) return this.post(slot.id, { t: 'reply', req: m.req, result: undefined });
        return void cross.locate(m.key).then((url) => this.post(slot.id, { t: 'reply', req: m.req, result: url }));
      }
      case 'subscribe':
        return void this.answer(slot.id, m.req, () => d.subscribe(m.key, slot.id, m.query));
      case 'unpublish':
        return d.unpublish(m.id, slot.id);
      case 'release':
        return d.release(m.id, slot.id);
      case 'watched':
        return d.watched(m.id, slot.id, m.yes);
      case 'pullEnded':
        return d.pullEnded(m.id, slot.id, m.reason);
      case 'answer':
        this.pending.get(m.req)?.done(m.result);
        return;
      case 'drained':
        slot.drained = true;
        return;
      case 'crashed':
        slot.crash = m.reason;
        return;
      case 'heartbeat':
        return;
    }
  }

  /**
   * A worker that stopped talking (busy loop, stuck native call) still holds
   * its SO_REUSEPORT fd, so the kernel keeps giving it 1/N of new connections:
   * take it out of service and replace it. A replacement that never comes up
   * is ended too (its start deadline).
   */
  private checkLiveness(): void {
    const now = Date.now();
    const late = now - this.lastCheck > 2 * this.opts.heartbeat.intervalMs;
    this.lastCheck = now;
    if (this.stopping) return;
    const { timeoutMs, startTimeoutMs } = this.opts.heartbeat;
    for (const slot of this.slots) {
      if (!slot || slot.exited || slot.stuck) continue;
      // The primary's own stall (GC, a long admin request) left heartbeats unread in its queue: not the workers' fault.
      if (late) slot.lastSeen = now;
      if (!slot.listening) {
        if (now - slot.spawnedAt > startTimeoutMs) this.takeOut(slot, `not listening ${now - slot.spawnedAt} ms after start (cluster.startTimeoutMs ${startTimeoutMs})`);
      } else if (timeoutMs > 0 && now - slot.lastSeen > timeoutMs) {
        this.takeOut(slot, `no heartbeat for ${now - slot.lastSeen} ms (cluster.heartbeatTimeoutMs ${timeoutMs})`);
      }
    }
  }

  /** Unready at once, then stopped; its exit brings the replacement (onExit). */
  private takeOut(slot: Slot, reason: string): void {
    slot.stuck = reason;
    slot.crash = reason;
    this.opts.log.error({ worker: slot.id, code: 'ERR_TIMEOUT', reason }, 'worker unresponsive; terminating it');
    void this.stopThread(slot, reason);
  }

  /** Ends a thread that does not end itself: its uWS sockets are closed from inside it first (see thread-rescue.ts). */
  private async stopThread(slot: Slot, reason: string): Promise<void> {
    if (slot.exited) return;
    const closed = await rescueThread(slot.worker.threadId, slot.id, reason, RESCUE_TIMEOUT_MS);
    if (!closed && !slot.exited) {
      this.opts.log.error({ worker: slot.id, code: 'ERR_TIMEOUT', reason }, 'worker did not close its sockets in time; terminating it anyway');
    }
    await slot.worker.terminate();
  }

  /**
   * Answers a worker's directory request. The reply goes out before any event
   * the request caused: the asker has no view to apply them to until it has
   * its grant (e.g. readers to attach to the stream it is now home to).
   */
  private answer<G extends PublishGrant | SubscribeGrant | undefined>(id: number, req: number, ask: () => G): G | Refusal {
    const later: [number, DirectoryEvent][] = [];
    this.deferred = later;
    let result: G | Refusal;
    try {
      result = ask();
    } catch (err) {
      // A directory bug must cost one request, never the primary (and with it every worker).
      const reason = describeError(err);
      this.opts.log.error({ worker: id, code: 'ERR_INTERNAL', reason }, 'directory request failed');
      result = { ok: false, code: 'ERR_INTERNAL', reason: `stream directory: ${reason}` };
    } finally {
      this.deferred = undefined;
    }
    const port = result?.ok && 'port' in result ? result.port : undefined;
    this.post(id, { t: 'reply', req, result }, port ? [port] : []);
    for (const [w, e] of later) this.deliver(w, e);
    return result;
  }

  /** Sends to the worker with this id (dropped if it is gone). */
  post(id: number, m: PrimaryMessage, transfer: TransferListItem[] = []): void {
    const slot = this.slots.find((s) => s?.id === id);
    if (!slot) {
      for (const t of transfer) (t as { close?: () => void }).close?.();
      return;
    }
    slot.worker.postMessage(m, transfer);
  }

  /** Delivers a directory event to a worker, moving its port along. */
  deliver(id: number, e: DirectoryEvent): void {
    if (this.deferred) {
      this.deferred.push([id, e]);
      return;
    }
    const port = 'port' in e ? e.port : undefined;
    this.post(id, e, port ? [port] : []);
  }

  ready(): boolean {
    return !this.stopping && this.slots.length === this.opts.count && this.slots.every((s) => s.listening && !s.stuck);
  }

  workerIds(): number[] {
    return this.slots.map((s) => s.id);
  }

  /**
   * Asks one worker (control plane): resolves with its answer, or undefined
   * when there is no such worker, it dies, or it does not answer in time.
   */
  request<R extends WorkerRequest>(id: number, m: R, timeoutMs = 2000): Promise<WorkerAnswers[R['t']] | undefined> {
    const slot = this.slots.find((s) => s?.id === id);
    if (!slot) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const req = this.nextReq++;
      const done = (result: unknown): void => {
        clearTimeout(timer);
        this.pending.delete(req);
        resolve(result as WorkerAnswers[R['t']] | undefined);
      };
      const timer = setTimeout(() => done(undefined), timeoutMs);
      this.pending.set(req, { worker: id, done });
      slot.worker.postMessage({ ...m, req } as PrimaryMessage);
    });
  }

  /**
   * Every worker's snapshot (sessions, counters, streams), msgpackr-decoded;
   * a worker that does not answer in time is left out. `clients: false`
   * leaves out the per-connection lists (metrics need only totals).
   */
  async snapshots<T>(opts: { clients?: boolean; timeoutMs?: number } = {}): Promise<T[]> {
    const ask = { t: 'snapshot', clients: opts.clients ?? true } as const;
    const answers = await Promise.all(this.slots.map((s) => this.request(s.id, ask, opts.timeoutMs)));
    return answers.filter((a) => a !== undefined).map((a) => unpack(a) as T);
  }

  /** Test drill: the worker throws from its event loop, as a bug would. */
  crash(id: number, message: string): void {
    this.post(id, { t: 'crash', message });
  }

  /** Test drill: the worker's event loop blocks for `ms`, as a busy loop would. */
  hang(id: number, ms: number): void {
    this.post(id, { t: 'hang', ms });
  }

  /** Graceful stop: workers stop listening and close their sessions; stragglers are stopped at the deadline. */
  async drain(reason: string, graceMs: number): Promise<void> {
    this.stopping = true;
    clearInterval(this.watchdog);
    const slots = this.slots.filter((s) => s && !s.exited);
    const exits = slots.map((s) => new Promise<void>((resolve) => (s.exited ? resolve() : s.worker.once('exit', () => resolve()))));
    for (const s of slots) s.worker.postMessage({ t: 'drain', reason } satisfies PrimaryMessage);
    const deadline = new Promise<void>((resolve) => setTimeout(resolve, graceMs).unref());
    await Promise.race([Promise.all(exits), deadline]);
    await Promise.all(slots.map((s) => this.stopThread(s, `did not drain within ${graceMs} ms`)));
  }
}
