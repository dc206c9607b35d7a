// A stand-in for the daemon's result path, as its own process: per result ONE SQLite transaction assigns the
// next resultSeq (persisted), records the result row and queues it in the MQTT outbox; the MQTT sink drains.
// Used by the kill -9 tests and the benchmark.  Usage:
//   node --import tsx test/helpers/producer.ts --db FILE --url mqtt://127.0.0.1:PORT [--rate 10] [--count N]
//     [--station ST1] [--agent A1] [--keepalive 15] [--nok-every 3]
// Prints one JSON line per event on stdout: {"ready":true}, {"produced":seq,"resultId":…}, {"done":true}.
import { parseArgs } from 'node:util';
import { mqttConfigSchema } from '../../adapters/mqtt/config.ts';
import { createOutbox } from '../../adapters/mqtt/outbox.ts';
import { createMqttSink } from '../../adapters/mqtt/sink.ts';
import { openDatabase } from '../../agent/store/db.ts';
import { makeMaskPng, sampleVerdict } from './sample-verdict.ts';

const { values } = parseArgs({
  options: {
    db: { type: 'string' }, url: { type: 'string' }, rate: { type: 'string', default: '10' }, count: { type: 'string', default: '0' },
    station: { type: 'string', default: 'ST1' }, agent: { type: 'string', default: 'A1' }, keepalive: { type: 'string', default: '15' },
    'nok-every': { type: 'string', default: '3' },
  },
});
if (!values.db || !values.url) {
  console.error('producer: --db FILE and --url mqtt://host:port are required');
  process.exit(2);
}
const db = openDatabase(values.db); // the agent's database, as its store makes it (WAL, synchronous NORMAL, every table)
db.exec('CREATE TABLE IF NOT EXISTS sim_results (station_id TEXT NOT NULL, result_seq INTEGER NOT NULL, result_id TEXT NOT NULL, PRIMARY KEY (station_id, result_seq))');
const config = mqttConfigSchema.parse({ url: values.url, site: 'site1', line: 'line1', agentId: values.agent, keepaliveS: Number(values.keepalive), reconnectPeriodMs: 500 });
const outbox = createOutbox(db, config.outbox);
const sink = createMqttSink(config, { outbox, agentVersion: '0.1.0' });
const station = values.station!;
const nextSeq = db.prepare('SELECT coalesce(max(result_seq), 0) + 1 AS s FROM sim_results WHERE station_id = ?');
const record = db.prepare('INSERT INTO sim_results (station_id, result_seq, result_id) VALUES (?,?,?)');
const mask = await makeMaskPng(64, 48, [10, 8, 12, 6]);
const nokEvery = Number(values['nok-every']);

const produce = db.transaction(() => {
  const seq = (nextSeq.get(station) as { s: number }).s;
  const v = sampleVerdict({ stationId: station, resultSeq: seq, nok: nokEvery > 0 && seq % nokEvery === 0, maskPng: mask });
  record.run(station, seq, v.resultId);
  outbox.enqueue(v);
  return v;
});

await sink.start({ trigger: async () => -1, selectRecipe: async () => -1, resetError: async () => 0, resetCounters: async () => 0 });
sink.publishStatus({ stationId: station, state: 'Operational', stateNumber: 4, ready: true, busy: false, cameraConnected: true, recipeId: 12, recipeName: 'A-12', referenceImageCount: 2, modelVersion: 'adaptclip-vitl14@0123abcd', pendingResults: 0, errorCode: 0, errorText: '' });
console.log(JSON.stringify({ ready: true, pid: process.pid }));

const rate = Number(values.rate);
const count = Number(values.count);
let n = 0;
const tick = setInterval(() => {
  if (count > 0 && n >= count) {
    clearInterval(tick);
    console.log(JSON.stringify({ done: true }));
    return;
  }
  const v = produce();
  n += 1;
  sink.publishVerdict(v);
  console.log(JSON.stringify({ produced: v.resultSeq, resultId: v.resultId }));
}, 1000 / rate);

process.on('SIGTERM', () => {
  clearInterval(tick);
  void sink.stop().then(() => { db.close(); process.exit(0); });
});
