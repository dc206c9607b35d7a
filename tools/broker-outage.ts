// PROTOCOLS.md outage scenario (a), run as a script, not a test (it takes ~12 minutes):
//   node --import tsx tools/broker-outage.ts [--outage-min 10] [--fps 10] [--warmup-s 60]
// A real agent (CLI child, synthetic camera at --fps results/s) publishes to a real mosquitto; the broker is stopped for
// --outage-min minutes and restored. A durable subscriber counts every resultId. Prints JSON: results stored, lost
// (stored, never received), duplicated, resultSeq order violations, replayed count and the time to drain the backlog.
import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import mqtt from 'mqtt';
import { stringify } from 'yaml';
import { DEMO_PACK, TEST_TOKEN, waitFor } from '../test/helpers/harness.ts';
import { freePort, startMosquitto } from '../test/helpers/mosquitto.ts';

const { values: args } = parseArgs({ options: { 'outage-min': { type: 'string', default: '10' }, fps: { type: 'string', default: '10' }, 'warmup-s': { type: 'string', default: '60' } } });
const outageMs = Number(args['outage-min']) * 60_000, fps = Number(args.fps), warmupMs = Number(args['warmup-s']) * 1000;
const dir = mkdtempSync(join(tmpdir(), 'broker-outage-'));
const broker = await startMosquitto();
const port = await freePort();
const config = join(dir, 'agent.yaml');
writeFileSync(config, stringify({
  agent: { id: 'out', site: 's', line: 'l', dataDir: join(dir, 'data'), logLevel: 'warn' },
  model: { pack: DEMO_PACK, maxBatch: 4, threads: 1 },
  cameras: [{ station: 'ST1', source: { type: 'synthetic', id: 'cam1', fps, width: 160, height: 120, seed: 11 } }],
  http: { host: '127.0.0.1', port, token: TEST_TOKEN },
  store: { minFreeMb: 0 },
  mqtt: { url: broker.url, keepaliveS: 2, reconnectPeriodMs: 500 },
}));

const received = new Map<string, number>();
const firstSeen: number[] = [];
let replayed = 0;
const sub = await mqtt.connectAsync(broker.url, { clientId: `outage-sub-${process.pid}`, clean: false, reconnectPeriod: 500 });
sub.on('message', (_t, payload) => {
  const v = JSON.parse(payload.toString()) as { resultId: string; resultSeq: number; replayed: boolean };
  const n = received.get(v.resultId) ?? 0;
  received.set(v.resultId, n + 1);
  if (n === 0) firstSeen.push(v.resultSeq);
  if (v.replayed) replayed++;
});
await sub.subscribeAsync('adaptclip/v1/s/l/out/ST1/verdict', { qos: 1 });

const agent = spawn(process.execPath, ['--import', 'tsx', 'agent/cli.ts', 'run', '--config', config], { stdio: ['ignore', 'ignore', 'inherit'] });
// Read straight from the agent's SQLite file (WAL: a read-only reader beside the running agent is fine).
const results = async (): Promise<{ resultId: string; resultSeq: number }[]> => {
  const db = new Database(join(dir, 'data', 'agent.db'), { readonly: true, fileMustExist: true });
  try {
    return db.prepare("SELECT result_id AS resultId, result_seq AS resultSeq FROM results WHERE station_id = 'ST1'").all() as { resultId: string; resultSeq: number }[];
  } finally {
    db.close();
  }
};
try {
  await waitFor(() => received.size >= fps * 5, 60_000, 'verdicts over MQTT');
  await sleep(warmupMs);
  const seqBefore = (await results()).length;
  process.stderr.write(`outage: broker down for ${outageMs / 60_000} min (stored so far: ${seqBefore})\n`);
  await broker.stop({ holdPort: true });
  await sleep(outageMs);
  const storedAtRestore = (await results()).length;
  await broker.start();
  const restoredAt = Date.now();
  process.stderr.write(`outage: broker back; ${storedAtRestore - seqBefore} results stored during the outage\n`);
  await waitFor(async () => (await results()).every((r) => received.has(r.resultId)), 30 * 60_000, 'the backlog delivered');
  const drainMs = Date.now() - restoredAt;
  agent.kill('SIGTERM');
  await new Promise((r) => agent.once('exit', r));
  const stored = await results();
  const lost = stored.filter((r) => !received.has(r.resultId)).length;
  const duplicated = [...received.values()].filter((n) => n > 1).length;
  let outOfOrder = 0;
  for (let i = 1; i < firstSeen.length; i++) if (firstSeen[i]! < firstSeen[i - 1]!) outOfOrder++;
  process.stdout.write(`${JSON.stringify({
    outageMin: outageMs / 60_000, fps, stored: stored.length, storedDuringOutage: storedAtRestore - seqBefore,
    received: received.size, lost, duplicated, outOfOrder, replayed, drainSeconds: +(drainMs / 1000).toFixed(1),
  }, null, 2)}\n`);
} finally {
  if (agent.exitCode === null && agent.signalCode === null) agent.kill('SIGKILL');
  await sub.endAsync(true);
  await broker.stop();
  rmSync(dir, { recursive: true, force: true });
}
