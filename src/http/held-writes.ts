/**
 * The pieces of one batch (FLV tag headers and shared tails) as an FLV
 * player's transport takes them: one by one while it accepts them, and
 * once it reports backpressure, the rest of the batch held and sent in one
 * piece at the batch's end. uWS tries to flush a congested socket's backlog
 * on every write, one send(2) per piece: at 1000 HTTP-FLV players that was
 * 370k syscalls/s, 13× WS-FLV's, and delivery collapsed
 * (docs/performance.md, "HTTP-FLV under backpressure").
 */
export class HeldWrites {
  private held: Buffer[] = [];
  private holding = false;

  /** `send`: false when the transport now holds backpressure (it keeps what it was given). */
  constructor(private readonly send: (b: Buffer) => boolean) {}

  /** `b` may be a scratch buffer (the rebaser's tag header): it is copied when held. */
  piece(b: Buffer): void {
    if (this.holding) this.held.push(Buffer.from(b));
    else if (!this.send(b)) this.holding = true;
  }

  /** The batch is over: what was held goes in one send. */
  end(): void {
    if (!this.holding) return;
    this.holding = false;
    const held = this.held;
    this.held = [];
    if (held.length > 0) this.send(Buffer.concat(held));
  }
}
