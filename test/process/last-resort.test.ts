/**
 * The primary's last-resort handler: an error nothing caught is logged (as
 * JSON, with a code) and the process keeps running. Run in a child process,
 * since the handler is process-wide.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const module = fileURLToPath(new URL('../../src/process/last-resort.js', import.meta.url));

test('an uncaught exception and an unhandled rejection are logged, and the process serves on', { timeout: 10000 }, async () => {
  const script = `
    const { keepServingOnError } = await import(${JSON.stringify(module)});
    const caught = keepServingOnError({ error: (o, m) => console.log(JSON.stringify({ ...o, msg: m })) });
    setTimeout(() => { throw new Error('bug in a message handler'); }, 5);
    setTimeout(() => { Promise.reject(new Error('forgotten promise')); }, 10);
    setTimeout(() => { console.log(JSON.stringify({ alive: true, caught: caught() })); }, 100);
  `;
  const out = await new Promise<string>((resolve, reject) =>
    execFile(process.execPath, ['--input-type=module', '-e', script], { timeout: 5000 }, (err, stdout) => (err ? reject(err) : resolve(stdout))),
  );
  const lines = out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(lines.length, 3, out);
  assert.deepEqual(lines.slice(0, 2).map((l) => [l.code, l.kind, String(l.reason).includes(l.kind === 'exception' ? 'bug in a message handler' : 'forgotten promise')]), [
    ['ERR_INTERNAL', 'exception', true],
    ['ERR_INTERNAL', 'rejection', true],
  ]);
  assert.deepEqual(lines[2], { alive: true, caught: 2 });
});
