/**
 * Stalled players: a player of each transport plays a long-lived stream,
 * reads for 1-3 s, then stops reading its socket. The server's slow-player
 * policy (player.stallTimeoutMs) must evict it once its socket accepts
 * nothing.
 *
 * A client that does not read cannot see the server's close (the FIN sits
 * behind the data it does not read), and uWS reports FLV peers without a
 * port, so the admin API cannot name them either. The server's side of the
 * connection in /proc/net/tcp can: while the server holds the socket it
 * has an inode; once the server closed its fd the socket is gone or
 * orphaned (inode 0). Each stall is given up (and counted) if the server
 * still holds it well after the timeout. The time measured runs to the
 * server letting go of the socket: for WS-FLV uWS keeps it some 10 s past
 * the eviction (its closing handshake).
 */
import http from 'node:http';
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import { RtmpClient } from '../../src/rtmp/client/rtmp-client.js';
import { STREAMED_PROTOCOLS, type StreamedProtocol } from '../options.js';
import { wallNowMs } from '../schedule.js';
import type { ClientSet } from './client-set.js';
import { urlFor, type PlayTarget } from './players.js';
import type { LiveName } from './publishers.js';
import type { Rng } from './rng.js';
import { bump, type Counts } from './types.js';

const READ_FIRST_S: [number, number] = [1, 3];
const EVERY_S: [number, number] = [4, 12];
/**
 * A stall still held this long past stallTimeoutMs counts as not evicted (and we close it).
 * Before the timeout starts the socket must back up: the kernel's loopback buffers (about
 * 4 MB here) and player.writeHighWaterBytes (1 MB) take some 25 s to fill at 1.6 Mbit/s.
 */
const GIVE_UP_AFTER_MS = 60_000;
/** A stall is only started on a stream planned to run at least this long past the timeout. */
const STREAM_LEFT_MS = 35_000;

interface Stalled {
  protocol: StreamedProtocol;
  serverPort: number;
  localPort: number;
  name: string;
  pausedAt: number;
  destroy(): void;
}

/** "serverPort:clientPort" of every loopback connection the server side still holds (an inode, so an open fd). */
export function heldConnections(serverPorts: readonly number[]): Set<string> {
  const held = new Set<string>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      const local = parseInt(f[1]!.split(':')[1]!, 16);
      const remote = parseInt(f[2]!.split(':')[1]!, 16);
      if (serverPorts.includes(local) && f[9] !== '0') held.add(`${local}:${remote}`);
    }
  }
  return held;
}

export class StallChurn {
  readonly counts: Record<StreamedProtocol, Counts> = { rtmp: {}, 'http-flv': {}, 'ws-flv': {} };
  readonly closedAfterMs: number[] = [];
  /** Each stall's end: how, and ms after it stopped reading. */
  readonly events: { protocol: StreamedProtocol; outcome: string; msAfterPause: number }[] = [];
  private readonly stalled = new Set<Stalled>();
  private poller: NodeJS.Timeout | undefined;
  active = 0;

  constructor(
    private readonly target: PlayTarget & { rtmpPort: number; httpPort: number },
    private readonly stallTimeoutMs: number,
    private readonly maxStalls: number,
    private readonly liveNames: () => LiveName[],
    private readonly room: () => boolean,
    private readonly rng: Rng,
    private readonly set: ClientSet,
  ) {}

  start(): void {
    this.poller = setInterval(() => this.check(), 500);
    this.set.add(async () => clearInterval(this.poller));
    this.schedule();
  }

  private schedule(): void {
    this.set.later(1000 * this.rng.between(...EVERY_S), () => {
      if (this.active < this.maxStalls && this.room()) void this.stall(this.rng.pick(STREAMED_PROTOCOLS));
      this.schedule();
    });
  }

  /** Is the server done with each stall? Evicted ones are closed here; stubborn ones given up. */
  private check(): void {
    if (this.stalled.size === 0) return;
    const held = heldConnections([this.target.rtmpPort, this.target.httpPort]);
    const now = wallNowMs();
    for (const s of this.stalled) {
      const counts = this.counts[s.protocol];
      const live = this.liveNames().some((n) => n.name === s.name);
      let outcome: string;
      if (!held.has(`${s.serverPort}:${s.localPort}`)) {
        outcome = live ? 'closedByServer' : 'closedByServerStreamGone';
        this.closedAfterMs.push(Math.round(now - s.pausedAt));
      } else if (now - s.pausedAt > this.stallTimeoutMs + GIVE_UP_AFTER_MS) {
        outcome = live ? 'notEvictedStreamLive' : 'notEvictedStreamGone';
      } else continue;
      bump(counts, outcome);
      this.events.push({ protocol: s.protocol, outcome, msAfterPause: Math.round(now - s.pausedAt) });
      this.stalled.delete(s);
      s.destroy();
    }
  }

  private async stall(protocol: StreamedProtocol): Promise<void> {
    const counts = this.counts[protocol];
    // Preferably a stream with time left to evict it before its publisher stops; else, half the
    // time, the longest-lived one: then the stream's end must release the stalled player.
    const need = wallNowMs() + this.stallTimeoutMs + STREAM_LEFT_MS;
    const live = this.liveNames().sort((a, b) => b.endsAtMs - a.endsAtMs);
    const long = live.filter((n) => n.endsAtMs > need);
    if (live.length === 0 || (long.length === 0 && this.rng.chance(0.5))) return void bump(counts, 'skippedNoLongStream');
    const name = long.length > 0 ? this.rng.pick(long).name : live[0]!.name;
    this.active++;
    bump(counts, 'tried');
    let done = false;
    let forget = (): void => undefined;
    const finish = (): void => {
      if (done) return;
      done = true;
      this.active--;
      forget();
    };
    try {
      const open = protocol === 'rtmp' ? this.openRtmp(name) : protocol === 'http-flv' ? this.openHttp(name) : this.openWs(name);
      const { localPort, pause, destroy, onClose } = await this.set.track(open);
      const s: Stalled = { protocol, name, localPort, serverPort: protocol === 'rtmp' ? this.target.rtmpPort : this.target.httpPort, pausedAt: 0, destroy: () => (destroy(), finish()) };
      onClose(() => {
        // Our socket closed while the server still held it (an error, or the run's end).
        if (this.stalled.delete(s)) {
          const outcome = this.set.stopped ? 'unresolvedAtEnd' : 'closedOnOurSide';
          bump(counts, outcome);
          this.events.push({ protocol, outcome, msAfterPause: Math.round(wallNowMs() - s.pausedAt) });
        } else if (s.pausedAt === 0 && !this.set.stopped) bump(counts, 'closedBeforeStall');
        finish();
      });
      forget = this.set.add(async () => s.destroy());
      if (this.set.stopped) return s.destroy();
      this.set.later(1000 * this.rng.between(...READ_FIRST_S), () => {
        if (done) return;
        pause();
        s.pausedAt = wallNowMs();
        this.stalled.add(s);
        bump(counts, 'stalled');
      });
    } catch {
      bump(counts, 'failed');
      finish();
    }
  }

  private async openRtmp(name: string): Promise<Opened> {
    const c = await RtmpClient.connect(this.target.rtmpUrl, { timeoutMs: 10000 });
    try {
      await c.play(name);
    } catch (err) {
      c.destroy();
      throw err;
    }
    return { localPort: c.socket.localPort!, pause: () => c.pauseReading(), destroy: () => c.destroy(), onClose: (f) => c.on('close', f) };
  }

  private openHttp(name: string): Promise<Opened> {
    return new Promise((resolve, reject) => {
      const req = http.get(urlFor(this.target, 'http-flv', name), { agent: false });
      const timer = setTimeout(() => req.destroy(new Error('no response within 10 s')), 10000);
      req.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      req.on('response', (res) => {
        clearTimeout(timer);
        if (res.statusCode !== 200) {
          req.destroy();
          return reject(new Error(`HTTP ${res.statusCode}`));
        }
        res.on('data', () => undefined);
        res.on('error', () => undefined);
        resolve({ localPort: req.socket!.localPort!, pause: () => res.pause(), destroy: () => req.destroy(), onClose: (f) => res.once('close', f) });
      });
    });
  }

  private openWs(name: string): Promise<Opened> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(urlFor(this.target, 'ws-flv', name), { perMessageDeflate: false, handshakeTimeout: 10000 });
      let localPort = 0;
      ws.on('upgrade', (res) => (localPort = res.socket.localPort ?? 0));
      ws.on('error', reject);
      ws.on('open', () =>
        resolve({ localPort, pause: () => ws.pause(), destroy: () => ws.terminate(), onClose: (f) => ws.once('close', f) }),
      );
    });
  }
}

interface Opened {
  localPort: number;
  pause(): void;
  destroy(): void;
  onClose(f: () => void): void;
}
