// The layering rule of the design brief: core -> protocol -> media ->
// cluster -> server; a file never imports a higher layer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');
const RANK: Record<string, number> = { core: 0, protocol: 1, media: 2, cluster: 3, server: 4 };

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

test('no import points up the layers', () => {
  const bad: string[] = [];
  const all = files(ROOT);
  assert.ok(all.length > 10, 'found the sources');
  for (const f of all) {
    const layer = relative(ROOT, f).split('/')[0]!;
    if (!(layer in RANK)) continue;
    for (const m of readFileSync(f, 'utf8').matchAll(/from\s+'(\.[^']+)'/g)) {
      const target = relative(ROOT, resolve(dirname(f), m[1]!)).split('/')[0]!;
      if (target in RANK && RANK[target]! > RANK[layer]!) bad.push(`${relative(ROOT, f)} -> ${m[1]}`);
    }
  }
  assert.deepEqual(bad, []);
});
