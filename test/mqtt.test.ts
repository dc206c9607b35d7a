import test from 'ava';
import mqtt, { type IPublishPacket } from 'mqtt';
import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mqttConfigSchema } from '../adapters/mqtt/config.ts';
import { createOutbox } from '../adapters/mqtt/outbox.ts';
import { createMqttSink } from '../adapters/mqtt/sink.ts';
import { openDatabase } from '../agent/store/db.ts';
import { spawnProducer } from './helpers/producer-process.ts';
import { makeMaskPng, sampleVerdict } from './helpers/sample-verdict.ts';
import type { SinkCommands, StationStatus } from '../adapters/types.ts';
import { startMosquitto } from './helpers/mosquitto.ts';

const NO_COMMANDS: SinkCommands = { trigger: async () => -1, selectRecipe: async () => -1, resetError: async () => 0, resetCounters: async () => 0 };
const tmp = () => mkdtempSync(join(tmpdir(), 'mqtt-test-'));

const STATUS: StationStatus = {
  stationId: 'ST1', state: 'Operational', stateNumber: 4, ready: true, busy: false, cameraConnected: true, recipeId: 12, recipeName: 'A-12',
  referenceImageCount: 2, modelVersion: 'adaptclip-vitl14@0123abcd', pendingResults: 0, errorCode: 0, errorText: '',
};

type Msg = { topic: string; payload: Buffer; packet: IPublishPacket };
async function subscribe(url: string, filter: string, durableId?: string) {
  // A durable subscriber (persistent session, reconnecting) keeps its queue across a broker restart.
  const client = await mqtt.connectAsync(url, durableId
    ? { protocolVersion: 5, clientId: durableId, clean: false, reconnectPeriod: 200, properties: { sessionExpiryInterval: 600 } }
    : { protocolVersion: 5, reconnectPeriod: 0 });
  const got: Msg[] = [];
  client.on('message', (topic, payload, packet) => got.push({ topic, payload, packet }));
  await client.subscribeAsync(filter, { qos: 1 });
  const waitFor = async (pred: (m: Msg) => boolean, timeoutMs = 5000) => {
    const t0 = Date.now();
    for (;;) {
      const m = got.find(pred);
      if (m) return m;
      if (Date.now() - t0 > timeoutMs) throw new Error(`no message matching within ${timeoutMs} ms; got ${got.map((g) => g.topic).join(', ')}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  return { client, got, waitFor };
}
const json = (m: Msg) => JSON.parse(m.payload.toString()) as Record<string, any>;

test('verdict, mask, alarm and retained status/online arrive with the documented topics and payloads', async (t) => {
  const broker = await startMosquitto();
  const db = openDatabase(join(tmp(), 'agent.db'));
  const config = mqttConfigSchema.parse({ url: broker.url, site: 'plant1', line: 'L2', agentId: 'edge-7' });
  const connection: boolean[] = [];
  const sink = createMqttSink(config, { outbox: createOutbox(db, config.outbox), agentVersion: '0.1.0', onConnectionChange: (up) => connection.push(up) });
  const P = 'adaptclip/v1/plant1/L2/edge-7';
  t.is(sink.prefix, P);
  const live = await subscribe(broker.url, `${P}/#`);
  try {
    await sink.start(NO_COMMANDS);
    const t0 = Date.now();
    while (!sink.connected() && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 10));
    sink.publishStatus(STATUS);
    const png = await makeMaskPng(64, 48, [10, 8, 12, 6]);
    const nok = sampleVerdict({ stationId: 'ST1', resultSeq: 1, nok: true, maskPng: png, partId: 'PART-42', triggerSeq: 55 });
    const ok = sampleVerdict({ stationId: 'ST1', resultSeq: 2, nok: false });
    sink.publishVerdict(nok);
    sink.publishVerdict(ok);
    sink.publishAlarm({ stationId: 'ST1', alarm: 'CameraDisconnected', active: true, severity: 700, text: 'cam1: no frame for 5 s' });

    const online = json(await live.waitFor((m) => m.topic === `${P}/online`));
    t.like(online, { schema: 'adaptclip.online/1', online: true, agentVersion: '0.1.0' });
    const v1 = json(await live.waitFor((m) => m.topic === `${P}/ST1/verdict` && json(m).resultSeq === 1));
    t.like(v1, { schema: 'adaptclip.verdict/1', resultId: nok.resultId, stationId: 'ST1', cameraId: 'cam1', partId: 'PART-42', triggerSeq: 55, recipeId: 12,
      verdict: 'NOK', verdictCode: 2, anomalyScore: 0.83, threshold: 0.5, replayed: false, defects: { count: 1, areaPx: 72 } });
    t.deepEqual(v1.defects.bbox, [10, 8, 12, 6]);
    t.is(v1.mask.topic, `${P}/ST1/mask/${nok.resultId}`);
    t.like(v1.mask, { width: 64, height: 48, sha256: createHash('sha256').update(png).digest('hex') });
    t.truthy(Date.parse(v1.timing.acquiredAt) && Date.parse(v1.timing.decidedAt));
    const mask = await live.waitFor((m) => m.topic === v1.mask.topic);
    t.true(mask.payload.equals(png));
    t.is(mask.packet.properties?.contentType, 'image/png');
    t.deepEqual(mask.packet.properties?.userProperties, { resultId: nok.resultId, sha256: v1.mask.sha256 });
    t.true((mask.packet.properties?.messageExpiryInterval ?? 0) > 86_000);
    const v2 = json(await live.waitFor((m) => m.topic === `${P}/ST1/verdict` && json(m).resultSeq === 2));
    t.like(v2, { verdict: 'OK', verdictCode: 1, mask: null, replayed: false });
    const alarm = json(await live.waitFor((m) => m.topic === `${P}/ST1/alarm`));
    t.like(alarm, { schema: 'adaptclip.alarm/1', alarm: 'CameraDisconnected', active: true, severity: 700 });

    // A late subscriber gets the retained state only.
    const late = await subscribe(broker.url, `${P}/#`);
    const status = await late.waitFor((m) => m.topic === `${P}/ST1/status`);
    t.true(status.packet.retain);
    t.like(json(status), { schema: 'adaptclip.status/1', state: 'Operational', stateNumber: 4, ready: true, recipeId: 12, recipeName: 'A-12', pendingResults: 0, errorCode: 0 });
    t.true((await late.waitFor((m) => m.topic === `${P}/online`)).packet.retain);
    await new Promise((r) => setTimeout(r, 200));
    t.false(late.got.some((m) => m.topic.endsWith('/verdict')), 'verdicts are not retained');
    await late.client.endAsync();

    await sink.drained(5000);
    t.is((db.prepare('SELECT count(*) AS n FROM mqtt_outbox').get() as { n: number }).n, 0, 'PUBACKed messages leave the outbox');
    t.true(sink.health().ok);
    // The broker going away is reported (the daemon drives the OPC UA BrokerOffline alarm from this).
    await broker.stop({ holdPort: true });
    const t1 = Date.now();
    while (connection.at(-1) !== false && Date.now() - t1 < 5000) await new Promise((r) => setTimeout(r, 10));
    t.deepEqual(connection, [true, false]);
    t.false(sink.health().ok);
    t.regex(sink.health().detail, /broker offline/);
    const restartedAt = Date.now();
    await broker.start();
    while (!sink.connected() && Date.now() - t1 < 10_000) await new Promise((r) => setTimeout(r, 10));
    t.is(connection.at(-1), true);
    await live.client.endAsync();
    const again = await subscribe(broker.url, `${P}/#`);
    // Republished after the CONNACK (newer than the restart), not just kept by the broker.
    await again.waitFor((m) => m.topic === `${P}/online` && json(m).online === true && Date.parse(json(m).ts) >= restartedAt);
    const republished = await again.waitFor((m) => m.topic === `${P}/ST1/status` && Date.parse(json(m).ts) >= restartedAt);
    t.like(json(republished), { state: 'Operational' });
    live.client = again.client;
    live.got.length = 0;
    again.client.on('message', (topic, payload, packet) => live.got.push({ topic, payload, packet }));
    // A clean stop says so on the retained online topic.
    await sink.stop();
    await live.waitFor((m) => m.topic === `${P}/online` && json(m).online === false);
    const after = await subscribe(broker.url, `${P}/online`);
    t.false(json(await after.waitFor(() => true)).online, 'retained online:false after a clean stop');
    await after.client.endAsync();
  } finally {
    await sink.stop();
    await live.client.endAsync();
    db.close();
    await broker.stop();
  }
});

test('after kill -9 of the publishing process the retained online becomes false via the Last Will', async (t) => {
  const broker = await startMosquitto();
  const producer = spawnProducer({ db: join(tmp(), 'agent.db'), url: broker.url, rate: 5, keepaliveS: 2, agentId: 'lwt' });
  const P = 'adaptclip/v1/site1/line1/lwt';
  try {
    await producer.ready;
    const sub = await subscribe(broker.url, `${P}/online`);
    await sub.waitFor((m) => json(m).online === true);
    const killedAt = Date.now();
    await producer.kill9();
    const will = await sub.waitFor((m) => json(m).online === false, 1.5 * 2000 + 2000);
    t.log(`online:false ${Date.now() - killedAt} ms after kill -9 (keepalive 2 s)`);
    await sub.client.endAsync();
    // Retained: a subscriber arriving later still sees the agent offline.
    const late = await subscribe(broker.url, `${P}/online`);
    const retained = await late.waitFor(() => true);
    t.true(retained.packet.retain);
    t.false(json(retained).online);
    t.is(json(will).schema, 'adaptclip.online/1');
    await late.client.endAsync();
  } finally {
    await producer.kill9();
    await broker.stop();
  }
});

test('a full outbox drops masks before verdicts, counts the drops and raises its flag; old rows age out', async (t) => {
  const db = openDatabase(join(tmp(), 'agent.db'));
  const drops: string[] = [];
  const outbox = createOutbox(db, { maxMessages: 10, maxBytes: 10_000_000, maxAgeS: 3600 }, (kind, n) => drops.push(`${kind}:${n}`));
  const png = await makeMaskPng(64, 48, [1, 1, 5, 5]);
  for (let seq = 1; seq <= 8; seq++) outbox.enqueue(sampleVerdict({ stationId: 'ST1', resultSeq: seq, nok: true, maskPng: png }));
  const s = outbox.stats();
  t.is(s.depth, 10);
  t.true(s.full);
  t.is(s.dropped.verdict, 0, 'no verdict dropped while a mask could go');
  t.is(s.dropped.mask, 6);
  const kinds = outbox.peek(100).map((r) => `${r.kind}${r.resultSeq}`);
  t.deepEqual(kinds.filter((k) => k.startsWith('verdict')), [1, 2, 3, 4, 5, 6, 7, 8].map((n) => `verdict${n}`));
  t.true(drops.every((d) => d.startsWith('mask')));
  // Rows past maxAge are dropped on prune.
  outbox.prune(Date.now() + 3601 * 1000);
  t.is(outbox.stats().depth, 0);
  t.false(outbox.stats().full);
  // Reopening the same database keeps what is queued (idempotent migration).
  outbox.enqueue(sampleVerdict({ stationId: 'ST1', resultSeq: 9, nok: false }));
  const again = createOutbox(db, { maxMessages: 10, maxBytes: 10_000_000, maxAgeS: 3600 });
  t.is(again.stats().depth, 1);
  db.close();
});

test('bad MQTT config is refused with a message naming the key', (t) => {
  const bad = mqttConfigSchema.safeParse({ url: 'http://x', site: 'plant 1', line: 'L', agentId: 'a' });
  t.false(bad.success);
  const text = bad.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
  t.regex(text, /url: url must look like mqtt:\/\//);
  t.regex(text, /site: site must match/);
  t.false(mqttConfigSchema.safeParse({ url: 'mqtt://h', site: 's', line: 'l', agentId: 'a', bogus: 1 }).success, 'unknown keys are errors');
});

test('a missing TLS file fails start() with one clear line', async (t) => {
  const db = openDatabase(':memory:');
  const config = mqttConfigSchema.parse({ url: 'mqtts://127.0.0.1:1', site: 's', line: 'l', agentId: 'a', tls: { caFile: '/nonexistent/ca.pem' } });
  const sink = createMqttSink(config, { outbox: createOutbox(db, config.outbox), agentVersion: 'x' });
  const err = await t.throwsAsync(sink.start(NO_COMMANDS));
  t.regex(err!.message, /mqtt\.tls: cannot read a certificate file .*\/nonexistent\/ca\.pem.*fix the path/);
  await sink.stop();
});

test('a full outbox during an outage is announced with an OutboxFull alarm and keeps the newest verdicts', async (t) => {
  const broker = await startMosquitto();
  const db = openDatabase(join(tmp(), 'agent.db'));
  const config = mqttConfigSchema.parse({ url: broker.url, site: 's', line: 'l', agentId: 'full', reconnectPeriodMs: 200, outbox: { maxMessages: 4 } });
  const outbox = createOutbox(db, config.outbox);
  const sink = createMqttSink(config, { outbox, agentVersion: 'x' });
  const live = await subscribe(broker.url, `${sink.prefix}/#`, 'full-sub');
  try {
    await sink.start(NO_COMMANDS);
    sink.publishStatus(STATUS);
    while (!sink.connected()) await new Promise((r) => setTimeout(r, 10));
    await broker.stop({ holdPort: true });
    const png = await makeMaskPng(64, 48, [1, 1, 4, 4]);
    const verdicts = Array.from({ length: 6 }, (_, i) => sampleVerdict({ stationId: 'ST1', resultSeq: i + 1, nok: true, maskPng: png }));
    for (const v of verdicts) sink.publishVerdict(v);
    t.true(outbox.stats().full);
    t.is(outbox.stats().dropped.verdict, 2, '12 rows into 4: all 6 masks and the 2 oldest verdicts go');
    await new Promise((r) => setTimeout(r, 1200)); // the publisher notices on its 1 s tick
    live.got.length = 0;
    await broker.start();
    const after = live;
    await after.waitFor((m) => m.topic.endsWith('/ST1/alarm') && json(m).alarm === 'OutboxFull' && json(m).active === false, 10_000);
    const states = after.got.filter((m) => m.topic.endsWith('/ST1/alarm') && json(m).alarm === 'OutboxFull').map((m) => json(m).active);
    t.deepEqual(states, [true, false], 'raised while full, cleared once drained');
    const seqs: number[] = [];
    const t0 = Date.now();
    while (seqs.length < 4 && Date.now() - t0 < 10_000) {
      seqs.splice(0, seqs.length, ...after.got.filter((m) => m.topic.endsWith('/verdict')).map((m) => json(m).resultSeq as number));
      await new Promise((r) => setTimeout(r, 20));
    }
    t.deepEqual(seqs, [3, 4, 5, 6]);
    t.true(after.got.filter((m) => m.topic.endsWith('/verdict')).every((m) => json(m).replayed === true));
    await after.client.endAsync();
  } finally {
    await sink.stop();
    db.close();
    await broker.stop();
  }
});

test('a graceful stop delivers what is still queued before it disconnects; the outbox ends empty', async (t) => {
  const broker = await startMosquitto();
  const db = openDatabase(join(tmp(), 'agent.db'));
  const config = mqttConfigSchema.parse({ url: broker.url, site: 's', line: 'l', agentId: 'flush1' });
  const outbox = createOutbox(db, config.outbox);
  const sink = createMqttSink(config, { outbox, agentVersion: '0.1.0' });
  const sub = await subscribe(broker.url, `${sink.prefix}/+/verdict`);
  try {
    await sink.start(NO_COMMANDS);
    const t0 = Date.now();
    while (!sink.connected() && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 10));
    const sent = Array.from({ length: 200 }, (_, i) => sampleVerdict({ stationId: 'ST1', resultSeq: i + 1, nok: false }));
    for (const v of sent) sink.publishVerdict(v);
    await sink.stop(); // at once: most of the 200 are still queued or in flight here
    t.is(outbox.stats().depth, 0);
    await sub.waitFor(() => new Set(sub.got.map((m) => json(m).resultId)).size === sent.length);
    t.deepEqual([...new Set(sub.got.map((m) => json(m).resultSeq as number))], sent.map((v) => v.resultSeq));
  } finally {
    await sub.client.endAsync();
    db.close();
    await broker.stop();
  }
});
