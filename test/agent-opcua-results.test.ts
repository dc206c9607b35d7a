// OPC UA GetResultById backed by the daemon's store: over more than the adapter's 1000-result ring, and across a
// daemon restart (the ring starts empty then). Only the station's own results are found.
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataType } from 'node-opcua';
import { resultInputFromVerdict } from '../agent/northbound/verdict-record.ts';
import { startHarness, waitFor, type Harness } from './helpers/harness.ts';
import { makeMaskPng, sampleVerdict } from './helpers/sample-verdict.ts';
import type { Plc } from './helpers/plc-client.ts';
import { connectPlc } from './helpers/plc.ts';
import { freePort } from './helpers/mosquitto.ts';

const CAMERA = { station: 'ST1', source: { type: 'synthetic', id: 'cam1', trigger: 'software', width: 160, height: 120, seed: 7 } };

async function start(dataDir: string): Promise<Harness> {
  return startHarness({
    cameras: [CAMERA],
    opcua: { port: await freePort(), hostname: '127.0.0.1', users: [{ username: 'op', password: 'op-pw', role: 'operator' }] },
  }, { dataDir });
}

const getById = async (plc: Plc, resultId: string) => {
  const r = await plc.call('GetResultById', [{ dataType: DataType.String, value: resultId }]);
  if (!r.statusCode.isGood()) throw new Error(`GetResultById: ${r.statusCode.toString()}`);
  const [verdict, anomalyScore, maskUri, error] = r.outputs as [number, number, string, number];
  return { verdict, anomalyScore, maskUri, error };
};

test('GetResultById finds any stored result of its station, beyond 1000 and after a restart', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'agent-opcua-results-'));
  const clientPki = mkdtempSync(join(tmpdir(), 'agent-opcua-results-client-'));
  t.teardown(() => { rmSync(dataDir, { recursive: true, force: true }); rmSync(clientPki, { recursive: true, force: true }); });

  let h = await start(dataDir);
  let plc = await connectPlc(h, clientPki, { user: 'op', password: 'op-pw' });
  try {
    t.is((await h.api('POST', '/api/stations/ST1/trigger', { partId: 'REAL-1' })).status, 200);
    const real = await waitFor(() => h.daemon.store.queryResults({ stationId: 'ST1' }).find((r) => r.partId === 'REAL-1'), 10_000, 'the triggered result');
    t.like(await getById(plc, real.resultId), { verdict: real.verdictCode, error: 0 });

    // 1000 older-style results straight into the store (no sink saw them), one NOK with a kept mask, one of another station.
    const png = await makeMaskPng(64, 48, [10, 8, 12, 6]);
    const record = (stationId: string, i: number, nok: boolean) => {
      const { resultId: _id, resultSeq: _seq, ...v } = sampleVerdict({ stationId, resultSeq: i, nok, ...(nok ? { maskPng: png } : {}) });
      return h.daemon.store.recordResult(resultInputFromVerdict(v, { frameSeq: i, productId: null, width: 64, height: 48, keepMask: true }));
    };
    const bulk = h.daemon.store.db.transaction(() => Array.from({ length: 1000 }, (_, i) => record('ST1', i, i === 500)))();
    const foreign = record('ST2', 1, false);
    t.is((h.daemon.store.db.prepare("SELECT count(*) AS n FROM results WHERE station_id = 'ST1'").get() as { n: number }).n, 1001);
    await plc.close();
    await h.stop();

    h = await start(dataDir);
    plc = await connectPlc(h, clientPki, { user: 'op', password: 'op-pw', trust: false });
    const again = await getById(plc, real.resultId);
    t.like(again, { verdict: real.verdictCode, error: 0 });
    t.true(Math.abs(again.anomalyScore - real.score) < 1e-5, 'score as stored (Float)');
    t.like(await getById(plc, bulk[0]!.resultId), { verdict: 1, error: 0 }, 'the oldest of 1001');
    const nok = await getById(plc, bulk[500]!.resultId);
    t.like(nok, { verdict: 2, error: 0 });
    t.is(nok.maskUri, `${h.url}/results/${bulk[500]!.resultId}/mask.png`, 'the mask URI of this process');
    const mask = await fetch(nok.maskUri);
    t.is(mask.status, 200);
    t.true(Buffer.from(await mask.arrayBuffer()).equals(png));
    t.is((await getById(plc, bulk[999]!.resultId)).maskUri, '', 'no mask, no URI');
    t.like(await getById(plc, foreign.resultId), { error: -4 }, "another station's result is not this station's");
    t.like(await getById(plc, '01JUNKNOWNRESULTIDXXXXXXXX'), { verdict: 0, error: -4 });
  } finally {
    await plc.close();
    await h.stop();
  }
});
