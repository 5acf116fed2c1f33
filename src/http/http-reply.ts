/** What the playback routes (FLV, HLS) share about uWS requests and answers. */
import type { HttpResponse } from 'uWebSockets.js';
import { plainIp } from '../access/ip-rules.js';

export const STATUS_TEXT = {
  200: '200 OK', 204: '204 No Content', 206: '206 Partial Content', 400: '400 Bad Request', 401: '401 Unauthorized', 403: '403 Forbidden',
  404: '404 Not Found', 415: '415 Unsupported Media Type', 416: '416 Range Not Satisfiable', 429: '429 Too Many Requests',
  500: '500 Internal Server Error', 503: '503 Service Unavailable',
} as const;

export type Status = keyof typeof STATUS_TEXT;

/** The client's address as the rest of sluice spells it (uWS prints IPv6 in full, IPv4 peers of `::` as mapped). */
export function peerOf(res: HttpResponse): string {
  return plainIp(Buffer.from(res.getRemoteAddressAsText()).toString());
}
