/**
 * The publishing side of an RTMP session: audio, video, data and
 * aggregate messages into the stream's ring. Audio/video bodies are
 * already in the ring when they get here (the session's payloadFor put
 * them there); this classifies and commits them.
 */
import { SluiceError, wrapError } from '../core/errors.js';
import { decodeData, unwrapSetDataFrame } from '../protocol/commands.js';
import { splitAggregate } from '../protocol/aggregate.js';
import { MessageType, type MessageHeader } from '../protocol/types.js';
import type { AmfLimits, AmfValue } from '../protocol/amf-types.js';
import type { LiveStream } from '../media/live-stream.js';
import type { PublishLease } from '../app/stream-service.js';

export class RtmpPublisher {
  constructor(
    readonly lease: PublishLease,
    /** The message stream the publish came on. */
    readonly streamId: number,
    private readonly amf: Partial<AmfLimits>,
  ) {}

  get stream(): LiveStream {
    return this.lease.stream;
  }

  onMedia(h: MessageHeader, payload: Uint8Array): void {
    try {
      this.stream.commitMedia(h.type, h.timestamp, payload);
    } catch (err) {
      throw wrapError(`publish ${this.stream.key}`, err);
    }
  }

  onData(h: MessageHeader, payload: Uint8Array): void {
    // An AMF3 data message is AMF0 after a format byte of 0 (RTMP spec 7.1.2).
    const body = unwrapSetDataFrame(h.type === MessageType.DataAmf3 && payload[0] === 0 ? payload.subarray(1) : payload);
    let values: AmfValue[];
    try {
      values = decodeData(MessageType.DataAmf0, body, this.amf);
    } catch (err) {
      throw wrapError(`publish ${this.stream.key}: data message`, err);
    }
    if (values[0] === 'onMetaData') {
      const fields = values[1] && typeof values[1] === 'object' ? { ...(values[1] as Record<string, unknown>) } : {};
      this.stream.commitMetadata(h.timestamp, Buffer.from(body), fields);
    } else {
      this.stream.commitData(h.timestamp, body);
    }
  }

  /** Aggregate message: each contained audio/video/data tag as if sent alone. */
  onAggregate(h: MessageHeader, payload: Uint8Array): void {
    splitAggregate(h, payload, (sub, body) => {
      if (sub.type === MessageType.Audio || sub.type === MessageType.Video) this.onMedia(sub, body);
      else if (sub.type === MessageType.DataAmf0) this.onData(sub, body);
    });
  }
}

/** Media from a session that has not published is a protocol error. */
export function notPublishing(what: string): SluiceError {
  return new SluiceError('ERR_PROTOCOL', `${what} from a session that is not publishing`);
}
