/**
 * A chunked HTTP/1.1 body (RFC 9112 §7.1) decoded in place: each read's
 * chunk framing is squeezed out of the buffer it arrived in, and the data
 * handed on as one piece per read. The load generator's HTTP-FLV players
 * read through this instead of node:http, whose stream machinery per
 * chunk (and sluice sends a tag's header and body as two chunks) made the
 * generator, not the server, the limit at 1000 players.
 */
import { SluiceError } from '../src/core/errors.js';

const CR = 0x0d;
const LF = 0x0a;
/** A chunk-size line longer than this is not HTTP (hex digits and an extension). */
const MAX_SIZE_LINE = 256;

export class ChunkedBody {
  /** Bytes left in the current chunk's data; -1 while reading a size line; -2 while reading the CRLF after data. */
  private left = -1;
  private size = 0;
  private digits = 0;
  private inExtension = false;
  private lineBytes = 0;
  private crlfSeen = 0;
  /** The last chunk (size 0) was read: the body is complete. */
  done = false;

  /**
   * Decodes `buf` (which it rewrites: pass a buffer nobody else reads) and
   * returns the body bytes it held, a view of `buf`'s start. Throws on a
   * malformed size line or chunk end.
   */
  push(buf: Buffer): Buffer {
    let out = 0;
    let i = 0;
    const n = buf.length;
    while (i < n && !this.done) {
      if (this.left > 0) {
        const take = Math.min(this.left, n - i);
        if (out !== i) buf.copy(buf, out, i, i + take);
        out += take;
        i += take;
        this.left -= take;
        if (this.left === 0) this.left = -2;
      } else if (this.left === -2) {
        const want = this.crlfSeen === 0 ? CR : LF;
        if (buf[i++] !== want) throw new SluiceError('ERR_PROTOCOL', 'chunked body: chunk data not followed by CRLF');
        if (++this.crlfSeen === 2) {
          this.crlfSeen = 0;
          this.left = -1;
        }
      } else {
        i = this.sizeLine(buf, i);
      }
    }
    return buf.subarray(0, out);
  }

  /** Reads size-line bytes from `i`; returns where it stopped. */
  private sizeLine(buf: Buffer, i: number): number {
    for (; i < buf.length; i++) {
      const c = buf[i]!;
      if (++this.lineBytes > MAX_SIZE_LINE) throw new SluiceError('ERR_PROTOCOL', 'chunked body: chunk-size line too long');
      if (c === LF) {
        if (this.digits === 0) throw new SluiceError('ERR_PROTOCOL', 'chunked body: chunk-size line without a size');
        const size = this.size;
        this.size = this.digits = this.lineBytes = 0;
        this.inExtension = false;
        // Trailers after the last chunk are not read: the generator closes the connection anyway.
        if (size === 0) this.done = true;
        else this.left = size;
        return i + 1;
      }
      if (this.inExtension || c === CR) continue;
      if (c === 0x3b /* ; */ || c === 0x20 || c === 0x09) {
        this.inExtension = true;
        continue;
      }
      const d = hexDigit(c);
      if (d < 0 || this.digits === 12) throw new SluiceError('ERR_PROTOCOL', `chunked body: bad chunk size byte 0x${c.toString(16)}`);
      this.size = this.size * 16 + d;
      this.digits++;
    }
    return i;
  }
}

function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  return l >= 0x61 && l <= 0x66 ? l - 0x61 + 10 : -1;
}
