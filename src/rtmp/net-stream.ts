/**
 * The NetStream commands of one RTMP session: publish, play, play2,
 * pause, seek, receiveAudio/receiveVideo, deleteStream/closeStream, and
 * the media a publishing session sends. A session publishes or plays one
 * stream at a time; what it holds is a lease from the stream service.
 */
import { SluiceError } from '../core/errors.js';
import { onStatus, type Command } from '../protocol/commands.js';
import type { MessageHeader } from '../protocol/types.js';
import type { AmfValue } from '../protocol/amf-types.js';
import { cleanName, queryOf, streamKey } from '../app/stream-name.js';
import { RtmpPlayer } from './player.js';
import { notPublishing, RtmpPublisher } from './publisher.js';
import type { RtmpSessionIO } from './types.js';
import type { AccessClient } from '../access/policy.js';

/** Refusals the client is told about (then only its connection ends); other errors end the session as errors. */
const REFUSALS = new Set(['ERR_STREAM', 'ERR_LIMIT', 'ERR_UPSTREAM', 'ERR_ACCESS']);

export class NetStream {
  publishing: RtmpPublisher | null = null;
  playing: RtmpPlayer | null = null;
  /** A publish/play is waiting for the directory. */
  private pending = false;

  constructor(
    private readonly s: RtmpSessionIO,
    /** Whether createStream opened this message stream id (and it is not deleted). */
    private readonly isOpen: (streamId: number) => boolean,
    /** Who asks, for access control (set by NetConnection from connect). */
    private readonly client: () => AccessClient,
  ) {}

  /** Handles a NetStream command; false if `cmd` is not one. */
  onCommand(h: MessageHeader, cmd: Command, app: string): boolean {
    const s = this.s;
    if ((cmd.name === 'publish' || cmd.name === 'play' || cmd.name === 'play2') && !this.isOpen(h.streamId)) {
      // The id would name the egress form (and its cache) of every chunk we send: only ids we assigned.
      const status = cmd.name === 'publish' ? 'NetStream.Publish.Failed' : 'NetStream.Play.Failed';
      this.refuse(cmd.name, h.streamId, String(cmd.args[0] ?? ''), status, 'ERR_COMMAND', `${cmd.name} on message stream ${h.streamId}, which createStream did not open`);
      return true;
    }
    switch (cmd.name) {
      case 'publish':
        this.publish(h, cmd, app);
        return true;
      case 'play':
        // play(name, start, duration, reset): reset defaults to true.
        this.play(h.streamId, app, cmd.args[0], cmd.args[3] !== false);
        return true;
      case 'play2': {
        const params = cmd.args[0] as Record<string, AmfValue> | undefined;
        this.stopPlaying();
        this.play(h.streamId, app, params?.streamName, true);
        return true;
      }
      case 'deleteStream':
      case 'closeStream':
        this.stopPublishing();
        this.stopPlaying();
        return true;
      case 'pause':
        this.pause(h.streamId, cmd.args[0] === true);
        return true;
      case 'seek':
        // Live has no past to seek into: answer as FMS does for live, and go to the live edge.
        this.playing?.sub.rewindToLive();
        s.send(onStatus(h.streamId, 'status', 'NetStream.Seek.Notify', 'Seeking a live stream resumes at the live edge.'));
        this.playing?.sub.pump();
        return true;
      case 'receiveAudio':
      case 'receiveVideo':
        if (this.playing) this.playing.sub[cmd.name] = cmd.args[0] !== false;
        return true;
      default:
        return false;
    }
  }

  private publish(h: MessageHeader, cmd: Command, app: string): void {
    const s = this.s;
    const name = cleanName(cmd.args[0], 'publish name');
    if (this.publishing || this.playing || this.pending) throw new SluiceError('ERR_COMMAND', 'publish: session already publishing or playing');
    const key = streamKey(app, name);
    this.ask(
      () => s.ctx.streams.publish(app, name, s.id, 'publisher', queryOf(cmd.args[0]), this.client()),
      (lease) => {
        s.started();
        this.publishing = new RtmpPublisher(lease, h.streamId, s.ctx.config.amf);
        s.ctx.counters.publishesTotal++;
        s.send(onStatus(h.streamId, 'status', 'NetStream.Publish.Start', `${key} is now published.`, name));
        s.log.info({ streamKey: key, type: cmd.args[1] }, 'publishing');
      },
      (lease) => lease.release(),
      this.refusal('publish', h.streamId, key, name, 'NetStream.Publish.BadName', 'NetStream.Publish.Failed'),
    );
  }

  /**
   * How a refused publish/play is told: a name in use (ERR_STREAM) or
   * access control (ERR_ACCESS) gets `taken`, no room (ERR_LIMIT) `full`; the client reads the status,
   * then only this connection ends. Other failures end the session as errors.
   */
  private refusal(action: string, streamId: number, key: string, name: string, taken: string, full: string): (err: unknown) => boolean {
    return (err) => {
      if (!(err instanceof SluiceError) || !REFUSALS.has(err.code)) return false;
      this.refuse(action, streamId, name, err.code === 'ERR_STREAM' || err.code === 'ERR_ACCESS' ? taken : full, err.code, err.message, key);
      return true;
    };
  }

  /** Tells the client why (an error status), logs it, then ends only this connection once the status is out. */
  private refuse(action: string, streamId: number, name: string, status: string, code: string, reason: string, key?: string): void {
    const s = this.s;
    s.send(onStatus(streamId, 'error', status, `${status}: ${reason}.`, name));
    s.log.warn({ ...(key ? { streamKey: key } : {}), code, reason }, `${action} refused`);
    setImmediate(() => s.close(`${action} refused: ${status}`));
  }

  private play(streamId: number, app: string, rawName: AmfValue, reset: boolean): void {
    const s = this.s;
    const name = cleanName(rawName, 'play name');
    if (this.publishing || this.playing || this.pending) throw new SluiceError('ERR_COMMAND', 'play: session already publishing or playing');
    this.ask(
      () => s.ctx.streams.play(app, name, queryOf(rawName), this.client()),
      (lease) => {
        if (!lease) {
          s.send(onStatus(streamId, 'error', 'NetStream.Play.StreamNotFound', `${streamKey(app, name)} not found.`, name));
          return;
        }
        s.started();
        s.stopIdleTimer();
        s.ctx.counters.playsTotal++;
        this.playing = new RtmpPlayer(s, lease, streamId, reset);
        s.log.info({ streamKey: lease.stream.key, live: lease.stream.live }, 'playing');
      },
      (lease) => lease?.release(),
      this.refusal('play', streamId, streamKey(app, name), name, 'NetStream.Play.Failed', 'NetStream.Play.Failed'),
    );
  }

  /**
   * Runs a directory request with the session held (nothing else is
   * dispatched meanwhile), then applies its result, unless the session
   * ended in between, in which case `undo` gives back what was granted.
   */
  private ask<T>(request: () => Promise<T>, apply: (v: T) => void, undo: (v: T) => void, refused?: (err: unknown) => boolean): void {
    const s = this.s;
    this.pending = true;
    s.hold();
    request().then(
      (v) => {
        this.pending = false;
        if (s.closed) return undo(v);
        try {
          apply(v);
        } catch (err) {
          return s.fail(err);
        }
        s.unhold();
      },
      (err) => {
        this.pending = false;
        if (s.closed) return;
        if (refused?.(err)) return;
        s.fail(err);
      },
    );
  }

  private pause(streamId: number, pause: boolean): void {
    const p = this.playing;
    if (!p) return;
    p.sub.paused = pause;
    if (pause) {
      this.s.send(onStatus(streamId, 'status', 'NetStream.Pause.Notify', `Paused ${p.stream.name}.`));
    } else {
      // Live resumes at the live edge (from the latest keyframe), not where it paused.
      p.sub.rewindToLive();
      this.s.send(onStatus(streamId, 'status', 'NetStream.Unpause.Notify', `Unpaused ${p.stream.name}.`));
      p.sub.pump();
    }
  }

  // ---- media of a publishing session ---------------------------------------------

  onMedia(h: MessageHeader, payload: Uint8Array): void {
    if (!this.publishing) throw notPublishing(`media message (type ${h.type})`);
    this.publishing.onMedia(h, payload);
  }

  onData(h: MessageHeader, payload: Uint8Array): void {
    // Players may send data messages; nothing to do with them.
    this.publishing?.onData(h, payload);
  }

  onAggregate(h: MessageHeader, payload: Uint8Array): void {
    if (!this.publishing) throw notPublishing('aggregate message');
    this.publishing.onAggregate(h, payload);
  }

  stopPublishing(): void {
    const p = this.publishing;
    if (!p) return;
    this.publishing = null;
    p.lease.release();
    this.s.log.info({ streamKey: p.stream.key }, 'unpublished');
  }

  private stopPlaying(): void {
    const p = this.playing;
    if (!p) return;
    this.playing = null;
    p.stop();
  }

  /** Session end: leave the stream as a publisher or player. */
  teardown(): void {
    this.stopPublishing();
    this.stopPlaying();
  }
}
