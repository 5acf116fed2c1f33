/**
 * Configuration from SLUICE_* environment variables: SLUICE_<SECTION>__<KEY>,
 * and deeper keys with more `__` (SLUICE_CLUSTER__REDIS__URL). camelCase
 * keys match case-insensitively, underscores inside a level are ignored
 * (SLUICE_EDGE__PLAY_WAIT_MS). An unknown key in that form is an error
 * naming the variable, so a typo fails loudly; SLUICE_* names without `__`
 * are not config (Kubernetes service links) and are skipped.
 */
import { z } from 'zod';
import { SluiceError } from '../core/errors.js';

/** Names the config file (cli.ts), not a key. */
const CONFIG_FILE_ENV = 'SLUICE_CONFIG';
/** The one top-level scalar key: SLUICE_MODE=edge. */
const MODE_ENV = 'SLUICE_MODE';
const ENV_PREFIX = 'SLUICE_';
/** Separates levels: SLUICE_<SECTION>__<KEY>. */
const ENV_LEVEL_SEPARATOR = '__';

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Sets `a.b.c` in obj to a scalar parsed from text ("1936" -> 1936, "true" -> true). */
export function setPath(obj: Record<string, unknown>, path: string, text: string): void {
  const keys = path.split('.').filter(Boolean);
  let cur = obj;
  for (const k of keys.slice(0, -1)) {
    if (!isObject(cur[k])) cur[k] = {};
    cur = cur[k] as Record<string, unknown>;
  }
  let value: unknown = text;
  try {
    value = JSON.parse(text);
  } catch {
    // plain string
  }
  cur[keys[keys.length - 1]!] = value;
}

/**
 * What a SLUICE_* environment name is. Only names with `__` are config;
 * Kubernetes injects service links for a Service named `sluice`
 * (SLUICE_SERVICE_HOST, SLUICE_PORT_1935_TCP_ADDR, ...), never with `__`.
 */
function envNameKind(name: string): 'config' | 'ignored' | 'other' {
  if (!name.startsWith(ENV_PREFIX) || name === CONFIG_FILE_ENV || name === MODE_ENV) return 'other';
  return name.includes(ENV_LEVEL_SEPARATOR, ENV_PREFIX.length) ? 'config' : 'ignored';
}

/** The config input the environment gives, read against `schema` (the config object). */
export function envConfig(schema: z.ZodObject<z.ZodRawShape>, env: NodeJS.ProcessEnv): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, text] of Object.entries(env)) {
    if (name === MODE_ENV && text !== undefined) {
      out.mode = text;
      continue;
    }
    if (text === undefined || envNameKind(name) !== 'config') continue;
    const path = keyPath(schema, name.slice(ENV_PREFIX.length).toLowerCase().split(ENV_LEVEL_SEPARATOR));
    if (!path) throw new SluiceError('ERR_CONFIG', `environment ${name}: no such config key`);
    // A list key (edge.origins) is given comma-separated.
    if (path.leaf instanceof z.ZodArray) setPath(out, path.keys, JSON.stringify(text.split(',').map((v) => v.trim()).filter(Boolean)));
    else setPath(out, path.keys, text);
  }
  return out;
}

/** The dotted key a name's levels spell, and its schema; undefined when it names no leaf key. */
function keyPath(schema: z.ZodTypeAny, levels: string[]): { keys: string; leaf: z.ZodTypeAny } | undefined {
  const keys: string[] = [];
  let cur = unwrap(schema);
  for (const level of levels) {
    if (!(cur instanceof z.ZodObject)) return undefined;
    const shape = cur.shape as Record<string, z.ZodTypeAny>;
    const key = Object.keys(shape).find((k) => k.toLowerCase() === level.replace(/_/g, ''));
    if (!key) return undefined;
    keys.push(key);
    cur = unwrap(shape[key]!);
  }
  // A section alone (SLUICE_RTMP__) or a key that is itself a section is not a value.
  return keys.length >= 2 && !(cur instanceof z.ZodObject) ? { keys: keys.join('.'), leaf: cur } : undefined;
}

function unwrap(t: z.ZodTypeAny): z.ZodTypeAny {
  let cur = t;
  while (cur instanceof z.ZodDefault || cur instanceof z.ZodOptional || cur instanceof z.ZodEffects) cur = cur instanceof z.ZodEffects ? cur._def.schema : cur._def.innerType;
  return cur;
}

/** The SLUICE_* names envConfig skips as not config (e.g. Kubernetes service links), sorted, for a debug log line. */
export function ignoredEnvNames(env: NodeJS.ProcessEnv): string[] {
  return Object.keys(env)
    .filter((name) => env[name] !== undefined && envNameKind(name) === 'ignored')
    .sort();
}
