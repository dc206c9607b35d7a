// The UI's string catalogues (agent/http/ui/i18n/{en,de,zh-Hans}.js): the same keys in every language, the same
// placeholders per key, no empty or HTML text; every key the UI modules look up exists and every catalogue key is
// used; every status value the API can report (taken from the zod schemas and protocol constants) has a plain name
// and a one-line explanation in every language.
import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import { OUTCOMES, NO_VERDICT_REASONS } from '../adapters/protocol.ts';
import { HTTP_ROLES, queueSchema } from '../agent/config/schema.ts';
import { candidate } from '../agent/http/capture.ts';
import { overviewSchema, shiftSchema } from '../agent/http/overview.ts';
import { stations } from '../agent/http/schemas.ts';

type Catalogue = Record<string, string>;
const UI = new URL('../agent/http/ui/', import.meta.url);
// The browser's own modules (plain JS without types), loaded as the browser loads them.
const load = async (file: string): Promise<Record<string, unknown>> => import(new URL(file, UI).href);
const [en, de, zhHans] = await Promise.all(['i18n/en.js', 'i18n/de.js', 'i18n/zh-Hans.js'].map(async (f) => (await load(f)).default as Catalogue)) as [Catalogue, Catalogue, Catalogue];
const GLOSSARY_KINDS = (await load('glossary-kinds.js')).GLOSSARY_KINDS as string[];
const CATALOGUES: Record<string, Catalogue> = { en, de, 'zh-Hans': zhHans };
const SOURCES = readdirSync(UI).filter((f) => f.endsWith('.js') || f.endsWith('.html')).map((f) => ({ file: f, text: readFileSync(new URL(f, UI), 'utf8') }));

const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

// Status kinds whose values the API defines: the lists come from its schemas and constants, not a copy.
const station = stations.element.shape;
const API_ENUMS: Record<string, readonly string[]> = {
  verdict: overviewSchema.shape.stations.element.shape.verdict.shape.show.options,
  outcome: OUTCOMES,
  reason: NO_VERDICT_REASONS,
  camera: station.camera.shape.state.options,
  stationState: station.status.shape.state.options,
  reference: station.reference.shape.state.options,
  mode: station.latest.unwrap().shape.mode.options,
  thresholdSource: station.reference.shape.thresholdSource.options,
  trigger: station.triggerMode.options,
  queuePolicy: queueSchema.shape.policy.unwrap().options,
  candidate: candidate.shape.verdict.options,
  shiftCause: shiftSchema.shape.cause.options,
  role: HTTP_ROLES,
};
// Kinds the UI itself derives (health states from ok/degraded, component names from /healthz keys, the evidence
// image states): checked for presence in every language like any key.
const UI_KINDS = ['health', 'component', 'imageState'];

test('every language has exactly the keys of English, no empty texts, the same placeholders, no markup', (t) => {
  const keys = Object.keys(en).sort();
  t.true(keys.length > 300, `${keys.length} keys`);
  for (const [lang, cat] of Object.entries(CATALOGUES)) {
    t.deepEqual(Object.keys(cat).sort(), keys, `${lang}: same keys as en`);
    for (const [k, v] of Object.entries(cat)) {
      t.true(typeof v === 'string' && v.trim().length > 0, `${lang} ${k} is empty`);
      // Texts go into markup unescaped where they carry markup placeholders: none may bring its own.
      t.false(/[<>&]/.test(v), `${lang} ${k} has markup: ${v}`);
      t.deepEqual(placeholders(v), placeholders(en[k]!), `${lang} ${k}: placeholders`);
    }
  }
});

test('German and Chinese are translations, not English copies', (t) => {
  // Names of protocols, units and formats stay the same in every language; everything else differs somewhere.
  const same = (lang: string) => Object.keys(en).filter((k) => CATALOGUES[lang]![k] === en[k] && !/^[\s{}\w.:%/·()–|-]*$/.test(en[k]!.replace(/\{\w+\}/g, '')));
  for (const lang of ['de', 'zh-Hans']) {
    const copies = same(lang).filter((k) => !['header.token', 'nav.live', 'term.health.ok', 'term.component.opcua', 'term.component.mqtt', 'products.name', 'live.station', 'products.station', 'history.station', 'health.col.station'].includes(k));
    t.true(copies.length <= 12, `${lang}: ${copies.length} texts are English: ${copies.join(', ')}`);
  }
  t.is(de['term.outcome.PASS'], 'i.O.');
  t.is(de['term.outcome.FAIL'], 'n.i.O.');
  t.is(zhHans['term.outcome.PASS'], '合格');
  t.is(zhHans['term.outcome.FAIL'], '不合格');
});

test('every key the UI looks up is in the catalogue, every catalogue key is used', (t) => {
  const namespaces = [...new Set(Object.keys(en).map((k) => k.split('.')[0]!))].filter((n) => n !== 'term');
  const literal = new RegExp(`['"\`]((?:${namespaces.join('|')})\\.[A-Za-z0-9_.-]+)['"\`]`, 'g');
  const attr = /data-i18n(?:-[a-z-]+)?="([^"]+)"/g;
  const used = new Set<string>();
  for (const { file, text } of SOURCES) {
    for (const m of text.matchAll(literal)) used.add(m[1]!);
    for (const m of text.matchAll(attr)) used.add(m[1]!);
    // A key built at run time would escape this check: lookups name their keys in full (i18n.js builds term keys).
    if (file !== 'i18n.js') t.notRegex(text, /\bt\(`/, `${file}: t() with a template key`);
  }
  for (const k of used) t.true(k in en, `used but not in the catalogue: ${k}`);

  // Status kinds the modules show: term(kind, …), termHtml(kind, …), setTerm(el, kind, …).
  const kinds = new Set<string>();
  for (const { text } of SOURCES) {
    for (const m of text.matchAll(/\b(?:term|termHtml)\(\s*'([A-Za-z-]+)'/g)) kinds.add(m[1]!);
    for (const m of text.matchAll(/\bsetTerm\([^,]+,\s*'([A-Za-z-]+)'/g)) kinds.add(m[1]!);
  }
  t.deepEqual([...kinds].filter((k) => !GLOSSARY_KINDS.includes(k)), [], 'every kind shown is in the glossary');
  t.deepEqual(GLOSSARY_KINDS.filter((k) => !kinds.has(k)), [], 'every glossary kind is shown somewhere');
  t.deepEqual([...GLOSSARY_KINDS].sort(), [...Object.keys(API_ENUMS), ...UI_KINDS].sort(), 'each kind is either an API enum or a UI one');

  const unused = Object.keys(en).filter((k) => {
    if (used.has(k)) return false;
    const m = /^term\.([A-Za-z-]+)\.(.+?)(\.help)?$/.exec(k);
    return !(m && GLOSSARY_KINDS.includes(m[1]!));
  });
  t.deepEqual(unused, [], 'catalogue keys no module uses');
});

test('every status value of the API has a plain name and an explanation in every language, and only those', (t) => {
  for (const [kind, values] of Object.entries(API_ENUMS)) {
    t.true(values.length > 0, kind);
    for (const [lang, cat] of Object.entries(CATALOGUES)) {
      for (const v of values) {
        t.truthy(cat[`term.${kind}.${v}`], `${lang}: ${kind} ${v} has no plain name`);
        t.truthy(cat[`term.${kind}.${v}.help`], `${lang}: ${kind} ${v} has no explanation`);
        t.not(cat[`term.${kind}.${v}.help`], cat[`term.${kind}.${v}`], `${lang}: ${kind} ${v}: the explanation says more than the name`);
      }
      const listed = Object.keys(cat).map((k) => new RegExp(`^term\\.${kind}\\.(.+?)(?:\\.help)?$`).exec(k)?.[1]).filter((v): v is string => v !== undefined);
      t.deepEqual([...new Set(listed)].sort(), [...values].sort(), `${lang}: ${kind} entries are the API's values`);
    }
  }
  for (const kind of UI_KINDS) {
    const names = Object.keys(en).filter((k) => k.startsWith(`term.${kind}.`) && !k.endsWith('.help'));
    t.true(names.length > 0, kind);
    for (const k of names) t.truthy(en[`${k}.help`], `${k} has an explanation`);
  }
});

test('the glossary replaces the engineer words the issue names', (t) => {
  t.is(en['term.thresholdSource.pack-default'], 'Default threshold');
  t.is(en['term.reason.dropped'], 'Not inspected: queue full');
  t.is(en['common.referenceSet'], 'Reference set {version}');
  // No screen prints "ref v…", a raw NO_VERDICT reason or the threshold source code.
  for (const { file, text } of SOURCES) {
    t.notRegex(text, /ref v\$\{/, `${file}: "ref v7"`);
    t.notRegex(text, /\(\$\{[^}]*thresholdSource\}\)/, `${file}: a raw threshold source`);
  }
});
