// Store-and-forward across broker outages (PROTOCOLS.md delivery guarantees a, b): the publisher is a real child
// process writing to a real SQLite outbox; the broker is a real mosquitto stopped and restarted on its port.
import test from 'ava';
import Database from 'better-sqlite3';
import mqtt from 'mqtt';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { spawnProducer } from './helpers/producer-process.ts';
import { until } from './helpers/until.ts';
import { startMosquitto } from './helpers/mosquitto.ts';


/** A durable subscriber (persistent session) so the broker keeps its queue across the restart. */
async function durableSubscriber(url: string, filter: string, clientId: string) {
  const client = await mqtt.connectAsync(url, { protocolVersion: 5, clientId, clean: false, reconnectPeriod: 200, properties: { sessionExpiryInterval: 3600 } });
  const seen: { resultId: string; resultSeq: number; replayed: boolean }[] = [];
  client.on('message', (_topic, payload) => {
    const v = JSON.parse(payload.toString()) as { resultId: string; resultSeq: number; replayed: boolean };
    seen.push({ resultId: v.resultId, resultSeq: v.resultSeq, replayed: v.replayed });
  });
  await client.subscribeAsync(filter, { qos: 1 });
  return { client, seen };
}

function expectedResults(dbFile: string) {
  const db = new Database(dbFile, { readonly: true });
  const rows = db.prepare('SELECT result_seq AS seq, result_id AS id FROM sim_results ORDER BY result_seq').all() as { seq: number; id: string }[];
  const left = (db.prepare('SELECT count(*) AS n FROM mqtt_outbox').get() as { n: number }).n;
  db.close();
  return { rows, left };
}

function outboxDepth(dbFile: string): number {
  const db = new Database(dbFile, { readonly: true, fileMustExist: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM mqtt_outbox').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

function summarize(seqs: number[]): string {
  const runs: string[] = [];
  let start = seqs[0];
  for (let i = 1; i <= seqs.length; i++) {
    if (i === seqs.length || seqs[i] !== seqs[i - 1]! + 1) { runs.push(start === seqs[i - 1] ? `${start}` : `${start}-${seqs[i - 1]}`); start = seqs[i]; }
  }
  return runs.join(',');
}

function checkDelivery(t: import('ava').ExecutionContext, seen: { resultId: string; resultSeq: number; replayed: boolean }[], rows: { seq: number; id: string }[]) {
  const firstArrival = new Map<string, { resultSeq: number; replayed: boolean }>();
  for (const s of seen) if (!firstArrival.has(s.resultId)) firstArrival.set(s.resultId, s);
  const missing = rows.filter((r) => !firstArrival.has(r.id));
  t.deepEqual(missing, [], 'every recorded resultId arrives');
  const order = [...firstArrival.values()].map((s) => s.resultSeq);
  t.true(order.every((seq, i) => i === 0 || seq > order[i - 1]!), 'first arrivals are in strictly increasing resultSeq order');
  t.deepEqual(order, rows.map((r) => r.seq));
  return firstArrival;
}

test('30 s broker outage at 10 verdicts/s: every resultId arrives, in resultSeq order, backlog marked replayed', async (t) => {
  const broker = await startMosquitto();
  const dbFile = join(mkdtempSync(join(tmpdir(), 'outage-')), 'agent.db');
  const sub = await durableSubscriber(broker.url, 'adaptclip/v1/site1/line1/out1/+/verdict', 'sub-out1');
  const producer = spawnProducer({ db: dbFile, url: broker.url, rate: 10, agentId: 'out1' });
  try {
    await producer.ready;
    await until('20 live verdicts', () => sub.seen.length >= 20, 10_000, 50);
    await broker.stop({ holdPort: true });
    const downAt = Date.now();
    await sleep(30_000);
    const upAt = Date.now();
    await broker.start();
    await sleep(2000); // some live traffic after the restore
    await until('the outbox to drain', () => outboxDepth(dbFile) === 0, 30_000, 50);
    await producer.terminate();
    const { rows, left } = expectedResults(dbFile);
    t.is(left, 0, 'outbox empty after the drain');
    await until(() => `all ${rows.length} verdicts at the subscriber; got seqs ${summarize(sub.seen.map((s) => s.resultSeq))}`, () => new Set(sub.seen.map((s) => s.resultId)).size >= rows.length, 20_000, 50);
    const arrivals = checkDelivery(t, sub.seen, rows);
    // Produced while the broker was down (1 s margin for the disconnect to be seen): all replayed.
    const duringOutage = producer.produced.filter((p) => p.at > downAt + 1000 && p.at < upAt);
    t.true(duringOutage.length >= 250, `about 10/s during 30 s, got ${duringOutage.length}`);
    t.deepEqual(duringOutage.filter((p) => !arrivals.get(p.resultId)!.replayed).map((p) => p.seq), []);
    const beforeOutage = producer.produced.filter((p) => p.at < downAt - 1000);
    t.true(beforeOutage.every((p) => !arrivals.get(p.resultId)!.replayed), 'live verdicts are not marked replayed');
    t.log(`${rows.length} verdicts, ${duringOutage.length} during the outage, ${sub.seen.length - rows.length} duplicates`);
  } finally {
    await producer.kill9();
    await sub.client.endAsync();
    await broker.stop();
  }
});

test('publisher killed with kill -9 during the outage and restarted: the outbox backlog is still delivered', async (t) => {
  const broker = await startMosquitto();
  const dbFile = join(mkdtempSync(join(tmpdir(), 'outage9-')), 'agent.db');
  const sub = await durableSubscriber(broker.url, 'adaptclip/v1/site1/line1/out2/+/verdict', 'sub-out2');
  const first = spawnProducer({ db: dbFile, url: broker.url, rate: 10, agentId: 'out2' });
  const second = { p: undefined as ReturnType<typeof spawnProducer> | undefined };
  try {
    await first.ready;
    await until('10 live verdicts', () => sub.seen.length >= 10, 10_000, 50);
    await broker.stop({ holdPort: true });
    await sleep(5000);
    await first.kill9();
    const killedSeqs = first.produced.map((p) => p.seq);
    second.p = spawnProducer({ db: dbFile, url: broker.url, rate: 10, agentId: 'out2' });
    await second.p.ready;
    await sleep(3000);
    await broker.start();
    await sleep(2000);
    await until('the outbox to drain', () => outboxDepth(dbFile) === 0, 30_000, 50);
    await second.p.terminate();
    const { rows, left } = expectedResults(dbFile);
    t.is(left, 0);
    await until(() => `all ${rows.length} verdicts at the subscriber; got seqs ${summarize(sub.seen.map((s) => s.resultSeq))}`, () => new Set(sub.seen.map((s) => s.resultId)).size >= rows.length, 20_000, 50);
    const arrivals = checkDelivery(t, sub.seen, rows);
    // resultSeq continues across the restart (persisted by the result transaction, never reused).
    t.true(second.p.produced[0]!.seq > Math.max(...killedSeqs));
    const lastBeforeKill = first.produced.filter((p) => p.at > first.produced[0]!.at).at(-1)!;
    t.true(arrivals.get(lastBeforeKill.resultId)!.replayed, 'backlog of the killed process arrives replayed');
    t.log(`${rows.length} verdicts; first process produced ${killedSeqs.length}, restarted one ${second.p.produced.length}`);
  } finally {
    await first.kill9();
    await second.p?.kill9();
    await sub.client.endAsync();
    await broker.stop();
  }
});
