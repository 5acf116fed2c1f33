/** rtmp:// and rtmps:// URLs as clients of ours (the RTMP client, the edge puller) dial them. */
import { SluiceError } from '../core/errors.js';
import { queryOf } from '../app/stream-name.js';

/** Where an rtmp:// URL points: the whole path is the application name. */
export interface RtmpUrl {
  host: string;
  port: number;
  app: string;
  tcUrl: string;
  /** rtmps://: RTMP inside TLS. */
  tls: boolean;
}

/** "rtmp[s]://host[:port]/app[/inst]" -> host, port (default 1935, rtmps 443), app "app[/inst]", tcUrl. */
export function parseRtmpUrl(url: string): RtmpUrl {
  let u: URL;
  try {
    u = new URL(url);
  } catch (err) {
    throw new SluiceError('ERR_CONFIG', `rtmp url ${JSON.stringify(url)}: not a URL`, { cause: err });
  }
  if (u.protocol !== 'rtmp:' && u.protocol !== 'rtmps:') throw new SluiceError('ERR_CONFIG', `rtmp url ${url}: scheme ${u.protocol} is not rtmp: or rtmps:`);
  const tls = u.protocol === 'rtmps:';
  const app = decodeURIComponent(u.pathname).replace(/^\/+|\/+$/g, '');
  if (!u.hostname || !app) throw new SluiceError('ERR_CONFIG', `rtmp url ${url}: needs a host and an application path`);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  return { host, port: u.port ? Number(u.port) : tls ? 443 : 1935, app, tcUrl: `${u.protocol}//${u.host}/${app}`, tls };
}

/** An absolute URL: it starts with a scheme. */
const HAS_SCHEME = /^[a-z][a-z0-9+.-]*:/i;

/**
 * A ReconnectRequest's tcUrl as a client dials it: absolute, or a relative
 * reference ("//host/app", "/app") resolved against the current tcUrl;
 * none means the current one (E-RTMP v2 "Reconnect Request").
 */
export function resolveTcUrl(ref: string | undefined, current: string): string {
  if (!ref) return current;
  if (HAS_SCHEME.test(ref)) return ref;
  try {
    return new URL(ref, current).href;
  } catch {
    return ref;
  }
}

/**
 * The tcUrl a draining server sends in ReconnectRequest:
 * cluster.reconnectTcUrl with `{app}` put in (the Service, not this pod),
 * else the tcUrl the client connected with (it came through the Service).
 * The client's connect query (a token for on_connect) goes along.
 */
export function reconnectTcUrl(template: string | undefined, app: string, clientTcUrl: string): string {
  if (!template) return clientTcUrl;
  const url = template.replaceAll('{app}', app);
  const q = queryOf(clientTcUrl);
  return q && !url.includes('?') ? `${url}?${q}` : url;
}
