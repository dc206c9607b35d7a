// Reads and validates the YAML config. Every problem becomes one line: file:line: key.path: message (value: …).
// The value of anything that may hold a secret (passwords, tokens, keys, users) is never shown: (value: ***).
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { removedCameraKey } from '../../drivers/config.ts';
import { agentSchema, configSchema, httpSchema, type AgentConfig } from './schema.ts';

export interface ConfigProblem {
  file: string;
  line: number;
  path: string;
  value: string;
  message: string;
}

export class ConfigError extends Error {
  constructor(readonly problems: ConfigProblem[], readonly raw: unknown) {
    super(problems.map(formatProblem).join('\n'));
  }
}

export function formatProblem(p: ConfigProblem): string {
  return `${briefProblem(p)}${p.value ? ` (value: ${p.value})` : ''}`;
}

/** The problem without any value: for places anyone may read (/healthz, /api/info, the safe-mode log). */
export function briefProblem(p: ConfigProblem): string {
  return `${p.file}:${p.line}: ${p.path || '(root)'}: ${p.message}`;
}

/** Key names that may hold a secret, also misspelled (pasword, tokn, secert): their values are never printed. */
const SECRET_KEY = /pass|pa?s+w|pwd|tok|secr|key|cred|auth/i;
const SECRET_WORDS = ['password', 'passwd', 'token', 'secret', 'passwordhash'];

export function isSecretKey(key: string): boolean {
  const k = key.toLowerCase();
  return SECRET_KEY.test(k) || /user/.test(k) || SECRET_WORDS.some((w) => editDistance(k, w) <= 2);
}

/** A path through a secret-bearing key (or anything under a users list). */
function isSecretPath(path: (string | number)[]): boolean {
  return path.some((seg) => typeof seg === 'string' && isSecretKey(seg));
}

/** A value with a secret-bearing key anywhere inside it. */
function holdsSecret(v: unknown, depth = 0): boolean {
  if (depth > 20 || v === null || typeof v !== 'object') return false;
  if (Array.isArray(v)) return v.some((x) => holdsSecret(x, depth + 1));
  return Object.entries(v).some(([k, x]) => isSecretKey(k) || holdsSecret(x, depth + 1));
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

/** The value as printed in a problem line: `***` where it is or holds a secret. */
function shown(path: (string | number)[], v: unknown): string {
  if (v === undefined) return '';
  return isSecretPath(path) || holdsSecret(v) ? '***' : show(v);
}

export interface LoadedConfig {
  file: string;
  config: AgentConfig;
}

/** Loads and validates; throws ConfigError (with the raw parsed object, for safe mode) or a plain Error when unreadable. */
export function loadConfig(file: string): LoadedConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read config ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}; pass an existing file with --config`);
  }
  return { file, config: parseConfig(text, file) };
}

export function parseConfig(text: string, file = '<config>'): AgentConfig {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length) {
    const problems = doc.errors.map((e) => ({ file, line: lines.linePos(e.pos[0]).line, path: '', value: '', message: `YAML syntax: ${e.message.split('\n')[0]}` }));
    throw new ConfigError(problems, undefined);
  }
  const raw = doc.toJS() as unknown;
  const parsed = configSchema.safeParse(raw ?? {});
  if (parsed.success) return parsed.data;
  // Cross-field checks run with the field checks (all problems in one pass); one rule may be reported twice: keep one.
  const seen = new Set<string>();
  const problems = parsed.error.issues.flatMap((i) => describeIssue(i, doc, lines, file)).filter((p) => {
    const key = formatProblem(p);
    return !seen.has(key) && !!seen.add(key);
  });
  throw new ConfigError(problems, raw);
}

function describeIssue(issue: z.core.$ZodIssue, doc: Document, lines: LineCounter, file: string): ConfigProblem[] {
  const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
  const lineOf = (p: (string | number)[], key?: string) => lines.linePos(offsetOf(doc, p, key)).line;
  if (issue.code === 'unrecognized_keys') {
    const known = knownKeys(path, doc.toJS() as unknown);
    // cameras[i].source: a key that was removed says why and what to do instead of "unknown key".
    const inSource = path.length === 3 && path[0] === 'cameras' && path[2] === 'source';
    return issue.keys.map((key) => ({
      file, line: lineOf(path, key), path: joinPath([...path, key]), value: shown([...path, key], doc.getIn([...path, key])),
      message: (inSource ? removedCameraKey(key) : undefined) ?? `unknown key${known ? `; expected one of: ${known}` : ''}`,
    }));
  }
  const node = doc.getIn(path, true);
  const value = node === undefined ? '' : shown(path, doc.getIn(path));
  // Some schema messages already start with their key ("http.token: at least 8 characters"): print it once.
  let message = issue.message.startsWith(`${joinPath(path)}: `) ? issue.message.slice(joinPath(path).length + 2) : issue.message;
  if (issue.code === 'invalid_type' && node === undefined) message = `required ${issue.expected} is missing`;
  else if (issue.code === 'invalid_type') message = `expected ${issue.expected}`;
  else if (issue.code === 'invalid_union' && 'note' in issue && issue.note === 'No matching discriminator') message = `${issue.message}; check the "type" key`;
  return [{ file, line: lineOf(path), path: joinPath(path), value, message }];
}

/** Offset of the node at `path` (or of its key `key`), falling back to the nearest existing parent. */
function offsetOf(doc: Document, path: (string | number)[], key?: string): number {
  for (let n = path.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true);
    if (!node) continue;
    if (key !== undefined && n === path.length && isMap(node)) {
      const pair = node.items.find((it) => isScalar(it.key) && it.key.value === key);
      const k = pair?.key as { range?: [number, number, number] } | undefined;
      if (k?.range) return k.range[0];
    }
    const range = (node as { range?: [number, number, number] }).range;
    if (range) return range[0];
    if (isSeq(node) || isMap(node)) continue;
  }
  return 0;
}

interface Def {
  type: string;
  shape?: Record<string, unknown>;
  element?: unknown;
  innerType?: unknown;
  in?: unknown;
  options?: unknown[];
}
const defOf = (schema: unknown): Def | undefined => (schema as { _zod?: { def?: Def } } | undefined)?._zod?.def;

/** Peels optional/default/prefault/pipe wrappers; picks a union member by the value's `type` key. */
function unwrap(schema: unknown, value: unknown): unknown {
  for (let i = 0; i < 10; i++) {
    const def = defOf(schema);
    if (!def) return schema;
    if (def.innerType) schema = def.innerType;
    else if (def.type === 'pipe' && def.in) schema = def.in;
    else if (def.type === 'union' && def.options) {
      const type = (value as { type?: unknown } | undefined)?.type;
      schema = def.options.find((o) => {
        const lit = defOf(defOf(o)?.shape?.type) as { values?: unknown[] } | undefined;
        return lit?.values?.includes(type);
      }) ?? def.options[0];
    } else return schema;
  }
  return schema;
}

/** The keys the schema allows at `path` (for "unknown key; expected one of …"). */
function knownKeys(path: (string | number)[], raw: unknown): string {
  let schema: unknown = configSchema;
  let value = raw;
  for (const seg of path) {
    schema = unwrap(schema, value);
    const def = defOf(schema);
    if (def?.type === 'object' && def.shape) schema = def.shape[String(seg)];
    else if (def?.type === 'array') schema = def.element;
    else return '';
    value = (value as Record<string | number, unknown> | undefined)?.[seg];
  }
  const shape = defOf(unwrap(schema, value))?.shape;
  return shape ? Object.keys(shape).join(', ') : '';
}

function joinPath(path: (string | number)[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i ? `.${p}` : p)).join('');
}

function show(v: unknown): string {
  const s = JSON.stringify(v);
  if (s === undefined) return '';
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

export interface SafeSettings {
  dataDir?: string;
  host: string;
  port?: number;
  token?: string;
  tokenEnv?: string;
  openReads: boolean;
  maxUploadMb?: number;
}

/**
 * What safe mode (invalid config) takes from the raw file: only the values that are valid there, and never more access
 * than the file asked for. Reads are open only when the file's http section says so (or leaves openReads out and has
 * no problem of its own); an unreadable file or http section closes them (the token, when one can be read, opens them).
 */
export function safeSettings(raw: unknown): SafeSettings {
  const isMap = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
  if (!isMap(raw)) return { host: '127.0.0.1', openReads: false };
  const out: SafeSettings = { host: '0.0.0.0', openReads: false };
  const dataDir = agentSchema.shape.dataDir.safeParse(isMap(raw.agent) ? raw.agent.dataDir : undefined);
  if (isMap(raw.agent) && raw.agent.dataDir !== undefined && dataDir.success) out.dataDir = dataDir.data;
  const http = raw.http;
  if (http === undefined) return { ...out, openReads: httpSchema.shape.openReads.parse(undefined) };
  if (!isMap(http)) return { ...out, host: '127.0.0.1' };
  const shape = httpSchema.shape;
  let clean = Object.keys(http).every((k) => k in shape);
  const take = <K extends keyof typeof shape>(key: K): z.output<(typeof shape)[K]> | undefined => {
    if (http[key] === undefined) return undefined;
    const r = shape[key].safeParse(http[key]);
    if (!r.success) clean = false;
    return r.success ? (r.data as z.output<(typeof shape)[K]>) : undefined;
  };
  const host = take('host'), port = take('port'), token = take('token'), tokenEnv = take('tokenEnv'), maxUploadMb = take('maxUploadMb');
  const openReads = take('openReads');
  // An invalid host must not widen where the API listens: loopback only.
  out.host = host ?? (http.host === undefined ? '0.0.0.0' : '127.0.0.1');
  if (port !== undefined) out.port = port;
  if (token !== undefined) out.token = token;
  if (tokenEnv !== undefined) out.tokenEnv = tokenEnv;
  if (maxUploadMb !== undefined) out.maxUploadMb = maxUploadMb;
  out.openReads = openReads ?? (clean && http.openReads === undefined);
  return out;
}

/** Resolves a path from the config against the directory the agent runs in (relative paths are cwd-relative, like every CLI). */
export function resolvePath(p: string, base = process.cwd()): string {
  return isAbsolute(p) ? p : resolve(base, p);
}

export { dirname };
