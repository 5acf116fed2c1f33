/**
 * HTTP as bytes: a request written by hand on a fresh socket and the
 * answer read back raw, for what node:http would hide or refuse (a HEAD
 * response's body, odd request lines).
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { withTimeout } from './net.js';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  /** Bytes after the header block. */
  body: Buffer;
}

/**
 * Sends `request` on a fresh socket and collects the answer until the
 * server closes or nothing more arrives for `idleMs`: what a HEAD response
 * is really followed by, which node:http would hide.
 */
export async function rawRequest(port: number, request: string, idleMs = 150): Promise<RawResponse> {
  const s = net.connect({ host: '127.0.0.1', port });
  const got: Buffer[] = [];
  try {
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        let idle: NodeJS.Timeout | undefined;
        const rearm = (): void => {
          clearTimeout(idle);
          idle = setTimeout(resolve, idleMs);
        };
        s.once('connect', () => {
          s.write(request);
          rearm();
        });
        s.on('data', (b: Buffer) => {
          got.push(b);
          rearm();
        });
        s.once('close', () => {
          clearTimeout(idle);
          resolve();
        });
        s.once('error', reject);
      }),
      5000,
      `raw ${request.split('\r\n')[0]}`,
    );
  } finally {
    s.destroy();
  }
  const all = Buffer.concat(got);
  const end = all.indexOf('\r\n\r\n');
  assert.ok(end > 0, `no complete response head in ${JSON.stringify(all.toString('latin1'))}`);
  const [statusLine, ...lines] = all.subarray(0, end).toString('latin1').split('\r\n');
  const headers: Record<string, string> = {};
  for (const l of lines) headers[l.slice(0, l.indexOf(':')).trim().toLowerCase()] = l.slice(l.indexOf(':') + 1).trim();
  return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine!)?.[1]), headers, body: all.subarray(end + 4) };
}

/** `n` idle keep-alive HTTP connections, each after its 404 answer (on a cluster, several land on each worker). */
export async function idleHttpConnections(port: number, n: number): Promise<net.Socket[]> {
  const sockets: net.Socket[] = [];
  const answered: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    const s = net.connect(port, '127.0.0.1');
    s.on('error', () => {});
    sockets.push(s);
    answered.push(new Promise((resolve) => s.once('data', () => resolve())));
    s.write('GET /live/none.flv HTTP/1.1\r\nHost: sluice\r\n\r\n');
  }
  await Promise.all(answered);
  return sockets;
}
