/**
 * Receive-rate floor against a slowloris in the middle of a message: a peer
 * can keep a session under rtmp.idleTimeoutMs with a whole control message
 * now and then while it trickles a large message that holds memory (up to
 * rtmp.maxMessageSize). A window counts against the session only when it
 * began and ended with a message in progress, so a quiet peer between
 * messages (a player, an idle publisher) is left to the idle bound.
 */
import { SluiceError } from '../core/errors.js';

export interface RateFloorSource {
  /** Bytes read from the socket so far. */
  bytesRead(): number;
  /** Some message is begun but not complete. */
  midMessage(): boolean;
}

export class ReceiveRateFloor {
  private readonly timer: NodeJS.Timeout | undefined;
  private bytesAtMark = 0;
  private midAtMark = false;

  constructor(
    source: RateFloorSource,
    bytesPerSecond: number,
    windowMs: number,
    onBreach: (err: SluiceError) => void,
  ) {
    if (bytesPerSecond === 0) return;
    const minBytes = Math.ceil((bytesPerSecond * windowMs) / 1000);
    this.bytesAtMark = source.bytesRead();
    this.timer = setInterval(() => {
      const bytes = source.bytesRead();
      const mid = source.midMessage();
      const got = bytes - this.bytesAtMark;
      if (mid && this.midAtMark && got < minBytes) {
        onBreach(
          new SluiceError(
            'ERR_TIMEOUT',
            `${got} bytes in ${windowMs} ms while a message was in progress, under rtmp.minBytesPerSecond (${bytesPerSecond})`,
          ),
        );
        return;
      }
      this.bytesAtMark = bytes;
      this.midAtMark = mid;
    }, windowMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
