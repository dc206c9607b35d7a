// Benchmark (not a test): MQTT verdicts/s sustained to a real mosquitto through the SQLite outbox, and OPC UA
// update latency (publishVerdict → the client's data-change notification of Result.ResultSeq; TriggerSeq write →
// ResultSeq notification). Prints one JSON object.   node --import tsx tools/bench/adapters.ts [--verdicts 3000]
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import mqtt from 'mqtt';
import { AttributeIds, ClientMonitoredItem, ClientSubscription, DataType, type DataValue, TimestampsToReturn } from 'node-opcua';
import { startMosquitto } from '../../test/helpers/mosquitto.ts';
import { mqttConfigSchema } from '../../adapters/mqtt/config.ts';
import { createOutbox } from '../../adapters/mqtt/outbox.ts';
import { createMqttSink } from '../../adapters/mqtt/sink.ts';
import { opcuaConfigSchema } from '../../adapters/opcua/config.ts';
import { createOpcUaSink } from '../../adapters/opcua/sink.ts';
import { createSqliteStationStore } from '../../adapters/opcua/state-store.ts';
import { openDatabase } from '../../agent/store/db.ts';
import { makeClient, Plc, trustRejected } from '../../test/helpers/plc-client.ts';
import { makeMaskPng, sampleVerdict } from '../../test/helpers/sample-verdict.ts';
import { TestStation } from '../../test/helpers/test-station.ts';
import { setTimeout as sleep } from 'node:timers/promises';

const { values } = parseArgs({ options: { verdicts: { type: 'string', default: '3000' }, samples: { type: 'string', default: '200' } } });
const N = Number(values.verdicts);
const SAMPLES = Number(values.samples);
const NO_COMMANDS = { trigger: async () => -1, selectRecipe: async () => -1, resetError: async () => 0, resetCounters: async () => 0 };
const pct = (xs: number[], p: number) => { const s = [...xs].sort((a, b) => a - b); return Number(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!.toFixed(2)); };

async function benchMqtt() {
  const broker = await startMosquitto();
  const dir = mkdtempSync(join(tmpdir(), 'bench-mqtt-'));
  const db = openDatabase(join(dir, 'agent.db'));
  const config = mqttConfigSchema.parse({ url: broker.url, site: 's', line: 'l', agentId: 'bench', maxInFlight: 64 });
  const outbox = createOutbox(db, config.outbox);
  const sink = createMqttSink(config, { outbox, agentVersion: 'bench' });
  const sub = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
  let got = 0;
  let lastAt = 0;
  sub.on('message', (topic) => { if (topic.endsWith('/verdict')) { got += 1; lastAt = performance.now(); } });
  await sub.subscribeAsync(`${sink.prefix}/+/verdict`, { qos: 1 });
  await sink.start(NO_COMMANDS);
  while (!sink.connected()) await sleep(10);
  const mask = await makeMaskPng(64, 48, [10, 8, 12, 6]);
  const verdicts = Array.from({ length: N }, (_, i) => sampleVerdict({ stationId: 'ST1', resultSeq: i + 1, nok: i % 3 === 0, maskPng: mask }));
  // Burst: the daemon's transaction (record + enqueue) for every verdict, as fast as the event loop allows.
  const record = db.transaction((v: (typeof verdicts)[number]) => outbox.enqueue(v));
  const t0 = performance.now();
  let enqueueMs = 0;
  for (let i = 0; i < N; i++) {
    const e0 = performance.now();
    record(verdicts[i]!);
    enqueueMs += performance.now() - e0;
    sink.publishVerdict(verdicts[i]!);
    if (i % 50 === 49) await new Promise((r) => setImmediate(r)); // let the drain and the socket run
  }
  while (got < N && performance.now() - t0 < 120_000) await sleep(5);
  const seconds = (lastAt - t0) / 1000;
  const result = { verdicts: N, masks: Math.ceil(N / 3), delivered: got, seconds: Number(seconds.toFixed(2)), verdictsPerSecond: Math.round(got / seconds), enqueueUsPerVerdict: Number(((enqueueMs / N) * 1000).toFixed(1)) };
  await sink.stop();
  await sub.endAsync();
  db.close();
  await broker.stop();
  return result;
}

async function benchOpcUa() {
  const dir = mkdtempSync(join(tmpdir(), 'bench-opcua-'));
  const db = openDatabase(join(dir, 'agent.db'));
  const config = opcuaConfigSchema.parse({ port: 0, hostname: '127.0.0.1', dataDir: dir, stations: ['ST1'], ackMode: 'None', users: [{ username: 'plc', password: 'pw', role: 'plc' }] });
  const sink = createOpcUaSink(config, { store: createSqliteStationStore(db), agentVersion: 'bench' });
  const station = new TestStation('ST1', db, [sink]);
  station.processingMs = 0;
  await sink.start(station);
  station.publishStatus();
  const probe = makeClient({ pkiDir: join(dir, 'client-pki') });
  await probe.connect(sink.endpointUrl()).catch(() => {});
  await probe.disconnect();
  await trustRejected(sink.pkiDir);
  const plc = await Plc.connect(sink.endpointUrl(), { pkiDir: join(dir, 'client-pki'), user: 'plc', password: 'pw', station: 'ST1' });
  const sub = ClientSubscription.create(plc.session, { requestedPublishingInterval: 10, publishingEnabled: true, requestedMaxKeepAliveCount: 100, requestedLifetimeCount: 1000 });
  let notify: ((seq: number) => void) | null = null;
  const item = ClientMonitoredItem.create(sub, { nodeId: plc.id('Result.ResultSeq'), attributeId: AttributeIds.Value }, { samplingInterval: 0, queueSize: 10 }, TimestampsToReturn.Both);
  item.on('changed', (dv: DataValue) => notify?.(dv.value.value as number));
  await sleep(300);
  const waitSeq = () => new Promise<number>((resolve) => { notify = (s) => { notify = null; resolve(s); }; });
  const publishLatency: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const p = waitSeq();
    const t0 = performance.now();
    await station.produce(`B-${i}`, 0, false);
    await p;
    publishLatency.push(performance.now() - t0);
  }
  const triggerRoundTrip: number[] = [];
  let seq = (await plc.read('Control.TriggerSeq')) as number;
  for (let i = 0; i < Math.min(SAMPLES, 100); i++) {
    const p = waitSeq();
    const t0 = performance.now();
    await plc.write('Control.TriggerSeq', DataType.UInt32, ++seq);
    await p;
    triggerRoundTrip.push(performance.now() - t0);
  }
  const result = {
    revisedPublishingIntervalMs: sub.publishingInterval,
    publishVerdictToNotificationMs: { samples: publishLatency.length, p50: pct(publishLatency, 50), p95: pct(publishLatency, 95), max: pct(publishLatency, 100) },
    triggerWriteToResultNotificationMs: { samples: triggerRoundTrip.length, p50: pct(triggerRoundTrip, 50), p95: pct(triggerRoundTrip, 95), max: pct(triggerRoundTrip, 100) },
  };
  await sub.terminate();
  await plc.close();
  await sink.stop();
  db.close();
  return result;
}

const mqttResult = await benchMqtt();
const opcuaResult = await benchOpcUa();
console.log(JSON.stringify({ node: process.version, cpus: (await import('node:os')).cpus().length, mqtt: mqttResult, opcua: opcuaResult }, null, 2));
process.exit(0);
