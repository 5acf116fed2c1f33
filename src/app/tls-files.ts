/**
 * A TLS certificate and key, read from files and (RTMPS) kept fresh: the files
 * are polled (rtmps.reloadCheckMs) and, when either changed, loaded into the
 * server with setSecureContext, so a renewed certificate (cert-manager,
 * certbot) is served to new connections while existing sessions go on
 * untouched. A file that cannot be read or parsed keeps the old context
 * and is logged.
 */
import { readFileSync, watchFile, unwatchFile, type Stats } from 'node:fs';
import type { Server as TlsServer, SecureContextOptions } from 'node:tls';
import { createSecureContext } from 'node:tls';
import { SluiceError, describeError } from '../core/errors.js';
import type { Logger } from './log.js';
import type { TlsFiles } from './config-views.js';

export type { TlsFiles };

/** Reads and checks both files; throws ERR_CONFIG naming the file. */
export function loadTls(f: TlsFiles): SecureContextOptions {
  const read = (path: string, what: string) => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new SluiceError('ERR_CONFIG', `${f.key}.${what} ${path}: cannot read`, { cause: err });
    }
  };
  const opts = { cert: read(f.certFile, 'certFile'), key: read(f.keyFile, 'keyFile') };
  try {
    createSecureContext(opts);
  } catch (err) {
    throw new SluiceError('ERR_CONFIG', `${f.key}: ${f.certFile} / ${f.keyFile}: not a usable certificate and key`, { cause: err });
  }
  return opts;
}

/** Reloads `server`'s certificate when the files change; returns the stop function. */
export function watchTls(server: TlsServer, f: TlsFiles, log: Logger): () => void {
  const changed = (now: Stats, before: Stats) => {
    if (now.mtimeMs === before.mtimeMs && now.size === before.size) return;
    try {
      server.setSecureContext(loadTls(f));
      log.info({ certFile: f.certFile }, `${f.key} certificate reloaded`);
    } catch (err) {
      log.error({ code: 'ERR_CONFIG', reason: describeError(err) }, `${f.key} certificate reload failed; the old one stays`);
    }
  };
  const opts = { interval: f.reloadCheckMs, persistent: false };
  watchFile(f.certFile, opts, changed);
  watchFile(f.keyFile, opts, changed);
  return () => {
    unwatchFile(f.certFile, changed);
    unwatchFile(f.keyFile, changed);
  };
}
