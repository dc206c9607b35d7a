// No import cycles between the agent's modules: every relative import (static, re-export, type-only, dynamic with a
// string literal) of the .ts/.mjs files under agent/, adapters/, drivers/ and models/ forms an acyclic graph.
import test from 'ava';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const ROOT = resolve(new URL('..', import.meta.url).pathname);
const AREAS = ['agent', 'adapters', 'drivers', 'models'];
const SKIP_DIRS = new Set(['node_modules', 'packs']);

/** The source without comments; string and template literals are kept (they hold the specifiers). */
function withoutComments(src: string): string {
  let out = '';
  for (let i = 0; i < src.length;) {
    const c = src[i]!;
    const next = src[i + 1];
    if (c === '/' && next === '/') {
      while (i < src.length && src[i] !== '\n') i++;
    } else if (c === '/' && next === '*') {
      const end = src.indexOf('*/', i + 2);
      i = end < 0 ? src.length : end + 2;
    } else if (c === '"' || c === "'" || c === '`') {
      let j = i + 1;
      while (j < src.length && src[j] !== c) j += src[j] === '\\' ? 2 : 1;
      out += src.slice(i, j + 1);
      i = j + 1;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/** Module specifiers of import/export declarations (type-only too), side-effect imports and import('literal'). */
export function importSpecifiers(src: string): string[] {
  const code = withoutComments(src);
  const found: string[] = [];
  const patterns = [
    /(?:^|[;\s}])(?:import|export)\s+(?:type\s+)?(?:[\w$*\s{},]*?)\s*from\s*(['"])([^'"]+)\1/g,
    /(?:^|[;\s}])import\s*(['"])([^'"]+)\1/g,
    /\bimport\s*\(\s*(['"])([^'"]+)\1\s*\)/g,
  ];
  for (const re of patterns) for (const m of code.matchAll(re)) found.push(m[2]!);
  return found;
}

function sourceFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return SKIP_DIRS.has(name) ? [] : sourceFiles(path);
    return /\.(ts|mjs)$/.test(name) && !name.endsWith('.d.ts') ? [path] : [];
  });
}

function resolveImport(from: string, spec: string): string | undefined {
  const base = resolve(dirname(from), spec);
  return [base, `${base}.ts`, `${base}.mjs`, join(base, 'index.ts')].find((p) => existsSync(p) && statSync(p).isFile());
}

/** One cycle through each strongly connected component of more than one file (or a file importing itself). */
export function findCycles(graph: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  let counter = 0;
  const visit = (v: string) => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (graph.get(v) ?? []).includes(v)) components.push(component);
    }
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  // A concrete cycle in each component: breadth-first from its first file back to itself, inside the component.
  return components.map((component) => {
    const members = new Set(component);
    const start = [...component].sort()[0]!;
    const previous = new Map<string, string>();
    const queue = [start];
    while (queue.length) {
      const v = queue.shift()!;
      for (const w of graph.get(v) ?? []) {
        if (!members.has(w)) continue;
        if (w === start) {
          const path = [v];
          while (path[0] !== start) path.unshift(previous.get(path[0]!)!);
          return [...path, start];
        }
        if (!previous.has(w)) {
          previous.set(w, v);
          queue.push(w);
        }
      }
    }
    return [start, start];
  });
}

test('the import parser sees static, re-export, type-only, side-effect and dynamic imports, not comments', (t) => {
  const src = [
    "import a from './a.ts';",
    "import type { B } from '../b.ts';",
    "import {\n  c,\n  type D,\n} from './c.ts';",
    "export { e } from './e.ts';",
    "export type { F } from './f.ts';",
    "export * from './g.ts';",
    "import './side-effect.ts';",
    "const h = await import('./h.ts');",
    "// import x from './commented.ts';",
    "/* export { y } from './block-commented.ts'; */",
    "const url = 'http://example/not-a-comment'; import i from './i.ts';",
  ].join('\n');
  t.deepEqual(importSpecifiers(src).sort(), ['../b.ts', './a.ts', './c.ts', './e.ts', './f.ts', './g.ts', './h.ts', './i.ts', './side-effect.ts']);
  t.deepEqual(findCycles(new Map([['a', ['b']], ['b', ['c']], ['c', ['a']], ['d', ['a']]])), [['a', 'b', 'c', 'a']]);
  t.deepEqual(findCycles(new Map([['a', ['b']], ['b', []]])), []);
});

test('no import cycles under agent/, adapters/, drivers/ and models/', (t) => {
  const files = AREAS.flatMap((area) => sourceFiles(join(ROOT, area)));
  t.true(files.length > 50, `found ${files.length} source files`);
  const nodes = new Set(files);
  const graph = new Map<string, string[]>();
  const unresolved: string[] = [];
  for (const file of files) {
    const targets: string[] = [];
    for (const spec of importSpecifiers(readFileSync(file, 'utf8'))) {
      if (!spec.startsWith('.')) continue;
      const target = resolveImport(file, spec);
      if (!target) unresolved.push(`${relative(ROOT, file)}: ${spec}`);
      else if (nodes.has(target)) targets.push(target);
    }
    graph.set(file, [...new Set(targets)]);
  }
  t.deepEqual(unresolved, [], 'relative imports that name no file');
  const cycles = findCycles(graph).map((cycle) => cycle.map((f) => relative(ROOT, f)).join(' -> '));
  t.deepEqual(cycles, [], `import cycles:\n${cycles.join('\n')}`);
});
