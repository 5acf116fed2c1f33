/**
 * Stream and application names as every transport receives them: RTMP's
 * connect app and publish/play names, HTTP paths. One rule for all, so a
 * name valid over RTMP is the same stream over HTTP.
 */
import { SluiceError } from '../core/errors.js';
import type { AmfValue } from '../protocol/amf-types.js';

/** Longest app or stream name accepted. */
export const MAX_NAME = 512;

/** "cam1?token=x" -> "cam1"; names must be printable and bounded. */
export function cleanName(raw: AmfValue, what: string): string {
  if (typeof raw !== 'string') throw new SluiceError('ERR_COMMAND', `${what}: expected a string`);
  const name = raw.split('?')[0]!.replace(/^\/+|\/+$/g, '');
  if (name.length === 0 || name.length > MAX_NAME || /[\x00-\x1f\x7f]/.test(name)) {
    throw new SluiceError('ERR_COMMAND', `${what}: invalid name ${JSON.stringify(raw.slice(0, 64))}`);
  }
  return name;
}

/** Longest query string passed on (to an edge's origin). */
export const MAX_QUERY = 2048;

/** "cam1?token=x" -> "token=x" ('' without one): what an edge passes to its origin. */
export function queryOf(raw: AmfValue): string {
  if (typeof raw !== 'string') return '';
  const at = raw.indexOf('?');
  return at < 0 ? '' : raw.slice(at + 1, at + 1 + MAX_QUERY);
}

/** The key a stream is known by in the directory, the API and the logs. */
export function streamKey(app: string, name: string): string {
  return `${app}/${name}`;
}
