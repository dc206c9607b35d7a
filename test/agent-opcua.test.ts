// The PLC side of the daemon through the real OPC UA server: recipe selection by integer id (handshake rule 5) and a
// triggered inspection whose result shows up in Result.* with the same ResultId as the store.
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataType } from 'node-opcua';
import sharp from 'sharp';
import { startHarness, waitFor } from '../agent/harness.ts';
import { makeClient, Plc, trustRejected } from '../adapters/tools/plc-client.ts';
import { freePort } from './helpers/mosquitto.ts';

test('PLC selects a product by recipe id over OPC UA, triggers a part, reads the verdict the store holds', async (t) => {
  const clientPki = mkdtempSync(join(tmpdir(), 'agent-opcua-client-'));
  t.teardown(() => rmSync(clientPki, { recursive: true, force: true }));
  const h = await startHarness({
    cameras: [{ station: 'ST1', source: { type: 'synthetic', id: 'cam1', trigger: 'software', width: 160, height: 120, seed: 2 } }],
    opcua: { port: await freePort(), hostname: '127.0.0.1', users: [{ username: 'plc', password: 'plc-pw', role: 'plc' }], triggerTimeoutMs: 5000 },
  });
  t.teardown(() => h.stop());
  await h.daemon.sinksStarted;
  const sink = h.daemon.sinks.find((s) => s.name === 'opcua') as unknown as { endpointUrl(): string };
  t.truthy(sink, 'the OPC UA sink started');
  const url = sink.endpointUrl();
  const probe = makeClient({ pkiDir: clientPki });
  await probe.connect(url).catch(() => {});
  await probe.disconnect();
  await trustRejected(join(h.dataDir, 'pki'));
  const plc = await Plc.connect(url, { pkiDir: clientPki, user: 'plc', password: 'plc-pw', station: 'ST1' });
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
