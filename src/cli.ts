#!/usr/bin/env node
/**
 * sluice command line: `sluice serve [--config FILE] [--port N] [--set key=value ...]`.
 * Precedence: embedded defaults < config file < SLUICE_* environment < flags.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { describeError } from './core/errors.js';
import { configFromEnv, ignoredEnvNames, readConfigFile, resolveConfig, setPath } from './app/config.js';
import { createLogger } from './app/log.js';
import { packageVersion } from './app/version.js';
import { startServer } from './process/single.js';
import { startCluster } from './process/primary.js';
import { drainBudgetMs } from './app/config-views.js';
import { keepServingOnError } from './process/last-resort.js';

const HELP = `sluice ${packageVersion()} — live-streaming media server (RTMP)

Usage:
  sluice serve [options]     run the server
  sluice loadtest [options]  load generator (loadtest/README.md; sluice loadtest --help)
  sluice --help | --version

Options:
  -c, --config FILE          YAML or JSON config file (also SLUICE_CONFIG)
  -p, --port N               RTMP port (rtmp.port, default 1935)
  -w, --workers N            worker threads (cluster.workers, default: CPU count; 0 = one thread)
      --admin-port N         control plane port: health, metrics, API (admin.port, default 8081)
      --host ADDR            RTMP listen address (rtmp.host, default 0.0.0.0)
      --log-level LEVEL      trace|debug|info|warn|error|silent (log.level)
      --mode MODE            standalone|origin|edge (mode, default standalone)
      --origin URL           (edge) pull from rtmp://host:port[/app]; repeat in order of preference (edge.origins)
  -s, --set KEY=VALUE        any config key, e.g. --set media.republishGraceMs=10000

Environment: SLUICE_<SECTION>__<KEY>=VALUE, e.g. SLUICE_RTMP__PORT=1936; SLUICE_MODE=edge;
lists comma-separated: SLUICE_EDGE__ORIGINS=rtmp://o1:1935,rtmp://o2:1935.
Keys and defaults: docs/configuration.md.
`;

/**
 * The load generator is a program of its own (loadtest/cli.ts, beside
 * src/ in the package): run it with our arguments and its exit code, so the
 * server never loads its code.
 */
function runLoadtest(args: string[]): Promise<number> {
  const entry = new URL('../loadtest/cli.js', import.meta.url);
  const child = spawn(process.execPath, [fileURLToPath(entry), ...args], { stdio: 'inherit' });
  // Ctrl-C reaches the child from the terminal; its early-stop report must not be cut short here.
  const ignore = (): void => undefined;
  process.on('SIGINT', ignore);
  process.on('SIGTERM', (sig) => child.kill(sig));
  return new Promise((resolve) => {
    child.on('error', (err) => {
      process.stderr.write(`sluice loadtest: ${describeError(err)}\n`);
      resolve(1);
    });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'loadtest') return runLoadtest(argv.slice(1));
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'v' },
      config: { type: 'string', short: 'c' },
      port: { type: 'string', short: 'p' },
      workers: { type: 'string', short: 'w' },
      'admin-port': { type: 'string' },
      host: { type: 'string' },
      'log-level': { type: 'string' },
      mode: { type: 'string' },
      origin: { type: 'string', multiple: true },
      set: { type: 'string', short: 's', multiple: true },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (values.version) {
    process.stdout.write(`${packageVersion()}\n`);
    return 0;
  }
  const command = positionals[0] ?? 'serve';
  if (command !== 'serve') {
    process.stderr.write(`unknown command "${command}"\n\n${HELP}`);
    return 2;
  }
  const flags: Record<string, unknown> = {};
  if (values.port !== undefined) setPath(flags, 'rtmp.port', values.port);
  if (values.workers !== undefined) setPath(flags, 'cluster.workers', values.workers);
  if (values['admin-port'] !== undefined) setPath(flags, 'admin.port', values['admin-port']);
  if (values.host !== undefined) flags.rtmp = { ...(flags.rtmp as object), host: values.host };
  if (values['log-level'] !== undefined) flags.log = { level: values['log-level'] };
  if (values.mode !== undefined) flags.mode = values.mode;
  if (values.origin !== undefined) flags.edge = { origins: values.origin };
  for (const kv of values.set ?? []) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new Error(`--set ${kv}: expected KEY=VALUE`);
    setPath(flags, kv.slice(0, eq), kv.slice(eq + 1));
  }
  const file = values.config ?? process.env.SLUICE_CONFIG;
  const config = resolveConfig(file ? readConfigFile(file) : {}, configFromEnv(process.env), flags);
  const log = createLogger(config.log.level);
  const ignored = ignoredEnvNames(process.env);
  // Kubernetes service links (SLUICE_SERVICE_HOST...) look like ours but are not config.
  if (ignored.length > 0) log.debug({ names: ignored }, 'SLUICE_* environment names without __ are not config; skipped');
  if (config.cluster.workers > 0) keepServingOnError(log);
  // Signals are taken from before the start: one that arrives while the server starts (it logs
  // "started" before this function resumes) stops it once up, instead of killing it undrained.
  let server: { close(): Promise<void> } | undefined;
  let stopping: string | undefined;
  const stop = (signal: string) => {
    stopping ??= signal;
    if (server) shutDown(server, signal);
  };
  let shuttingDown = false;
  const shutDown = (srv: { close(): Promise<void> }, signal: string) => {
    if (shuttingDown) return;
    shuttingDown = true;
    log.info({ signal, graceMs: config.cluster.shutdownGraceMs, reconnectWaitMs: config.cluster.reconnectWaitMs }, 'shutting down');
    srv.close().then(
      () => process.exit(0),
      (err) => {
        log.error({ reason: describeError(err) }, 'shutdown failed');
        process.exit(1);
      },
    );
    // Past the grace period (plus slack for the workers' own deadline) stop regardless, as a failure.
    setTimeout(() => {
      log.error({ code: 'ERR_TIMEOUT', reason: 'shutdown did not finish within the grace period' }, 'forced exit');
      process.exit(1);
    }, config.cluster.drainDelayMs + drainBudgetMs(config.cluster) + 3000).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  server = config.cluster.workers === 0 ? await startServer(config, log) : await startCluster(config, log);
  if (stopping) shutDown(server, stopping);
  return -1;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (err) => {
    process.stderr.write(`sluice: ${describeError(err)}\n`);
    process.exit(1);
  },
);
