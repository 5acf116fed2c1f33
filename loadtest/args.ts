/**
 * Command-line flags → LoadtestInput (options.ts checks the values).
 */
import { parseArgs } from 'node:util';
import { SluiceError } from '../src/core/errors.js';
import { parseDurationMs } from './durations.js';
import { DEFAULT_URL_TEMPLATE, type LoadtestInput, type PlayProtocol } from './options.js';

export const HELP = `sluice loadtest — synthetic RTMP publishers and RTMP / HTTP-FLV / WS-FLV players
with HdrHistogram latency reports.

Usage:
  npm run loadtest -- --target rtmp://127.0.0.1:1935/live [options]
  sluice loadtest --target rtmp://127.0.0.1:1935/live [options]

Target:
  --target URL              rtmp://host[:port]/app publishers publish to (required)
  --play-protocol LIST      rtmp, http-flv, ws-flv, hls, comma-separated to mix (default rtmp)
  --play-url-template T     HTTP-FLV/WS-FLV URL, placeholders {host} {app} {stream}
                            (default ${DEFAULT_URL_TEMPLATE}; ws:// is derived for ws-flv)
  --allow-remote            allow a target that is not loopback
  -k, --insecure            do not check TLS certificates (rtmps://, https://, wss:// targets)

Load:
  --publishers N            publishers, one stream each (default 1)
  --players N               players per stream (default 10)
  --bitrate KBPS            video bitrate, kbit/s (default 2000; audio adds 128)
  --fps N                   video frame rate (default 25)
  --gop N                   frames per GOP (default 50)
  --audio on|off            AAC audio track (default on)
  --file PATH               replay this FLV file, looping, instead of synthetic media
  --ramp D                  time over which players connect (default 1s)
  --warmup D                streams run this long before the first player connects (default 0)
  --duration D              how long the run lasts (default 30s)
  --threads N               player threads (default: CPU count)
  --stream-prefix P         stream names are P-0, P-1, ... (default lt-<random>)
  --timeout D               bound on each connect / publish / play (default 10s)

Durations take units: 500ms, 10s, 2m, 1h, 1m30s; a plain number is seconds
(milliseconds for --timeout).

Report and limits:
  --out DIR                 write summary.json, one .hgrm per histogram, report.html
  --max-p99 MS              fail if video latency p99 exceeds MS
  --max-gap-rate F          fail if missing frames / expected frames exceeds F (0..1)
  --min-throughput MBPS     fail if Mbit/s delivered to players after the ramp is below MBPS
  --quiet                   no live progress
  -h, --help

Exit status: 0 ok, 1 the run failed, 2 bad usage, 3 a limit was breached.
`;

export interface CliArgs {
  help: boolean;
  quiet: boolean;
  out: string | undefined;
  input: LoadtestInput;
}

function number(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new SluiceError('ERR_CONFIG', `--${flag}: "${v}" is not a number`);
  return n;
}

function seconds(flag: string, v: string | undefined): number | undefined {
  return v === undefined ? undefined : parseDurationMs(flag, v, 's') / 1000;
}

function onOff(flag: string, v: string | undefined): boolean | undefined {
  if (v === undefined) return undefined;
  if (/^(on|true|yes|1)$/i.test(v)) return true;
  if (/^(off|false|no|0)$/i.test(v)) return false;
  throw new SluiceError('ERR_CONFIG', `--${flag}: expected on or off, got "${v}"`);
}

/** Throws ERR_CONFIG with a message fit for the user on bad flags. */
export function parseCliArgs(argv: string[]): CliArgs {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      help: { type: 'boolean', short: 'h' },
      quiet: { type: 'boolean' },
      target: { type: 'string' },
      'play-protocol': { type: 'string', multiple: true },
      'play-url-template': { type: 'string' },
      'allow-remote': { type: 'boolean' },
      insecure: { type: 'boolean', short: 'k' },
      publishers: { type: 'string' },
      players: { type: 'string' },
      bitrate: { type: 'string' },
      fps: { type: 'string' },
      gop: { type: 'string' },
      audio: { type: 'string' },
      file: { type: 'string' },
      ramp: { type: 'string' },
      warmup: { type: 'string' },
      duration: { type: 'string' },
      threads: { type: 'string' },
      'stream-prefix': { type: 'string' },
      timeout: { type: 'string' },
      out: { type: 'string' },
      'max-p99': { type: 'string' },
      'max-gap-rate': { type: 'string' },
      'min-throughput': { type: 'string' },
    },
  });
  if (values.help) return { help: true, quiet: false, out: undefined, input: { target: '' } };
  if (!values.target) throw new SluiceError('ERR_CONFIG', '--target rtmp://host:port/app is required');
  const protocols = values['play-protocol']?.flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
  const input: LoadtestInput = {
    target: values.target,
    playProtocols: protocols as PlayProtocol[] | undefined,
    playUrlTemplate: values['play-url-template'],
    allowRemote: values['allow-remote'],
    insecure: values.insecure,
    publishers: number('publishers', values.publishers),
    players: number('players', values.players),
    bitrateKbps: number('bitrate', values.bitrate),
    fps: number('fps', values.fps),
    gop: number('gop', values.gop),
    audio: onOff('audio', values.audio),
    file: values.file,
    rampS: seconds('ramp', values.ramp),
    warmupS: seconds('warmup', values.warmup),
    durationS: seconds('duration', values.duration),
    threads: number('threads', values.threads),
    streamPrefix: values['stream-prefix'],
    timeoutMs: values.timeout === undefined ? undefined : parseDurationMs('timeout', values.timeout, 'ms'),
    maxP99Ms: number('max-p99', values['max-p99']),
    maxGapRate: number('max-gap-rate', values['max-gap-rate']),
    minThroughputMbps: number('min-throughput', values['min-throughput']),
  };
  return { help: false, quiet: values.quiet ?? false, out: values.out, input };
}
