/**
 * `npm run soak -- …` flags → SoakOptions, checked.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SluiceError } from '../../src/core/errors.js';
import { defaultQuietSeconds } from './run.js';
import type { SoakOptions } from './types.js';

export const HELP = `sluice soak — churn against a sluice started here, watching it for growth.

Usage:
  npm run soak -- --minutes N [options]

Starts \`node dist/src/cli.js serve\` (2 workers, free 127.0.0.1 ports) and for N minutes
runs publishers that come and go, RTMP / HTTP-FLV / WS-FLV players that join and leave,
players that stop reading, and clients that send garbage — then a quiet period with no
clients. Samples RSS, heap, fds, threads, connections, players, publishers and streams.

Options:
  --minutes N            length of the run, churn plus quiet period (fractions allowed; required)
  --sample-seconds S     seconds between samples (default 5)
  --out DIR              write soak.json and server.log there (default: a new tmp dir)
  --workers N            the server's worker threads (default 2)
  --streams N            stream slots publishing in turn (default 4)
  --max-players N        players at once, stalled ones included (default 60)
  --bitrate KBPS         video bitrate of each publisher (default 1500; audio adds 128)
  --stall-timeout-ms MS  the server's player.stallTimeoutMs (default 5000)
  --ring-mb N            the server's media.ringBytes in MiB (default 4: every ring is written
                         once within the warm-up, so filling rings does not read as growth)
  --quiet-seconds S      the quiet period at the end (default 15 % of the run, 12..30 s)
  --seed N               seed of the churn's random choices (default: random)
  --no-lines             no line per sample
  -h, --help

Exit status: 0 no growth, 1 a series grew or did not return to baseline (or the server
died), 2 bad usage, 3 interrupted before the end.
`;

function num(flag: string, v: string | undefined, dflt: number, min: number, max = Infinity, int = false): number {
  if (v === undefined) return dflt;
  const x = Number(v);
  if (v.trim() === '' || !Number.isFinite(x) || x < min || x > max || (int && !Number.isInteger(x))) {
    throw new SluiceError('ERR_CONFIG', `--${flag}: "${v}" is not ${int ? 'an integer' : 'a number'} from ${min} to ${max}`);
  }
  return x;
}

export function parseSoakArgs(argv: string[]): SoakOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      help: { type: 'boolean', short: 'h' },
      minutes: { type: 'string' },
      'sample-seconds': { type: 'string' },
      out: { type: 'string' },
      workers: { type: 'string' },
      streams: { type: 'string' },
      'max-players': { type: 'string' },
      bitrate: { type: 'string' },
      'stall-timeout-ms': { type: 'string' },
      'quiet-seconds': { type: 'string' },
      'ring-mb': { type: 'string' },
      seed: { type: 'string' },
      'no-lines': { type: 'boolean' },
    },
  });
  if (values.help) return 'help';
  if (values.minutes === undefined) throw new SluiceError('ERR_CONFIG', '--minutes N is required');
  const minutes = num('minutes', values.minutes, 0, 0.25, 24 * 60);
  const quietSeconds = num('quiet-seconds', values['quiet-seconds'], defaultQuietSeconds(minutes), 1);
  if (minutes * 60 - quietSeconds < 5) throw new SluiceError('ERR_CONFIG', `--minutes ${minutes} leaves under 5 s of churn before a ${quietSeconds} s quiet period`);
  return {
    minutes,
    sampleSeconds: num('sample-seconds', values['sample-seconds'], 5, 0.5, 600),
    out: values.out ?? mkdtempSync(join(tmpdir(), 'sluice-soak-')),
    workers: num('workers', values.workers, 2, 1, 64, true),
    streams: num('streams', values.streams, 4, 1, 50, true),
    maxPlayers: num('max-players', values['max-players'], 60, 1, 1000, true),
    bitrateKbps: num('bitrate', values.bitrate, 1500, 50, 50_000),
    stallTimeoutMs: num('stall-timeout-ms', values['stall-timeout-ms'], 5000, 100, 600_000, true),
    ringMb: num('ring-mb', values['ring-mb'], 4, 1, 1024, true),
    quietSeconds,
    seed: num('seed', values.seed, Math.floor(Math.random() * 2 ** 31), 0, 2 ** 32 - 1, true),
    quiet: values['no-lines'] ?? false,
  };
}
