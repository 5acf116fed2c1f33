/** A throwaway self-signed certificate and key for TLS tests, made with the openssl CLI. */
import { execFileSync } from 'node:child_process';
import { tmpFile } from './ffmpeg.js';

let n = 0;

export function selfSignedCert(cn = 'localhost'): { certFile: string; keyFile: string } {
  const base = tmpFile(`tls-${process.pid}-${n++}`);
  const certFile = `${base}.crt`;
  const keyFile = `${base}.key`;
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', `/CN=${cn}`, '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
  return { certFile, keyFile };
}
