// Shift counters against the real daemon, a real mosquitto and a real OPC UA client: a reset from HTTP, MQTT or the
// PLC each opens a new shift (counts back to 0, OPC UA Counters.* too) and is audited with who; the schedule starts
// shifts on its own; counts survive a restart and always equal the store's results since the shift start.
import test from 'ava';
import mqtt from 'mqtt';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configSchema } from '../agent/config/schema.ts';
import { overviewSchema } from '../agent/http/overview.ts';
import { latestShiftStart } from '../agent/shifts.ts';
import { startHarness, waitFor, TEST_TOKEN, type Harness } from './helpers/harness.ts';
import { freePort, startMosquitto } from './helpers/mosquitto.ts';
import { connectPlc } from './helpers/plc.ts';

const P = 'adaptclip/v1/site/line/test';
type Shift = { startedAt: number; startedBy: string; cause: string; ok: number; ng: number; notInspected: number; reasons: Record<string, number>; total: number; yieldPct: number | null };
type Overview = { stations: { id: string; shift: Shift; verdict: { show: string; why: string } }[] };
type Audit = { actor: string; action: string; detail: { stationId: string; cause: string; startedAt: number; ended: { pass: number; fail: number; noVerdict: number } | null } };

const camera = (seed: number) => [{ station: 'ST1', source: { type: 'synthetic', id: 'cam1', trigger: 'software', width: 160, height: 120, seed, defectRate: 0.5 } }];

const shiftOf = async (h: Harness): Promise<Shift> => (await h.api<Overview>('GET', '/api/overview')).body.stations.find((s) => s.id === 'ST1')!.shift;

/** What the store holds for ST1 since `since`, counted here from the rows themselves. */
function storeCounts(h: Harness, since: number) {
  const rows = h.daemon.store.queryResults({ stationId: 'ST1', limit: 100_000 }).filter((r) => r.decidedAt >= since);
  return { ok: rows.filter((r) => r.outcome === 'PASS').length, ng: rows.filter((r) => r.outcome === 'FAIL').length, notInspected: rows.filter((r) => r.outcome === 'NO_VERDICT').length, total: rows.length };
}

async function inspect(h: Harness, n: number, tag: string): Promise<void> {
  const before = h.daemon.store.queryResults({ stationId: 'ST1', limit: 100_000 }).length;
  for (let i = 0; i < n; i++) {
    const r = await h.api('POST', '/api/stations/ST1/trigger', { partId: `${tag}-${i}` });
    if (r.status !== 200) throw new Error(`trigger: ${r.status} ${JSON.stringify(r.body)}`);
    await waitFor(() => h.daemon.store.queryResults({ stationId: 'ST1', limit: 100_000 }).length >= before + i + 1, 10_000, `result of ${tag}-${i}`);
  }
}

const shiftAudits = (h: Harness) => (h.daemon.store.auditLog(200) as unknown as Audit[]).filter((a) => a.action === 'shift.reset');

test('a reset from HTTP, MQTT and the PLC each starts a new shift, zeroes OPC UA Counters.* and is audited with who', async (t) => {
  const broker = await startMosquitto();
  t.teardown(() => broker.stop());
  const clientPki = mkdtempSync(join(tmpdir(), 'shift-plc-'));
  t.teardown(() => rmSync(clientPki, { recursive: true, force: true }));
  const h = await startHarness({
    cameras: camera(7),
    mqtt: { url: broker.url, keepaliveS: 2, reconnectPeriodMs: 200 },
    opcua: { port: await freePort(), hostname: '127.0.0.1', users: [{ username: 'op', password: 'op-pw', role: 'operator' }], triggerTimeoutMs: 5000 },
  });
  t.teardown(() => h.stop());
  // ResetCounters is an Engineer method: the OPC UA user "op" (role operator) may call it.
  const plc = await connectPlc(h, clientPki, { user: 'op', password: 'op-pw' });
  t.teardown(() => plc.close());
  const op = await mqtt.connectAsync(broker.url, { protocolVersion: 5, reconnectPeriod: 200 });
  t.teardown(() => op.endAsync(true));
  await op.subscribeAsync(`${P}/ST1/cmd/resetCounters/reply`, { qos: 1 });

  const first = await shiftOf(h);
  t.is(first.cause, 'first-start', 'a station never seen before starts its first shift');
  await inspect(h, 4, 'A');
  let shift = await shiftOf(h);
  t.like(shift, storeCounts(h, first.startedAt), 'the shift counts are the store results since the shift start');
  t.is(shift.total, 4);
  const answer = (await h.api('GET', '/api/overview')).body;
  t.true(overviewSchema.safeParse(answer).success, 'GET /api/overview answers what its schema documents');
  await plc.until('Counters.Total', (v) => v === 4);

  // Refused: no token, a body with fields, an unknown station. Nothing changes, nothing is audited.
  const noToken = await fetch(`${h.url}/api/stations/ST1/counters/reset`, { method: 'POST' });
  t.is(noToken.status, 401);
  t.regex(((await noToken.json()) as { error: string }).error, /Authorization: Bearer/);
  const bad = await h.api<{ error: string }>('POST', '/api/stations/ST1/counters/reset', { stationId: 'ST1' });
  t.is(bad.status, 400);
  t.regex(bad.body.error, /unknown field "stationId"/);
  const unknown = await h.api<{ error: string }>('POST', '/api/stations/NOPE/counters/reset', {});
  t.is(unknown.status, 404);
  t.regex(unknown.body.error, /station NOPE does not exist; known: ST1/);
  t.deepEqual(await shiftOf(h), shift, 'a refused reset changed nothing');
  t.is(shiftAudits(h).length, 0);

  // HTTP
  const reset = await h.api<{ stationId: string; shift: Shift }>('POST', '/api/stations/ST1/counters/reset', {}, { authorization: `Bearer ${TEST_TOKEN}` });
  t.is(reset.status, 200);
  t.like(reset.body.shift, { cause: 'http', ok: 0, ng: 0, notInspected: 0, total: 0, yieldPct: null });
  t.like(await shiftOf(h), { cause: 'http', total: 0 });
  await plc.until('Counters.Total', (v) => v === 0);
  let audit = shiftAudits(h)[0]!;
  t.regex(audit.actor, /^api:/);
  t.like(audit.detail, { stationId: 'ST1', cause: 'http' });
  t.is(audit.detail.ended!.pass + audit.detail.ended!.fail + audit.detail.ended!.noVerdict, 4, 'the audit keeps the counts of the shift that ended');

  // MQTT
  await inspect(h, 2, 'B');
  t.is((await shiftOf(h)).total, 2);
  const replied = new Promise<Record<string, unknown>>((resolve) => op.once('message', (_t, payload) => resolve(JSON.parse(payload.toString()))));
  await op.publishAsync(`${P}/ST1/cmd/resetCounters`, '{}', { qos: 1 });
  t.like(await replied, { error: 0 });
  shift = await waitFor(async () => { const s = await shiftOf(h); return s.cause === 'mqtt' && s; }, 5000, 'the MQTT reset');
  t.like(shift, { startedBy: 'mqtt', total: 0 });
  await plc.until('Counters.Total', (v) => v === 0);
  audit = shiftAudits(h)[0]!;
  t.like(audit, { actor: 'mqtt', detail: { cause: 'mqtt' } });
  t.is(audit.detail.ended!.pass + audit.detail.ended!.fail + audit.detail.ended!.noVerdict, 2);

  // OPC UA
  await inspect(h, 3, 'C');
  await plc.until('Counters.Total', (v) => v === 3);
  t.like(await shiftOf(h), { total: 3 });
  const call = await plc.call('ResetCounters', []);
  t.true(call.statusCode.isGood());
  t.is(call.outputs[0], 0);
  t.like(await shiftOf(h), { cause: 'plc', startedBy: 'plc', total: 0 });
  audit = shiftAudits(h)[0]!;
  t.like(audit, { actor: 'plc', detail: { cause: 'plc' } });
  t.is(shiftAudits(h).length, 3, 'one audit entry per reset');

  // /metrics: the totals never reset; the shift gauge and the reset counter follow the shifts.
  const metrics = (await (await fetch(`${h.url}/metrics`)).text()).split('\n');
  const value = (name: string, ...labels: string[]) => metrics.filter((l) => l.startsWith(`${name}{`) && labels.every((x) => l.includes(x))).reduce((a, l) => a + Number(l.split(' ').at(-1)), 0);
  t.is(value('adaptclip_outcomes_total', 'camera="cam1"'), 9, 'adaptclip_outcomes_total counts every part since start');
  t.is(value('adaptclip_shift_parts', 'station="ST1"'), 0);
  for (const cause of ['http', 'mqtt', 'plc']) t.is(value('adaptclip_shift_resets_total', 'station="ST1"', `cause="${cause}"`), 1, cause);
  t.true(metrics.some((l) => l.startsWith('adaptclip_shift_started_timestamp_seconds{station="ST1"}')));
});

test('counts survive a restart and equal the store results since the shift start', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'shift-restart-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  let h = await startHarness({ cameras: camera(9) }, { dataDir, keepData: true });
  await inspect(h, 3, 'before');
  t.is((await h.api('POST', '/api/stations/ST1/counters/reset', {})).status, 200);
  await inspect(h, 5, 'shift');
  const before = await shiftOf(h);
  t.is(before.total, 5);
  await h.stop();

  h = await startHarness({ cameras: camera(9) }, { dataDir, keepData: true });
  t.teardown(() => h.stop());
  const after = await shiftOf(h);
  t.deepEqual(after, before, 'the same shift, the same counts after the restart');
  t.like(after, storeCounts(h, after.startedAt));
  await inspect(h, 2, 'after');
  const more = await shiftOf(h);
  t.is(more.total, 7);
  t.like(more, storeCounts(h, more.startedAt));
  t.is(h.daemon.store.queryResults({ stationId: 'ST1', limit: 1000 }).length, 10, 'the parts of the earlier shift are still stored');
  // Retention removes the oldest rows first (here: the earlier shift's and this shift's first): the counts follow.
  h.daemon.store.db.prepare('DELETE FROM results WHERE rowid IN (SELECT rowid FROM results ORDER BY decided_at LIMIT 4)').run();
  const pruned = await shiftOf(h);
  t.is(pruned.total, 6);
  t.like(pruned, storeCounts(h, pruned.startedAt));
});

/** "HH:MM:SS" of `ms` on the wall clock of `timeZone`. */
const wallTime = (ms: number, timeZone?: string) => new Intl.DateTimeFormat('en-GB', { timeZone, hourCycle: 'h23', hour: '2-digit', minute: '2-digit', second: '2-digit' }).format(ms);

for (const timezone of [undefined, 'Asia/Kolkata']) {
  test(`the schedule starts a new shift at a shift time (${timezone ?? 'box local time'}) and audits it as the schedule`, async (t) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'shift-schedule-'));
    t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
    const h = await startHarness({ cameras: camera(4) }, { dataDir, keepData: true });
    await inspect(h, 2, 'early');
    t.is((await shiftOf(h)).total, 2);
    await h.stop();
    // A shift time 2 s ahead; the agent is started again with it (the schedule is part of the config).
    const at = Math.ceil((Date.now() + 2500) / 1000) * 1000;
    const h2 = await startHarness({ cameras: camera(4), shifts: { times: ['00:00', wallTime(at, timezone)], ...(timezone ? { timezone } : {}) } }, { dataDir, keepData: true });
    t.teardown(() => h2.stop());
    const shift = await waitFor(async () => { const s = await shiftOf(h2); return s.cause === 'schedule' && s.startedAt === at && s; }, 8000, 'a scheduled shift start');
    t.like(shift, { startedBy: 'schedule', total: 0 });
    const audit = shiftAudits(h2).find((a) => a.detail.cause === 'schedule')!;
    t.like(audit, { actor: 'schedule', detail: { stationId: 'ST1', startedAt: at } });
    // The next tick does not start it again.
    await new Promise((r) => setTimeout(r, 1500));
    t.is((await shiftOf(h2)).startedAt, at);
  });
}

test('shift times: the latest start in a time zone, across a DST change; bad times are refused with the rule', (t) => {
  const times = ['06:00', '14:00', '22:00'];
  // Berlin springs forward on 2026-03-29 at 01:00 UTC (02:00 CET → 03:00 CEST).
  t.is(latestShiftStart(Date.parse('2026-03-29T05:30:00Z'), times, 'Europe/Berlin'), Date.parse('2026-03-29T04:00:00Z'), '07:30 CEST: 06:00 CEST');
  t.is(latestShiftStart(Date.parse('2026-03-29T03:00:00Z'), times, 'Europe/Berlin'), Date.parse('2026-03-28T21:00:00Z'), '05:00 CEST: 22:00 CET the day before');
  t.is(latestShiftStart(Date.parse('2026-07-01T12:00:00Z'), times, 'America/New_York'), Date.parse('2026-07-01T10:00:00Z'), '08:00 EDT: 06:00 EDT');
  t.is(latestShiftStart(Date.parse('2026-01-01T00:10:00Z'), ['00:05:30'], 'UTC'), Date.parse('2026-01-01T00:05:30Z'));
  t.is(latestShiftStart(Date.now(), [], 'UTC'), null);
  const bad = configSchema.safeParse({ model: { pack: 'x' }, shifts: { times: ['6:00', '24:00'], timezone: 'Mars/Olympus' } });
  t.false(bad.success);
  const messages = bad.success ? [] : bad.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  t.true(messages.some((m) => m.startsWith('shifts.times.0: shifts.times: each like "06:00"')), messages.join('\n'));
  t.true(messages.some((m) => m.startsWith('shifts.times.1:')));
  t.true(messages.some((m) => m.includes('IANA time zone')));
});
