// A request that fails its zod schema, said in plain words: which field, what it must be (read from the route's own
// schema, so the words follow the rules), and what was sent, e.g. "threshold must be between 0 and 1 (got 1.5)".
import { z, type ZodType } from 'zod';

/** One issue as fastify-type-provider-zod hands it over (zod's issue, its path as a JSON pointer). */
export interface ValidationIssue {
  keyword: string;
  instancePath: string;
  message?: string;
  params: Record<string, unknown>;
}

interface JsonSchema {
  type?: string | string[];
  anyOf?: JsonSchema[];
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minLength?: number;
  maxLength?: number;
}

const PART_NAMES: Record<string, string> = { body: 'body', querystring: 'query', params: 'path', headers: 'headers' };
const jsonSchemas = new WeakMap<object, JsonSchema>();

function jsonSchemaOf(schema: unknown): JsonSchema | undefined {
  if (!(schema instanceof z.ZodType)) return undefined;
  let js = jsonSchemas.get(schema);
  if (!js) {
    try {
      js = z.toJSONSchema(schema as ZodType, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
    } catch {
      return undefined;
    }
    jsonSchemas.set(schema, js);
  }
  return js;
}

/** The schema's variants other than null, and whether null is allowed. */
function variants(js: JsonSchema): { options: JsonSchema[]; nullable: boolean } {
  const all = js.anyOf ? js.anyOf.flatMap((o) => variants(o).options.concat(o.type === 'null' ? [o] : [])) : [js];
  return { options: all.filter((o) => o.type !== 'null'), nullable: all.some((o) => o.type === 'null') };
}

function fieldSchema(root: JsonSchema | undefined, path: string[]): JsonSchema | undefined {
  let at = root;
  for (const key of path) {
    if (!at) return undefined;
    const next: JsonSchema | undefined = variants(at).options.map((o) => (/^\d+$/.test(key) && o.items ? o.items : o.properties?.[key])).find(Boolean);
    at = next;
  }
  return at;
}

const shown = (v: unknown) => (v === undefined ? 'nothing' : JSON.stringify(v));

/** "between 0 and 1", "a whole number from 1 to 2147483647", "a whole number of at least 1". */
function numberRule(s: JsonSchema): string {
  const integer = s.type === 'integer';
  let min = s.minimum ?? (s.exclusiveMinimum !== undefined ? (integer ? s.exclusiveMinimum + 1 : s.exclusiveMinimum) : undefined);
  let max = s.maximum ?? (s.exclusiveMaximum !== undefined ? (integer ? s.exclusiveMaximum - 1 : s.exclusiveMaximum) : undefined);
  if (max !== undefined && max >= Number.MAX_SAFE_INTEGER) max = undefined;
  if (min !== undefined && min <= Number.MIN_SAFE_INTEGER) min = undefined;
  const strictMin = s.minimum === undefined && s.exclusiveMinimum !== undefined && !integer;
  if (integer) {
    if (min !== undefined && max !== undefined) return `a whole number from ${min} to ${max}`;
    if (min !== undefined) return `a whole number of at least ${min}`;
    if (max !== undefined) return `a whole number of at most ${max}`;
    return 'a whole number';
  }
  if (min !== undefined && max !== undefined) return `between ${min} and ${max}`;
  if (min !== undefined) return strictMin ? `a number above ${min}` : `a number of at least ${min}`;
  if (max !== undefined) return `a number of at most ${max}`;
  return 'a number';
}

function rule(s: JsonSchema): string {
  const { options, nullable } = variants(s);
  const words = options.map((o) => {
    if (o.enum) return `one of ${o.enum.map((v) => JSON.stringify(v)).join(', ')}`;
    if (o.type === 'integer' || o.type === 'number') return numberRule(o);
    if (o.type === 'string') return o.maxLength !== undefined ? `text of at most ${o.maxLength} characters` : 'text';
    if (o.type === 'boolean') return 'true or false';
    if (o.type === 'object') return 'an object';
    if (o.type === 'array') return 'a list';
    return 'valid';
  });
  return [...new Set(words)].join(' or ') + (nullable ? ', or null' : '');
}

function inputAt(input: unknown, path: string[]): unknown {
  let at = input;
  for (const key of path) at = at !== null && typeof at === 'object' ? (at as Record<string, unknown>)[key] : undefined;
  return at;
}

/** The plain-words sentence for one issue; `schema` is the route's zod schema of that part, `input` what was sent. */
export function issueInWords(issue: ValidationIssue, schema: unknown, input: unknown, part: string): string {
  const path = issue.instancePath.split('/').filter(Boolean);
  const field = path.join('.') || `the ${part}`;
  const root = jsonSchemaOf(schema);
  const own = fieldSchema(root, path);
  const got = inputAt(input, path);
  const p = issue.params;
  switch (issue.keyword) {
    case 'unrecognized_keys': {
      const keys = (p.keys as string[] | undefined) ?? [];
      const allowed = own ? variants(own).options.flatMap((o) => Object.keys(o.properties ?? {})) : [];
      return `unknown field${keys.length > 1 ? 's' : ''} ${keys.map((k) => `"${k}"`).join(', ')}${path.length ? ` in ${field}` : ''}; ${allowed.length ? `allowed: ${allowed.join(', ')}` : 'no fields are allowed here'}`;
    }
    case 'invalid_type':
      if (got === undefined) return `${field} is required${own ? `: ${rule(own)}` : ''}`;
      return `${field} must be ${own ? rule(own) : String(p.expected ?? 'another type')} (got ${shown(got)})`;
    case 'too_small':
    case 'too_big':
      if (p.origin === 'string') {
        if (issue.keyword === 'too_small' && p.minimum === 1) return `${field} must not be empty`;
        const length = typeof got === 'string' ? ` (got ${got.length})` : '';
        return issue.keyword === 'too_small' ? `${field} must have at least ${String(p.minimum)} characters${length}` : `${field} must have at most ${String(p.maximum)} characters${length}`;
      }
      if (p.origin === 'array') return `${field} must have ${issue.keyword === 'too_small' ? `at least ${String(p.minimum)}` : `at most ${String(p.maximum)}`} entries`;
      if (own) return `${field} must be ${numberRule(variants(own).options.find((o) => o.type === 'number' || o.type === 'integer') ?? {})} (got ${shown(got)})`;
      return `${field} must be ${issue.keyword === 'too_small' ? `at least ${String(p.minimum)}` : `at most ${String(p.maximum)}`} (got ${shown(got)})`;
    case 'invalid_value': {
      const values = (p.values as unknown[] | undefined) ?? [];
      return `${field} must be ${values.length === 1 ? JSON.stringify(values[0]) : `one of ${values.map((v) => JSON.stringify(v)).join(', ')}`} (got ${shown(got)})`;
    }
    default:
      return `${field}: ${issue.message ?? issue.keyword}`;
  }
}

/** "invalid request body: threshold must be between 0 and 1 (got 1.5)"; the first problem, and how many more. */
export function validationMessage(issues: readonly ValidationIssue[], context: string, schema: unknown, input: unknown): string {
  const part = PART_NAMES[context] ?? context;
  const first = issues[0];
  const words = first ? issueInWords(first, schema, input, part) : 'it does not match the documented schema';
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more problem${issues.length > 2 ? 's' : ''})` : '';
  return `invalid request ${part}: ${words}${more}`;
}
