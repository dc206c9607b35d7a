// adapters/protocol.ts against the documents that define it: ../shared/PROTOCOLS.md (its tables and lines), and for the
// codes and names the project decided itself adapters/README.md and README.md. A change on either side fails here.
import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  ALARM_NAMES, ALARMS, COMMAND_REJECT, LAST_MASK_PNG_MAX_BYTES, METHOD_RESULT, MQTT_SCHEMA, MQTT_TOPIC, NAMESPACE_URI, NO_VERDICT_REASONS,
  OPCUA_SERVER_LIMITS, OUTCOMES, PART_ID_MAX_LENGTH, protocolForUi, RECIPE_STATUS, RESULT_BUFFER_SIZE, RESULT_EVENT_SEVERITY, STATION_STATES,
  VERDICT, type VerdictCode, verdictCodeOf, verdictNameOf,
} from '../adapters/protocol.ts';

const read = (rel: string) => readFileSync(fileURLToPath(new URL(rel, import.meta.url)), 'utf8');
const PROTOCOLS = read('../../shared/PROTOCOLS.md');
const ADAPTERS_README = read('../adapters/README.md').replace(/\s+/g, ' ');
const README = read('../README.md').replace(/\s+/g, ' ');
const RELIABILITY = read('../../shared/RELIABILITY.md').replace(/\s+/g, ' ');
// Every module of the browser UI, as one text.
const APP_JS = readdirSync(new URL('../agent/http/ui/', import.meta.url)).filter((f) => f.endsWith('.js')).map((f) => read(`../agent/http/ui/${f}`)).join('\n');

/** The cells of the PROTOCOLS.md table row whose first cell names `node`. */
function row(node: string): string[] {
  const line = PROTOCOLS.split('\n').find((l) => l.startsWith('|') && l.split('|')[1]!.includes(`\`${node}\``));
  if (!line) throw new Error(`PROTOCOLS.md has no table row for ${node}`);
  return line.split('|').slice(1, -1).map((c) => c.trim());
}
const semantics = (node: string) => row(node).at(-1)!;
/** `0 Undefined, 1 OK` → { Undefined: 0, OK: 1 }; parenthesised remarks are left out. */
const numberedNames = (text: string) =>
  Object.fromEntries([...text.replace(/\(.*?\)/g, '').matchAll(/(-?\d+) ([A-Za-z]+)/g)].map((m) => [m[2]!, Number(m[1])]));
/** `-1 unknown recipe` → ['unknownRecipe', -1]. */
const codePhrase = (s: string): [string, number] => {
  const m = /^\**(-?\d+)\**\s+(.+?)\**$/.exec(s.trim());
  if (!m) throw new Error(`not a "<code> <meaning>" entry: ${s}`);
  return [m[2]!.trim(), Number(m[1])];
};
const camel = (phrase: string) => phrase.split(' ').map((w, k) => (k ? w[0]!.toUpperCase() + w.slice(1) : w)).join('');
const match = (re: RegExp, text: string, what: string) => {
  const m = re.exec(text);
  if (!m) throw new Error(`${what} not found (${re})`);
  return m;
};

test('verdict codes and names: the Result.Verdict row, Result.Pass, rule (4) and the MQTT verdict example', (t) => {
  t.deepEqual(numberedNames(semantics('Result.Verdict')), VERDICT);
  t.is(Number(match(/Verdict==(\d+)/, semantics('Result.Pass'), 'Result.Pass')[1]), VERDICT.OK);
  t.is(verdictCodeOf('PASS'), VERDICT.OK);
  t.is(verdictCodeOf('FAIL'), VERDICT.NOK);
  // Rule (4): a trigger timeout (a NO_VERDICT{timeout}) produces Verdict 3.
  t.is(Number(match(/trigger timeout.*?produces Verdict=(\d+)/, PROTOCOLS, 'rule (4)')[1]), verdictCodeOf('NO_VERDICT'));
  const example = match(/"verdict":"(\w+)","verdictCode":(\d+)/, PROTOCOLS, 'the MQTT verdict example');
  t.is(example[1], verdictNameOf(Number(example[2]) as VerdictCode));
  for (const [name, code] of Object.entries(VERDICT)) t.is(name, verdictNameOf(code));
});

test('station states: the Agent.StateNumber row and the MQTT status example', (t) => {
  t.deepEqual(numberedNames(semantics('Agent.StateNumber')), STATION_STATES);
  const example = match(/"state":"(\w+)","stateNumber":(\d+)/, PROTOCOLS, 'the MQTT status example');
  t.is(Number(example[2]), STATION_STATES[example[1] as keyof typeof STATION_STATES]);
});

test('method and trigger reject codes: the TriggerRejectCode row, "Methods", adapters/README.md "Codes"', (t) => {
  const meaning: Record<string, keyof typeof METHOD_RESULT> = { accepted: 'ok', 'not ready': 'notReady', busy: 'busy', 'buffer full': 'resultBufferFull' };
  const rejects = semantics('Status.TriggerRejectCode').split(';').map(codePhrase);
  t.deepEqual(rejects.map(([p]) => p).sort(), Object.keys(meaning).sort(), 'every TriggerRejectCode the spec lists has a constant');
  for (const [phrase, code] of rejects) t.is(code, METHOD_RESULT[meaning[phrase]!], phrase);
  t.is(Number(match(/error Int32 (-?\d+) = OK/, PROTOCOLS, '"Methods" error line')[1]), METHOD_RESULT.ok);

  // The app-specific ones (-4…-6) are ours: adapters/README.md lists all of them in one line.
  const line = match(/Codes \(method `Error`[^)]*\): (.+?)\. /, ADAPTERS_README, 'adapters/README.md "Codes"')[1]!;
  const ours: Record<string, number> = {
    ok: METHOD_RESULT.ok, 'not ready / unknown recipe': METHOD_RESULT.notReady, busy: METHOD_RESULT.busy, 'buffer full': METHOD_RESULT.resultBufferFull,
    'unknown ResultId': METHOD_RESULT.unknownResultId, 'ResultSeq is not the presented un-acked result': METHOD_RESULT.resultSeqNotPresented,
    'trigger timeout': METHOD_RESULT.triggerTimeout,
  };
  t.deepEqual(Object.fromEntries(line.replaceAll('**', '').split(', ').map(codePhrase)), ours);
  t.deepEqual(new Set(Object.values(ours)), new Set(Object.values(METHOD_RESULT)), 'every METHOD_RESULT code is documented');
  t.is(METHOD_RESULT.notReady, RECIPE_STATUS.unknownRecipe, '-1 is both "not ready" and "unknown recipe"');
});

test('recipe status: the Recipe.Status row', (t) => {
  const text = semantics('Recipe.Status').replace(/^Status /, '');
  t.deepEqual(Object.fromEntries(text.split(',').map(codePhrase).map(([p, c]) => [camel(p), c])), RECIPE_STATUS);
});

test('MQTT command reject codes: adapters/README.md "MQTT commands"', (t) => {
  const text = match(/request problems: (.+?)\. /, ADAPTERS_README, 'adapters/README.md command codes')[1]!;
  const meaning: Record<string, keyof typeof COMMAND_REJECT> = {
    'bad JSON / wrong type / unknown field': 'badRequest', 'unknown command': 'unknownCommand', 'unknown station': 'unknownStation',
    retained: 'retained', 'the command threw': 'failed',
  };
  const listed = text.split(', ').map(codePhrase);
  t.deepEqual(Object.fromEntries(listed.map(([p, c]) => [meaning[p] ?? p, c])), { ...COMMAND_REJECT });
});

test('alarms: the "Events/alarms" list, BrokerOffline the low one, CameraDisconnected as in the MQTT example', (t) => {
  const list = match(/^- Alarms \([^)]*\): (.+)\.$/m, PROTOCOLS, 'the alarm list')[1]!.split(', ');
  t.deepEqual(list.map((a) => a.replace(/\s*\(.*\)$/, '')), ALARM_NAMES);
  const low = list.filter((a) => a.includes('(low severity)')).map((a) => a.split(' ')[0] as keyof typeof ALARMS);
  t.true(low.length > 0);
  const others = ALARM_NAMES.filter((n) => !low.includes(n));
  for (const n of low) t.true(others.every((o) => ALARMS[o] > ALARMS[n]), `${n} (${ALARMS[n]}) is below every other alarm`);
  const example = match(/"alarm":"(\w+)","active":true,"severity":(\d+)/, PROTOCOLS, 'the MQTT alarm example');
  t.is(Number(example[2]), ALARMS[example[1] as keyof typeof ALARMS]);
  for (const n of ALARM_NAMES) t.true(ALARMS[n] >= 1 && ALARMS[n] <= 1000, `${n}: OPC UA severity 1..1000`);
  const events = match(/Severity (\d+) for NOK, (\d+) for OK/, PROTOCOLS, 'VisionResultEventType severities');
  t.deepEqual(RESULT_EVENT_SEVERITY, { NOK: Number(events[1]), OK: Number(events[2]) });
});

test('limits: PartId length, LastMaskPng size, result buffer, server limits, namespace', (t) => {
  t.is(Number(match(/≤(\d+)/, row('Control.PartId')[1]!, 'Control.PartId type')[1]), PART_ID_MAX_LENGTH);
  t.is(Number(match(/≤(\d+) MiB/, semantics('Images.LastMaskPng'), 'Images.LastMaskPng')[1]) * 1024 * 1024, LAST_MASK_PNG_MAX_BYTES);
  t.is(Number(match(/max (\d+)/, semantics('Status.PendingResults'), 'Status.PendingResults')[1]), RESULT_BUFFER_SIZE);
  t.is(Number(match(/With (\d+) pending/, PROTOCOLS, 'rule (3)')[1]), RESULT_BUFFER_SIZE);
  const limits = match(/\*\*Server limits:\*\* (.+)\./, PROTOCOLS, 'server limits')[1]!;
  t.deepEqual(
    Object.fromEntries([...limits.matchAll(/(\w+) (\d+)( MiB)?/g)].map((m) => [m[1]!, Number(m[2]) * (m[3] ? 1024 * 1024 : 1)])),
    OPCUA_SERVER_LIMITS,
  );
  t.is(match(/Namespace URI `([^`]+)`/, PROTOCOLS, 'namespace URI')[1], NAMESPACE_URI);
});

test('MQTT: topic segments of the topic table and payload schemas', (t) => {
  const topics = PROTOCOLS.split('\n').filter((l) => l.startsWith('| `P/')).map((l) => l.split('`')[1]!);
  t.true(topics.length >= 6);
  // The topic's own segment: the first after P/ that is no <placeholder>.
  const segments = topics.map((p) => p.split('/').slice(1).find((s) => !s.startsWith('<'))!);
  const { command, reply, ...specified } = MQTT_TOPIC;
  t.deepEqual(new Set(segments), new Set(Object.values(specified)));
  t.true(ADAPTERS_README.includes(`\`P/<station>/${command}/<name>\``));
  t.true(ADAPTERS_README.includes(`\`P/<station>/${command}/<name>/${reply}\``));

  const schemas = [...PROTOCOLS.matchAll(/"schema":"(adaptclip\.(\w+)\/\d+)"/g)];
  t.true(schemas.length >= 4);
  for (const [, schema, kind] of schemas) t.is(schema, MQTT_SCHEMA[kind as keyof typeof MQTT_SCHEMA]);
  t.true(ADAPTERS_README.includes(`"schema":"${MQTT_SCHEMA.reply}"`));
  t.true(ADAPTERS_README.includes(`\`${MQTT_SCHEMA.metrics}\``));
});

test('outcomes and NO_VERDICT reasons: README.md "Pipeline guarantees" and RELIABILITY.md', (t) => {
  const m = match(/exactly one outcome — (\w+), (\w+) or (\w+) with a reason \((.*?)\) — stored/, README, 'README.md "Pipeline guarantees"');
  t.deepEqual([m[1], m[2], m[3]], [...OUTCOMES]);
  const reasons = [...m[4]!.matchAll(/`([^`]+)`/g)].map((r) => r[1]!).filter((r) => /^[a-z_]+$/.test(r));
  t.deepEqual(reasons, [...NO_VERDICT_REASONS]);
  const r = match(/one outcome \(`(\w+)`, `(\w+)`, or `(\w+)\{/, RELIABILITY, 'RELIABILITY.md "Per-frame accounting"');
  t.deepEqual([r[1], r[2], r[3]], [...OUTCOMES]);
});

test('protocolForUi: plain JSON; the UI takes it from /api/info and keeps no copy', (t) => {
  const ui = protocolForUi();
  t.deepEqual(JSON.parse(JSON.stringify(ui)), ui);
  t.deepEqual(Object.values(ui.outcomes), [...OUTCOMES]);
  t.deepEqual(ui.verdicts, { ...VERDICT });
  t.regex(APP_JS, /protocol = info\.protocol;/);
  t.notRegex(APP_JS, /['"]NO_VERDICT['"]/, 'the UI names no outcome itself');
});
