/**
 * Client ids as operators see them, in the admin API and in every log line:
 * `{worker}-{protocol}-{localId}`, e.g. `2-rtmp-17`, `1-http-flv-3`. Worker
 * ids are never reused within a process (a replacement worker gets a new
 * one) and `--workers 0` is worker 0, so an id names one connection for the
 * life of the server.
 */
import type { ClientProtocol } from '../cluster/messages.js';

export function clientId(worker: number, protocol: ClientProtocol, localId: number): string {
  return `${worker}-${protocol}-${localId}`;
}

export function parseClientId(id: string): { worker: number; protocol: ClientProtocol; localId: number } | undefined {
  const m = /^(\d{1,9})-(rtmp|http-flv|ws-flv)-(\d{1,15})$/.exec(id);
  return m ? { worker: Number(m[1]), protocol: m[2] as ClientProtocol, localId: Number(m[3]) } : undefined;
}
