/**
 * The playing side of an RTMP session: attaches a subscriber to a stream
 * and turns stream events into NetStream status messages
 * (UnpublishNotify / PublishNotify / Play.Stop / StreamNotFound).
 */
import type { ErrorCode } from '../core/errors.js';
import { SluiceError } from '../core/errors.js';
import * as control from '../protocol/control.js';
import { onStatus, sampleAccess } from '../protocol/commands.js';
import type { LiveStream } from '../media/live-stream.js';
import type { Subscriber } from '../media/subscriber.js';
import type { SubscriberEvents } from '../media/types.js';
import { rtmpEgressForm } from '../media/egress/rtmp-form.js';
import type { PlayLease } from '../app/stream-service.js';
import type { RtmpSessionIO } from './types.js';

export class RtmpPlayer implements SubscriberEvents {
  readonly sub: Subscriber;
  readonly stream: LiveStream;
  private ended = false;
  private dropsCounted = false;

  constructor(
    private readonly session: RtmpSessionIO,
    private readonly lease: PlayLease,
    readonly streamId: number,
    reset: boolean,
  ) {
    const stream = (this.stream = lease.stream);
    const s = session;
    const name = stream.name;
    s.send(control.streamBegin(streamId));
    if (reset) s.send(onStatus(streamId, 'status', 'NetStream.Play.Reset', `Playing and resetting ${name}.`, name));
    s.send(onStatus(streamId, 'status', 'NetStream.Play.Start', `Started playing ${name}.`, name));
    s.send(sampleAccess(streamId));
    s.send(onStatus(streamId, 'status', 'NetStream.Data.Start', `Data for ${name}.`, name));
    const cfg = s.ctx.config;
    this.sub = lease.subscribe(rtmpEgressForm(streamId, s.chunkSize), s.transport, this, cfg.player, s.ctx.latency);
    s.socket.on('drain', this.onDrain);
  }

  private readonly onDrain = (): void => this.sub.pump();

  /**
   * rtmp.publishNotify (off by default, as nginx-rtmp's publish_notify): ffmpeg and librtmp players end
   * on UnpublishNotify, so telling them would undo media.republishGraceMs; they wait through it silently.
   */
  onUnpublish(): void {
    if (!this.session.ctx.config.rtmp.publishNotify) return;
    const name = this.stream.name;
    this.session.send(control.streamEof(this.streamId));
    this.session.send(onStatus(this.streamId, 'status', 'NetStream.Play.UnpublishNotify', `${name} is now unpublished.`, name));
  }

  onPublish(): void {
    if (!this.session.ctx.config.rtmp.publishNotify) return;
    const name = this.stream.name;
    this.session.send(control.streamBegin(this.streamId));
    this.session.send(onStatus(this.streamId, 'status', 'NetStream.Play.PublishNotify', `${name} is now published.`, name));
  }

  onStreamEnd(reason: string): void {
    if (this.ended) return;
    this.ended = true;
    // The stream closes our subscriber right after this: its drops move to the worker's count now.
    this.countDrops();
    const s = this.session;
    const name = this.stream.name;
    if (reason === 'stream not found') {
      s.send(onStatus(this.streamId, 'error', 'NetStream.Play.StreamNotFound', `${name} not found.`, name));
    } else {
      s.send(control.streamEof(this.streamId));
      s.send(onStatus(this.streamId, 'status', 'NetStream.Play.Stop', `Stopped playing ${name}: ${reason}.`, name));
    }
    // The stream is gone: this connection has nothing more to carry.
    setImmediate(() => s.close(`stream ended: ${reason}`));
  }

  onEvict(code: ErrorCode, reason: string): void {
    this.session.ctx.counters.playersEvicted++;
    this.stream.counters.playersEvicted++;
    this.session.fail(new SluiceError(code, `slow player: ${reason}`));
  }

  /** Once, as the subscriber leaves its stream (see control/snapshot.ts: open players' drops are read live). */
  private countDrops(): void {
    if (this.dropsCounted) return;
    this.dropsCounted = true;
    this.session.ctx.counters.tagsDropped += this.sub.tagsDropped;
  }

  /** Detaches from the stream (deleteStream, closeStream, or session end). Idempotent. */
  stop(): void {
    this.countDrops();
    this.session.socket.off('drain', this.onDrain);
    this.lease.release();
  }
}
