// The layering rule of the design brief and docs/architecture.md, lowest first:
//   core -> protocol -> hls -> media -> cluster -> access -> app -> rtmp | http -> edge -> control -> process -> cli.ts
// A file imports only its own layer or lower ones (rtmp and http never each
// other), src/ never imports loadtest/ or native-free-bench/, and no file
// reaches itself through its imports (no circles, type imports included).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');
const RANK: Record<string, number> = {
  core: 0,
  protocol: 1,
  hls: 1.5,
  media: 2,
  cluster: 3,
  app: 4,
  access: 3.5,
  rtmp: 5,
  http: 5,
  edge: 6,
  control: 7,
  process: 8,
  'cli.ts': 9,
};

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Relative specifiers of every import: static, re-export, side-effect and dynamic `import(...)`. */
function importsOf(source: string): string[] {
  const out: string[] = [];
  for (const m of source.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*|^\s*import\s+)'(\.{1,2}\/[^']+)'/gm)) out.push(m[1]!);
  return out;
}

const SOURCES = files(ROOT);
/** src-relative file -> src-relative targets ('../x' when outside src). */
const GRAPH = new Map<string, string[]>(
  SOURCES.map((f) => [
    relative(ROOT, f),
    importsOf(readFileSync(f, 'utf8')).map((spec) => relative(ROOT, resolve(dirname(f), spec)).replace(/\.js$/, '.ts')),
  ]),
);

const layerOf = (file: string): string => file.split('/')[0]!;

test('the import scanner sees static, type, re-export and dynamic imports', () => {
  const sample = [
    "import { a } from './a.js';",
    "import type { B } from '../b/b.js';",
    "export { c } from './c.js';",
    "import './side-effect.js';",
    "const d = await import('../d.js');",
    "import x from 'node:fs';",
  ].join('\n');
  assert.deepEqual(importsOf(sample), ['./a.js', '../b/b.js', './c.js', './side-effect.js', '../d.js']);
});

test('every folder of src/ has a layer', () => {
  assert.ok(SOURCES.length > 50, 'found the sources');
  const unknown = [...new Set([...GRAPH.keys()].map(layerOf))].filter((l) => !(l in RANK));
  assert.deepEqual(unknown, []);
});

test('no import points up the layers or across to a sibling transport', () => {
  const bad: string[] = [];
  for (const [file, targets] of GRAPH) {
    const from = layerOf(file);
    for (const t of targets) {
      if (t.startsWith('..')) continue;
      const to = layerOf(t);
      if (to === from) continue;
      if (RANK[to]! >= RANK[from]!) bad.push(`${file} -> ${t}`);
    }
  }
  assert.deepEqual(bad, []);
});

test('src/ never imports the load generator or the benchmarks', () => {
  const bad: string[] = [];
  for (const [file, targets] of GRAPH) for (const t of targets) if (t.startsWith('..')) bad.push(`${file} -> ${t}`);
  assert.deepEqual(bad, []);
});

test('no import circles', () => {
  const circles: string[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (f: string): void => {
    state.set(f, 'open');
    path.push(f);
    for (const t of GRAPH.get(f) ?? []) {
      if (!GRAPH.has(t)) continue;
      if (state.get(t) === 'open') circles.push([...path.slice(path.indexOf(t)), t].join(' -> '));
      else if (!state.has(t)) visit(t);
    }
    path.pop();
    state.set(f, 'done');
  };
  for (const f of GRAPH.keys()) if (!state.has(f)) visit(f);
  assert.deepEqual(circles, []);
});
