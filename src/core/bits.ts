import { SluiceError } from './errors.js';

/**
 * MSB-first bit cursor over bytes, with the exp-Golomb codes of H.264 9.1
 * (also H.265 9.2). Used by the codec header parsers (AAC
 * AudioSpecificConfig, H.264 and H.265 SPS). Over-reads throw ERR_CODEC
 * naming the field.
 */
export class BitReader {
  private bit = 0;

  constructor(private readonly buf: Uint8Array, private readonly what = 'bitstream') {}

  get bitsLeft(): number {
    return this.buf.length * 8 - this.bit;
  }

  /** Up to 32 bits, unsigned. */
  bits(n: number, field = 'bits'): number {
    if (n > this.bitsLeft) {
      throw new SluiceError('ERR_CODEC', `${this.what}: ${field}: need ${n} bits, have ${this.bitsLeft}`);
    }
    let v = 0;
    for (let i = 0; i < n; i++) {
      const b = (this.buf[this.bit >>> 3]! >>> (7 - (this.bit & 7))) & 1;
      v = v * 2 + b; // not <<: stays unsigned up to 32 bits
      this.bit++;
    }
    return v;
  }

  flag(field = 'flag'): boolean {
    return this.bits(1, field) === 1;
  }

  skip(n: number, field = 'skip'): void {
    if (n > this.bitsLeft) {
      throw new SluiceError('ERR_CODEC', `${this.what}: ${field}: need ${n} bits, have ${this.bitsLeft}`);
    }
    this.bit += n;
  }

  /** ue(v): leading zeros, a 1, then that many info bits. */
  ue(field = 'ue(v)'): number {
    let zeros = 0;
    while (this.bits(1, field) === 0) {
      if (++zeros > 31) throw new SluiceError('ERR_CODEC', `${this.what}: ${field}: exp-Golomb code longer than 32 bits`);
    }
    return zeros === 0 ? 0 : 2 ** zeros - 1 + this.bits(zeros, field);
  }

  /** se(v): ue mapped 0, 1, -1, 2, -2, ... */
  se(field = 'se(v)'): number {
    const k = this.ue(field);
    return k % 2 === 1 ? (k + 1) / 2 : -(k / 2);
  }
}
