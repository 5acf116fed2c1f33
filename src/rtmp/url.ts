/** rtmp:// and rtmps:// URLs as clients of ours (the RTMP client, the edge puller) dial them. */
import { SluiceError } from '../core/errors.js';

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
