/**
 * Where an edge pulls from: the upstream URL of a stream at an origin, and
 * the backoff between rounds over the origin list.
 */

/** rtmp[s]://host:port/app as configured keeps its app; rtmp[s]://host:port takes the player's. */
export function upstreamUrl(origin: string, app: string): string {
  const rest = origin.replace(/^rtmps?:\/\//, '');
  return rest.includes('/') && !rest.endsWith('/') ? origin : `${origin.replace(/\/+$/, '')}/${app}`;
}

/** The play name at the origin: the player's query string travels with it (origin-side tokens). */
export function upstreamPlayName(name: string, query: string): string {
  return query ? `${name}?${query}` : name;
}

/** Wait before the next round over all origins: minMs doubling each failed round, at most maxMs. */
export function backoffMs(failedRounds: number, retry: { minMs: number; maxMs: number }): number {
  if (failedRounds <= 0) return 0;
  return Math.min(retry.maxMs, retry.minMs * 2 ** Math.min(failedRounds - 1, 30));
}

/** "live/cam1" -> app "live", name "cam1" (HTTP paths give the app one segment, so the first slash splits). */
export function splitKey(key: string): { app: string; name: string } {
  const at = key.indexOf('/');
  return { app: key.slice(0, at), name: key.slice(at + 1) };
}
