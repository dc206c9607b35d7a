// Reads and validates the YAML config. Every problem becomes one line: file:line: key.path: message (value: …).
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { removedCameraKey } from '../../drivers/config.ts';
import { configSchema, type AgentConfig } from './schema.ts';

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
  return `${p.file}:${p.line}: ${p.path || '(root)'}: ${p.message}${p.value ? ` (value: ${p.value})` : ''}`;
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
  throw new ConfigError(parsed.error.issues.flatMap((i) => describeIssue(i, doc, lines, file)), raw);
}

function describeIssue(issue: z.core.$ZodIssue, doc: Document, lines: LineCounter, file: string): ConfigProblem[] {
  const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
  const lineOf = (p: (string | number)[], key?: string) => lines.linePos(offsetOf(doc, p, key)).line;
  if (issue.code === 'unrecognized_keys') {
    const known = knownKeys(path, doc.toJS() as unknown);
    // cameras[i].source: a key that was removed says why and what to do instead of "unknown key".
    const inSource = path.length === 3 && path[0] === 'cameras' && path[2] === 'source';
    return issue.keys.map((key) => ({
      file, line: lineOf(path, key), path: joinPath([...path, key]), value: show(doc.getIn([...path, key])),
      message: (inSource ? removedCameraKey(key) : undefined) ?? `unknown key${known ? `; expected one of: ${known}` : ''}`,
    }));
  }
  const node = doc.getIn(path, true);
  const value = node === undefined ? '' : show(doc.getIn(path));
  let message = issue.message;
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

/** Resolves a path from the config against the directory the agent runs in (relative paths are cwd-relative, like every CLI). */
export function resolvePath(p: string, base = process.cwd()): string {
  return isAbsolute(p) ? p : resolve(base, p);
}

export { dirname };
