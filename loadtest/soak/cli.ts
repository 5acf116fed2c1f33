#!/usr/bin/env node
/**
 * `npm run soak -- --minutes N`: run the soak (run.ts), print a line per
 * sample and the summary, write soak.json, and exit 0 (no growth), 1 (a
 * series grew, did not come back, or the server died), 2 (bad usage) or
 * 3 (interrupted). Ctrl-C stops the churn early and still reports; the
 * server is stopped on every path.
 */
import { pathToFileURL } from 'node:url';
import { describeError, errorCode } from '../../src/core/errors.js';
import { HELP, parseSoakArgs } from './args.js';
import { logText, sampleLine, summaryTable, talliesText, writeReport } from './report.js';
import { runSoak } from './run.js';
import type { SoakOptions } from './types.js';

export async function main(argv: string[]): Promise<number> {
  let o: SoakOptions | 'help';
  try {
    o = parseSoakArgs(argv);
  } catch (err) {
    process.stderr.write(`soak: ${describeError(err)} (see --help)\n`);
    return 2;
  }
  if (o === 'help') {
    process.stdout.write(HELP);
    return 0;
  }
  const opts = o;
  const abort = new AbortController();
  const onSignal = (): void => {
    if (abort.signal.aborted) process.exit(3);
    process.stderr.write('\nsoak: stopping early (signal); again to quit at once\n');
    abort.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const say = (s: string): boolean => process.stdout.write(`${s}\n`);
  say(`soak: ${opts.minutes} min (quiet ${opts.quietSeconds.toFixed(0)} s), sample every ${opts.sampleSeconds} s, ${opts.workers} workers, ` +
    `${opts.streams} streams at ${opts.bitrateKbps} kbit/s, ≤ ${opts.maxPlayers} players, stall timeout ${opts.stallTimeoutMs} ms, ${opts.ringMb} MiB rings, seed ${opts.seed}, out ${opts.out}`);
  try {
    const r = await runSoak(opts, {
      signal: abort.signal,
      onSample: opts.quiet ? undefined : (s) => say(sampleLine(s)),
      onPhase: (p, until) => say(`-- ${p} until t=${until.toFixed(0)} s`),
    });
    const path = writeReport(opts.out, r);
    say(`\n${summaryTable(r.verdict)}\n\n${talliesText(r.tallies)}\n\n${logText(r.server.log)}`);
    say(`server exit: code ${r.server.exit?.code ?? '-'}, signal ${r.server.exit?.signal ?? '-'}`);
    say(`\nwrote ${path} (samples, tallies, verdict) and ${r.server.log.lines} log lines to ${opts.out}/server.log`);
    for (const f of r.verdict.failures) process.stderr.write(`soak: FAIL ${f}\n`);
    if (r.interrupted) {
      process.stderr.write('soak: interrupted: the quiet-period checks did not run\n');
      return r.verdict.ok ? 3 : 1;
    }
    say(r.verdict.ok ? 'soak: PASS' : 'soak: FAIL');
    return r.verdict.ok ? 0 : 1;
  } catch (err) {
    process.stderr.write(`soak: ${describeError(err)}\n`);
    return errorCode(err) === 'ERR_CONFIG' ? 2 : 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
    // Every client is closed by now; should something still hold the event loop, say so and go.
    setTimeout(() => {
      process.stderr.write('soak: handles still open after the run; exiting anyway\n');
      process.exit(code);
    }, 5000).unref();
  });
}
