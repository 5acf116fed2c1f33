#!/usr/bin/env node
/**
 * `npm run loadtest -- …` / `sluice loadtest …`: parse flags, run, print the
 * table, write --out files, and exit non-zero on a failed run (1), bad
 * usage (2) or a breached limit (3). Ctrl-C ends the run early and still
 * reports what was measured.
 */
import { pathToFileURL } from 'node:url';
import { describeError, errorCode } from '../src/core/errors.js';
import { HELP, parseCliArgs, type CliArgs } from './args.js';
import { writeOutputs } from './outputs.js';
import { COMPARE_HELP, runCompare } from './compare.js';
import { ProgressPrinter } from './progress.js';
import { runLoadtest } from './run.js';
import { buildSummary, formatSummary } from './summary.js';

export async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'compare') {
    try {
      return runCompare(argv.slice(1));
    } catch (err) {
      process.stderr.write(`loadtest: ${describeError(err)}\n${COMPARE_HELP}`);
      return 2;
    }
  }
  let args: CliArgs;
  try {
    args = parseCliArgs(argv);
  } catch (err) {
    process.stderr.write(`loadtest: ${describeError(err)} (see --help)\n`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const abort = new AbortController();
  const onSignal = (): void => {
    process.stderr.write('\nloadtest: stopping early (signal)\n');
    abort.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const progress = args.quiet ? undefined : new ProgressPrinter(process.stdout, args.input.durationS ?? 30);
  try {
    const result = await runLoadtest(args.input, { signal: abort.signal, onProgress: progress && ((p) => progress.update(p)) });
    progress?.stop();
    const summary = buildSummary(result);
    process.stdout.write(`\n${formatSummary(summary)}\n`);
    if (args.out) {
      const files = writeOutputs(args.out, result, summary);
      process.stdout.write(`\nwrote ${files.length} files to ${args.out} (report.html, summary.json, *.hgrm)\n`);
    }
    const failed = summary.thresholds.filter((t) => !t.ok);
    for (const t of failed) process.stderr.write(`loadtest: limit breached: --${t.name}: ${t.message}\n`);
    return failed.length > 0 ? 3 : 0;
  } catch (err) {
    progress?.stop();
    process.stderr.write(`loadtest: ${describeError(err)}\n`);
    return errorCode(err) === 'ERR_CONFIG' ? 2 : 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
