// kill -9 while frames wait in the queue and in inference: every frame was on record before it was queued, so after
// the restart each of them has exactly one outcome, NO_VERDICT{interrupted}, stored and published like any other.
import test from 'ava';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { stringify } from 'yaml';
import { DEMO_PACK, TEST_TOKEN, waitFor } from './helpers/harness.ts';
import { agentProcesses } from './helpers/agent-process.ts';
import { freePort, startMosquitto } from './helpers/mosquitto.ts';

type Counters = Record<string, { captured: number; pending: number; outcomes: Record<string, number> }>;


function count(db: string, sql: string): number {
  const conn = new Database(db, { readonly: true, fileMustExist: true });
  try {
    return (conn.prepare(sql).get() as { n: number }).n;
  } finally {
    conn.close();
  }
}

test('kill -9 with frames queued and in inference: after restart each gets NO_VERDICT{interrupted}; captured = outcomes', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'agent-interrupted-'));
  const broker = await startMosquitto();
  t.teardown(async () => {
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  // Registered last, so its teardown (kill the agents) runs first.
  const startAgent = agentProcesses(t);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const db = join(dir, 'data', 'agent.db');
  const config = join(dir, 'agent.yaml');
  const base = {
    agent: { id: 'ki', site: 's', line: 'l', dataDir: join(dir, 'data'), logLevel: 'warn' },
    model: { pack: DEMO_PACK, maxBatch: 2, threads: 1, inferTimeoutMs: 120_000 },
    cameras: [{ station: 'ST1', queue: { size: 6 }, source: { type: 'synthetic', id: 'cam1', fps: 20, width: 160, height: 120, seed: 5 } }],
    http: { host: '127.0.0.1', port, token: TEST_TOKEN },
    store: { minFreeMb: 0 },
    mqtt: { url: broker.url, keepaliveS: 2, reconnectPeriodMs: 200 },
  };
  // A few verdicts, then inference hangs (far below the timeout): the queue fills and stays full.
  writeFileSync(config, stringify({ ...base, faults: { hangAfterCalls: 6, hangCalls: 10_000, hangMs: 600_000 } }));

  const interruptedOnMqtt = new Set<string>();
  const sub = await mqtt.connectAsync(broker.url, { clientId: `ki-sub-${process.pid}`, reconnectPeriod: 200 });
  t.teardown(() => sub.endAsync(true));
  sub.on('message', (_t, payload) => {
    const v = JSON.parse(payload.toString()) as { resultId: string; reason: string | null };
    if (v.reason === 'interrupted') interruptedOnMqtt.add(v.resultId);
  });
  await sub.subscribeAsync('adaptclip/v1/s/l/ki/ST1/verdict', { qos: 1 });

  let agent = startAgent(config);
  const inFlightNow = () => { try { return count(db, 'SELECT COUNT(*) AS n FROM frames_in_flight'); } catch { return 0; } };
  await waitFor(() => inFlightNow() >= 4, 60_000, 'frames waiting in the queue');
  // Inference is hanging once no verdict has been added for a while (drops of the full queue still are).
  const verdicts = () => count(db, "SELECT COUNT(*) AS n FROM results WHERE outcome != 'NO_VERDICT'");
  let seen = verdicts(), quietSince = Date.now();
  await waitFor(() => {
    const now = verdicts();
    if (now !== seen) [seen, quietSince] = [now, Date.now()];
    return Date.now() - quietSince > 1500 && inFlightNow() >= 4;
  }, 60_000, 'inference hanging with a full queue');
  const before = (await (await fetch(`${url}/api/counters`)).json()) as Counters;
  process.kill(agent.pid!, 'SIGKILL');
  await new Promise((r) => agent.once('exit', r));

  const stored = count(db, "SELECT COUNT(*) AS n FROM results WHERE station_id = 'ST1'");
  const inFlight = count(db, 'SELECT COUNT(*) AS n FROM frames_in_flight');
  const lastAdmitted = count(db, 'SELECT MAX(id) AS n FROM frames_in_flight');
  t.true(inFlight >= 4, `${inFlight} frames were queued or in inference at the kill`);
  t.true(stored + inFlight >= before.ST1!.captured, `on record ${stored} results + ${inFlight} in flight ≥ ${before.ST1!.captured} captured before the kill`);

  writeFileSync(config, stringify(base));
  agent = startAgent(config);
  const interruptedRows = async () => (await (await fetch(`${url}/api/results?station=ST1&reason=interrupted&limit=1000`)).json()) as { resultId: string; resultSeq: number }[];
  await waitFor(async () => { try { return (await interruptedRows()).length === inFlight; } catch { return false; } }, 60_000, `${inFlight} NO_VERDICT{interrupted} results`);
  t.is(count(db, `SELECT COUNT(*) AS n FROM frames_in_flight WHERE id <= ${lastAdmitted}`), 0, 'the interrupted frames are off the in-flight record');
  const rows = await interruptedRows();
  await waitFor(() => rows.every((r) => interruptedOnMqtt.has(r.resultId)), 30_000, 'the interrupted results published on MQTT');

  const after = ((await (await fetch(`${url}/api/counters`)).json()) as Counters).ST1!;
  const settled = Object.values(after.outcomes).reduce((a, b) => a + b, 0);
  t.is(after.captured, settled + after.pending, 'captured = outcomes + pending in the restarted agent');
  t.is(after.outcomes['NO_VERDICT:interrupted'], inFlight);
  const stop = new Promise((r) => agent.once('exit', r));
  process.kill(agent.pid!, 'SIGTERM');
  await stop;
  t.is(agent.exitCode, 0);
  // After a clean stop nothing is left in flight, and every result has its own ResultSeq.
  t.is(count(db, 'SELECT COUNT(*) AS n FROM frames_in_flight'), 0);
  const seqs = count(db, "SELECT COUNT(DISTINCT result_seq) AS n FROM results WHERE station_id = 'ST1'");
  t.is(seqs, count(db, "SELECT COUNT(*) AS n FROM results WHERE station_id = 'ST1'"));
  t.is(count(db, "SELECT COUNT(*) AS n FROM results WHERE reason = 'interrupted'"), inFlight);
});
