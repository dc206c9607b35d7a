// kill -9 the real daemon (CLI child process) mid-run, with the broker down so the outbox holds a backlog; restart:
// the store opens, no result row is lost or duplicated, ResultSeq continues, and the outbox backlog is delivered.
import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { stringify } from 'yaml';
import { DEMO_PACK, TEST_TOKEN, waitFor } from './helpers/harness.ts';
import { Store } from '../agent/store/store.ts';
import { agentProcesses } from './helpers/agent-process.ts';
import { freePort, startMosquitto } from './helpers/mosquitto.ts';


async function lastSeq(url: string): Promise<number> {
  try {
    const rows = (await (await fetch(`${url}/api/results?station=ST1&limit=1`)).json()) as { resultSeq: number }[];
    return rows[0]?.resultSeq ?? 0;
  } catch {
    return 0;
  }
}

test('kill -9 mid-run: no row lost or duplicated, ResultSeq continues, the outbox resumes after restart', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'agent-restart-'));
  const broker = await startMosquitto();
  t.teardown(async () => {
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  // Registered last, so its teardown (kill the agents) runs first.
  const startAgent = agentProcesses(t);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const config = join(dir, 'agent.yaml');
  writeFileSync(config, stringify({
    agent: { id: 'k9', site: 's', line: 'l', dataDir: join(dir, 'data'), logLevel: 'warn' },
    model: { pack: DEMO_PACK, maxBatch: 2, threads: 1 },
    cameras: [{ station: 'ST1', source: { type: 'synthetic', id: 'cam1', fps: 10, width: 160, height: 120, seed: 4 } }],
    http: { host: '127.0.0.1', port, token: TEST_TOKEN },
    store: { minFreeMb: 0 },
    mqtt: { url: broker.url, keepaliveS: 2, reconnectPeriodMs: 200 },
  }));

  // A durable subscriber: it keeps its session (and queued QoS 1 messages) across the broker's restart.
  const received = new Map<string, number>();
  const order: number[] = [];
  let replayed = 0;
  const sub = await mqtt.connectAsync(broker.url, { clientId: `k9-sub-${process.pid}`, clean: false, reconnectPeriod: 200 });
  t.teardown(() => sub.endAsync(true));
  sub.on('message', (_t, payload) => {
    const v = JSON.parse(payload.toString()) as { resultId: string; resultSeq: number; replayed: boolean };
    received.set(v.resultId, (received.get(v.resultId) ?? 0) + 1);
    order.push(v.resultSeq);
    if (v.replayed) replayed++;
  });
  await sub.subscribeAsync('adaptclip/v1/s/l/k9/ST1/verdict', { qos: 1 });

  let agent = startAgent(config);
  await waitFor(() => received.size >= 10, 30_000, '10 verdicts over MQTT');
  // Broker down: results pile up in the SQLite outbox.
  await broker.stop({ holdPort: true });
  const seqAtOutage = await lastSeq(url);
  await waitFor(async () => (await lastSeq(url)) >= seqAtOutage + 15, 15_000, '15 results during the outage');
  const seenBeforeKill = await lastSeq(url);
  process.kill(agent.pid!, 'SIGKILL');
  await new Promise((r) => agent.once('exit', r));

  const afterKill = new Store(join(dir, 'data', 'agent.db'));
  const rowsAfterKill = afterKill.queryResults({ stationId: 'ST1', limit: 1000 }).map((r) => r.resultSeq).sort((a, b) => a - b);
  afterKill.close();
  const killedAt = rowsAfterKill.at(-1)!;
  t.true(killedAt >= seenBeforeKill, `every result seen over HTTP before the kill is stored (${killedAt} ≥ ${seenBeforeKill})`);
  t.deepEqual(rowsAfterKill, Array.from({ length: killedAt }, (_, i) => i + 1), 'seq 1..N, no gap, no duplicate');

  await broker.start();
  agent = startAgent(config);
  await waitFor(async () => (await lastSeq(url)) >= killedAt + 10, 30_000, '10 results after the restart');
  // Everything stored (before and after the kill) reaches the subscriber at least once.
  const stop = new Promise((r) => agent.once('exit', r));
  process.kill(agent.pid!, 'SIGTERM');
  await stop;
  t.is(agent.exitCode, 0);
  const store = new Store(join(dir, 'data', 'agent.db'));
  const rows = store.queryResults({ stationId: 'ST1', limit: 1000 });
  store.close();
  const all = rows.map((r) => r.resultSeq).sort((a, b) => a - b);
  t.deepEqual(all, Array.from({ length: all.length }, (_, i) => i + 1), 'ResultSeq continued after the restart without a gap');
  t.true(all.length > killedAt);
  await waitFor(() => rows.every((r) => received.has(r.resultId)), 30_000, `all ${rows.length} results on MQTT (have ${received.size})`);
  t.true(replayed > 0, 'the backlog was delivered marked replayed');
  const firstSeen = [...new Set(order)];
  t.deepEqual(firstSeen, [...firstSeen].sort((a, b) => a - b), 'delivered in resultSeq order');
});
