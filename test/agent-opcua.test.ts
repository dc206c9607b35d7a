// The PLC side of the daemon through the real OPC UA server: recipe selection by integer id (handshake rule 5) and a
// triggered inspection whose result shows up in Result.* with the same ResultId as the store.
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataType } from 'node-opcua';
import sharp from 'sharp';
import { startHarness, waitFor } from './helpers/harness.ts';
import type { AgentConfig } from '../agent/config/schema.ts';
import { realParts } from '../agent/parts.ts';
import type { Detector, DetectorFactory } from '../agent/pipeline/ports.ts';
import { connectPlc } from './helpers/plc.ts';
import { freePort } from './helpers/mosquitto.ts';

test('PLC selects a product by recipe id over OPC UA, triggers a part, reads the verdict the store holds', async (t) => {
  const clientPki = mkdtempSync(join(tmpdir(), 'agent-opcua-client-'));
  t.teardown(() => rmSync(clientPki, { recursive: true, force: true }));
  const h = await startHarness({
    cameras: [{ station: 'ST1', source: { type: 'synthetic', id: 'cam1', trigger: 'software', width: 160, height: 120, seed: 2 } }],
    opcua: { port: await freePort(), hostname: '127.0.0.1', users: [{ username: 'plc', password: 'plc-pw', role: 'plc' }], triggerTimeoutMs: 5000 },
  });
  t.teardown(() => h.stop());
  const plc = await connectPlc(h, clientPki, { user: 'plc', password: 'plc-pw' });
  t.teardown(() => plc.close());

  // A product with recipe id 12 and two uploaded shots.
  const p = (await h.api<{ id: number }>('POST', '/api/products', { name: 'A-12', recipeId: 12 })).body;
  for (const v of [100, 110]) {
    const png = await sharp(Buffer.alloc(160 * 120 * 3, v), { raw: { width: 160, height: 120, channels: 3 } }).png().toBuffer();
    t.is((await h.api('POST', `/api/products/${p.id}/shots`, png)).status, 201);
  }

  // Unknown recipe: Status -1, nothing activated.
  await plc.write('Recipe.RequestedRecipeId', DataType.Int32, 999);
  await plc.write('Recipe.ChangeSeq', DataType.UInt32, 1);
  await plc.until('Recipe.ChangeAckSeq', (v) => v === 1, 10_000);
  t.is(await plc.read('Recipe.Status'), -1);
  t.is(h.daemon.changeover.current('ST1').productId, null);
  // Rule 5: RequestedRecipeId, then ChangeSeq; the agent acknowledges with ChangeAckSeq and Status 0.
  await plc.write('Recipe.RequestedRecipeId', DataType.Int32, 12);
  await plc.write('Recipe.ChangeSeq', DataType.UInt32, 2);
  await plc.until('Recipe.ChangeAckSeq', (v) => v === 2, 10_000);
  t.is(await plc.read('Recipe.Status'), 0);
  t.is(await plc.read('Recipe.ActiveRecipeId'), 12);
  t.is(h.daemon.changeover.current('ST1').productId, p.id);
  t.is(h.daemon.store.getStation('ST1')!.activeProductId, p.id, 'the PLC changeover is persisted');

  // Trigger one part: PartId first, then TriggerSeq.
  await plc.until('Status.Ready', (v) => v === true, 10_000);
  await plc.write('Control.PartId', DataType.String, 'PART-42');
  await plc.write('Control.TriggerSeq', DataType.UInt32, 7);
  await plc.until('Result.ResultSeq', (v) => (v as number) > 0, 10_000);
  const r = await plc.readMany(['Result.ResultId', 'Result.PartId', 'Result.TriggerSeq', 'Result.RecipeId', 'Result.Verdict']);
  const row = await waitFor(() => h.daemon.store.getResult(String(r['Result.ResultId'])), 2000, 'the stored row');
  t.is(row.partId, 'PART-42');
  t.is(row.triggerSeq, 7);
  t.is(row.recipeId, 12);
  t.is(row.mode, 'few-shot');
  t.is(r['Result.PartId'], 'PART-42');
  t.is(r['Result.TriggerSeq'], 7);
  t.is(r['Result.RecipeId'], 12);
  t.is(r['Result.Verdict'], row.verdictCode);
});

/** The real pack detector, whose inference waits while `held` is set (so two triggers overlap for certain). */
function gatedDetector() {
  const gate: { held: Promise<void> | null; release: () => void } = { held: null, release: () => {} };
  const hold = () => { gate.held = new Promise((r) => { gate.release = () => { gate.held = null; r(); }; }); };
  const detectorFactory = (cfg: AgentConfig): DetectorFactory => {
    const real = realParts().detectorFactory(cfg);
    return async () => {
      const d = await real();
      const gated: Detector = {
        packId: d.packId, packSha: d.packSha, defaultThreshold: d.defaultThreshold, provider: d.provider,
        encodeShot: (img) => d.encodeShot(img),
        memoryFrom: (f) => d.memoryFrom(f),
        infer: async (imgs, mem) => { await gate.held; return d.infer(imgs, mem); },
        dispose: () => d.dispose(),
      };
      return gated;
    };
  };
  return { detectorFactory, hold, release: () => gate.release() };
}

test('an HTTP trigger never answers the PLC: its result has TriggerSeq 0, the PLC gets its own part for TriggerSeq N', async (t) => {
  const clientPki = mkdtempSync(join(tmpdir(), 'agent-opcua-client-'));
  t.teardown(() => rmSync(clientPki, { recursive: true, force: true }));
  const gate = gatedDetector();
  const h = await startHarness({
    model: { inferTimeoutMs: 20_000 },
    cameras: [{ station: 'ST1', source: { type: 'synthetic', id: 'cam1', trigger: 'software', width: 160, height: 120, seed: 4 } }],
    opcua: { port: await freePort(), hostname: '127.0.0.1', users: [{ username: 'plc', password: 'plc-pw', role: 'plc' }], triggerTimeoutMs: 3000 },
  }, { parts: { detectorFactory: gate.detectorFactory } });
  t.teardown(() => { gate.release(); return h.stop(); });
  const plc = await connectPlc(h, clientPki, { user: 'plc', password: 'plc-pw' });
  t.teardown(() => plc.close());
  await plc.until('Status.Ready', (v) => v === true, 10_000);

  // The HTTP trigger comes first and is held in inference; before the fix the station numbered it 1.
  gate.hold();
  const http = await h.api<{ triggerId: number; triggerSeq: number }>('POST', '/api/stations/ST1/trigger', { partId: 'HTTP-1' });
  t.is(http.status, 200);
  t.is(http.body.triggerSeq, 0, 'an HTTP trigger carries no PLC TriggerSeq');
  // The PLC's own trigger N=1 is accepted while the HTTP result is still pending.
  const N = 1;
  t.is(await plc.read('Control.TriggerSeq'), 0);
  await plc.write('Control.PartId', DataType.String, 'PLC-1');
  await plc.write('Control.TriggerSeq', DataType.UInt32, N);
  await plc.until('Status.TriggerAckSeq', (v) => v === N, 10_000);
  t.is(await plc.read('Status.TriggerRejectCode'), 0);
  gate.release();

  // The PLC reads results in order (rule 3), acknowledging each; the first one whose TriggerSeq is N must be its own.
  let lastSeq = 0;
  const resultsUntil = async (triggerSeq: number, most: number) => {
    const seen: Record<string, unknown>[] = [];
    while (seen.length < most) {
      lastSeq = (await plc.until('Result.ResultSeq', (v) => (v as number) > lastSeq, 15_000)) as number;
      const r = await plc.readMany(['Result.TriggerSeq', 'Result.PartId', 'Result.Verdict', 'Result.ResultId']);
      seen.push(r);
      await plc.write('Control.ResultAckSeq', DataType.UInt32, lastSeq);
      if (r['Result.TriggerSeq'] === triggerSeq) break;
    }
    return seen;
  };
  const seen = await resultsUntil(N, 2);
  t.deepEqual(seen.map((r) => [r['Result.PartId'], r['Result.TriggerSeq']]), [['HTTP-1', 0], ['PLC-1', N]]);
  await plc.until('Status.Busy', (v) => v === false, 5000);
  // Both are stored: the HTTP one with triggerSeq 0 under its trigger id, the PLC one with N.
  const rows = await waitFor(() => {
    const x = h.daemon.store.queryResults({ stationId: 'ST1' });
    return x.length >= 2 && x;
  }, 5000, 'both results stored');
  t.deepEqual(rows.map((r) => [r.partId, r.triggerSeq]).sort(), [['HTTP-1', 0], ['PLC-1', N]]);
  t.is(rows.find((r) => r.partId === 'HTTP-1')!.frameSeq, http.body.triggerId);

  // A PLC trigger that times out while its frame waits behind a held HTTP frame: the station finds the PLC's frame
  // by TriggerSeq (not by its own trigger id) and records its one NO_VERDICT{timeout}; the HTTP frame is judged.
  gate.hold();
  const http2 = await h.api<{ triggerId: number; triggerSeq: number }>('POST', '/api/stations/ST1/trigger', { partId: 'HTTP-2' });
  t.is(http2.body.triggerSeq, 0);
  await plc.write('Control.PartId', DataType.String, 'PLC-2');
  await plc.write('Control.TriggerSeq', DataType.UInt32, N + 1);
  await plc.until('Status.TriggerAckSeq', (v) => v === N + 1, 10_000);
  const [timedOut] = await resultsUntil(N + 1, 1);
  t.like(timedOut, { 'Result.PartId': 'PLC-2', 'Result.TriggerSeq': N + 1, 'Result.Verdict': 3 });
  t.like(h.daemon.store.getResult(String(timedOut!['Result.ResultId'])), { partId: 'PLC-2', triggerSeq: N + 1, outcome: 'NO_VERDICT', reason: 'timeout' });
  gate.release();
  const [judged] = await resultsUntil(0, 1);
  t.like(judged, { 'Result.PartId': 'HTTP-2', 'Result.TriggerSeq': 0 });
  t.like(h.daemon.store.getResult(String(judged!['Result.ResultId'])), { frameSeq: http2.body.triggerId, triggerSeq: 0 });
  await new Promise((r) => setTimeout(r, 300)); // room for a wrong second outcome of PLC-2
  t.is(h.daemon.store.queryResults({ partId: 'PLC-2' }).length, 1, 'one outcome for the timed-out PLC trigger');
});
