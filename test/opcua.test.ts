// The PLC handshake against the real OPC UA server, with a real node-opcua client acting as the PLC.
import test from 'ava';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AttributeIds, ClientMonitoredItem, ClientSubscription, constructEventFilter, DataType, type DataValue, TimestampsToReturn, type Variant, VariableIds,
} from 'node-opcua';
import { opcuaConfigSchema } from '../adapters/opcua/config.ts';
import { createOpcUaSink, type OpcUaSink } from '../adapters/opcua/sink.ts';
import { createSqliteStationStore } from '../adapters/opcua/state-store.ts';
import { openDatabase } from '../agent/store/db.ts';
import { makeClient, Plc, trustRejected } from './helpers/plc-client.ts';
import { TestStation } from './helpers/test-station.ts';
import type { Alarm } from '../adapters/types.ts';

const dir = mkdtempSync(join(tmpdir(), 'opcua-hs-'));
const db = openDatabase(join(dir, 'agent.db'));
const config = opcuaConfigSchema.parse({
  port: 0, hostname: '127.0.0.1', dataDir: dir, stations: ['ST1'], triggerTimeoutMs: 600, plcHeartbeatTimeoutMs: 500,
  users: [{ username: 'plc', password: 'plc-pw', role: 'plc' }, { username: 'op', password: 'op-pw', role: 'operator' }],
});
const alarms: Alarm[] = [];
let sink: OpcUaSink;
let station: TestStation;
let plc: Plc; // user plc
let op: Plc; // user operator (methods)
const clientPki = join(dir, 'client-pki');

async function startServer() {
  sink = createOpcUaSink(config, { store: createSqliteStationStore(db), agentVersion: '0.1.0', onAlarm: (a) => alarms.push(a) });
  station = new TestStation('ST1', db, [sink]);
  await sink.start(station);
  station.publishStatus();
}

test.before(async () => {
  await startServer();
  // The first contact puts the client's certificate in rejected/; the admin trusts it.
  const probe = makeClient({ pkiDir: clientPki });
  await probe.connect(sink.endpointUrl()).catch(() => {});
  await probe.disconnect();
  await trustRejected(sink.pkiDir);
  plc = await Plc.connect(sink.endpointUrl(), { pkiDir: clientPki, user: 'plc', password: 'plc-pw', station: 'ST1' });
  op = await Plc.connect(sink.endpointUrl(), { pkiDir: clientPki, user: 'op', password: 'op-pw', station: 'ST1' });
});
test.after.always(async () => {
  await plc?.close();
  await op?.close();
  await sink?.stop();
  db.close();
});

const RESULT_FIELDS = ['ResultSeq', 'ResultId', 'TriggerSeq', 'PartId', 'Verdict', 'Pass', 'AnomalyScore', 'Threshold', 'DefectCount', 'DefectAreaPx',
  'BBoxX', 'BBoxY', 'BBoxW', 'BBoxH', 'ProcessingTimeMs', 'AcquiredAt', 'RecipeId', 'MaskUri'].map((f) => `Result.${f}`);

async function triggerAndWait(partId: string): Promise<number> {
  const before = (await plc.read('Result.ResultSeq')) as number;
  const seq = ((await plc.read('Control.TriggerSeq')) as number) + 1;
  t_write(await plc.write('Control.PartId', DataType.String, partId));
  t_write(await plc.write('Control.TriggerSeq', DataType.UInt32, seq));
  await plc.until('Status.TriggerAckSeq', (v) => v === seq);
  return before;
}
function t_write(code: { isGood(): boolean; toString(): string }) {
  if (!code.isGood()) throw new Error(`write failed: ${code.toString()}`);
}

test.serial('agent heartbeat counts, station reads Ready, namespace resolved by URI', async (t) => {
  t.true(plc.ns >= 1);
  const h1 = (await plc.read('Agent.Heartbeat')) as number;
  await new Promise((r) => setTimeout(r, 1100));
  t.true(((await plc.read('Agent.Heartbeat')) as number) >= h1 + 2);
  t.is(await plc.read('Agent.StateNumber'), 4);
  t.is(await plc.read('Agent.SoftwareVersion'), '0.1.0');
  t.like(await plc.readMany(['Status.Ready', 'Status.Busy', 'Status.CameraConnected', 'Status.PendingResults', 'Recipe.ActiveRecipeId', 'Recipe.ActiveRecipeName']), {
    'Status.Ready': true, 'Status.Busy': false, 'Status.CameraConnected': true, 'Status.PendingResults': 0, 'Recipe.ActiveRecipeId': 12, 'Recipe.ActiveRecipeName': 'A-12',
  });
});

test.serial('trigger by TriggerSeq: TriggerAckSeq, Busy, then a complete Result block with ResultSeq last; acknowledge', async (t) => {
  // Watch Busy and every Result field; record the order in which the server reports changes.
  const sub = ClientSubscription.create(plc.session, { requestedPublishingInterval: 20, publishingEnabled: true, requestedMaxKeepAliveCount: 50, requestedLifetimeCount: 500 });
  const changes: { path: string; value: unknown; at: number }[] = [];
  for (const path of ['Status.Busy', ...RESULT_FIELDS]) {
    const item = ClientMonitoredItem.create(sub, { nodeId: plc.id(path), attributeId: AttributeIds.Value }, { samplingInterval: 0, queueSize: 10, discardOldest: false }, TimestampsToReturn.Both);
    // Source time with picoseconds: the server's clock is strictly increasing, so it orders the writes.
    item.on('changed', (dv: DataValue) => changes.push({ path, value: dv.value.value, at: (dv.sourceTimestamp?.getTime() ?? 0) * 1e9 + (dv.sourcePicoseconds ?? 0) }));
  }
  await new Promise((r) => setTimeout(r, 300));
  changes.length = 0;
  station.processingMs = 150;
  station.nextNok = true;
  await triggerAndWait('PART-0001');
  t.is(await plc.read('Status.TriggerRejectCode'), 0);
  const rs = (await plc.until('Result.ResultSeq', (v) => (v as number) > 0)) as number;
  const block = await plc.readMany(RESULT_FIELDS);
  const v = station.produced.at(-1)!;
  t.like(block, {
    'Result.ResultSeq': v.resultSeq, 'Result.ResultId': v.resultId, 'Result.TriggerSeq': 1, 'Result.PartId': 'PART-0001', 'Result.Verdict': 2, 'Result.Pass': false,
    'Result.DefectCount': 1, 'Result.DefectAreaPx': 72, 'Result.BBoxX': 10, 'Result.BBoxY': 8, 'Result.BBoxW': 12, 'Result.BBoxH': 6, 'Result.RecipeId': 12, 'Result.MaskUri': v.mask!.uri,
  });
  t.true(Math.abs((block['Result.AnomalyScore'] as number) - 0.83) < 1e-6);
  t.true(block['Result.AcquiredAt'] instanceof Date);
  t.is(rs, v.resultSeq);
  await new Promise((r) => setTimeout(r, 300));
  const busy = changes.filter((c) => c.path === 'Status.Busy').map((c) => c.value);
  t.deepEqual(busy, [true, false], 'Busy rises on accept and falls with the result');
  const resultChanges = changes.filter((c) => c.path.startsWith('Result.')).sort((a, b) => a.at - b.at);
  t.true(resultChanges.length >= 10);
  t.is(resultChanges.at(-1)!.path, 'Result.ResultSeq', 'ResultSeq is the last Result field written');
  await sub.terminate();
  t.is(await plc.read('Status.PendingResults'), 1);
  t.true((await plc.write('Control.ResultAckSeq', DataType.UInt32, rs)).isGood());
  await plc.until('Status.PendingResults', (x) => x === 0);
  station.processingMs = 30;
  station.nextNok = false;
});

test.serial('buffer of 8: the 9th trigger is rejected with -3, nothing is overwritten, acks present the queue in order', async (t) => {
  const first = ((await plc.read('Result.ResultSeq')) as number) + 1;
  for (let i = 0; i < 8; i++) {
    await triggerAndWait(`P-${i}`);
    await plc.until('Status.Busy', (b) => b === false);
  }
  t.is(await plc.read('Status.PendingResults'), 8);
  t.is(await plc.read('Status.Ready'), false);
  t.is(await plc.read('Result.ResultSeq'), first, 'the oldest un-acked result stays presented');
  t.is(await plc.read('Alarms.ResultBufferFullActive'), true);
  t.true(alarms.some((a) => a.alarm === 'ResultBufferFull' && a.active));
  const missed = (await plc.read('Counters.MissedTriggers')) as number;
  const seq = ((await plc.read('Control.TriggerSeq')) as number) + 1;
  await plc.write('Control.TriggerSeq', DataType.UInt32, seq);
  await plc.until('Status.TriggerRejectCode', (c) => c === -3);
  t.not(await plc.read('Status.TriggerAckSeq'), seq);
  t.is(await plc.read('Counters.MissedTriggers'), missed + 1);
  // A wrong ack changes nothing.
  await plc.write('Control.ResultAckSeq', DataType.UInt32, first + 5);
  t.is(await plc.read('Result.ResultSeq'), first);
  for (let k = 0; k < 8; k++) {
    t.is(await plc.read('Result.PartId'), `P-${k}`);
    await plc.write('Control.ResultAckSeq', DataType.UInt32, first + k);
    if (k < 7) await plc.until('Result.ResultSeq', (v) => v === first + k + 1);
  }
  await plc.until('Status.PendingResults', (v) => v === 0);
  t.is(await plc.read('Status.Ready'), true);
  t.is(await plc.read('Alarms.ResultBufferFullActive'), false);
});

test.serial('busy and not-ready triggers are rejected with -2 and -1', async (t) => {
  station.processingMs = 400;
  const seq = ((await plc.read('Control.TriggerSeq')) as number) + 1;
  await plc.write('Control.TriggerSeq', DataType.UInt32, seq);
  await plc.until('Status.Busy', (b) => b === true);
  await plc.write('Control.TriggerSeq', DataType.UInt32, seq + 1);
  await plc.until('Status.TriggerRejectCode', (c) => c === -2);
  await plc.until('Status.Busy', (b) => b === false);
  await plc.write('Control.ResultAckSeq', DataType.UInt32, (await plc.read('Result.ResultSeq')) as number);
  station.processingMs = 30;
  station.publishStatus({ cameraConnected: false });
  t.is(await plc.read('Status.Ready'), false);
  t.is(await plc.read('Alarms.CameraDisconnectedActive'), true);
  await plc.write('Control.TriggerSeq', DataType.UInt32, seq + 2);
  await plc.until('Status.TriggerRejectCode', (c) => c === -1);
  station.publishStatus({ cameraConnected: true });
  t.is(await plc.read('Status.Ready'), true);
});

test.serial('trigger timeout gives Verdict 3 with ErrorCode; ResetErrorSeq clears it', async (t) => {
  station.hang = true;
  await triggerAndWait('HANG-1');
  await plc.until('Result.Verdict', (v) => v === 3, 3000);
  const rs = (await plc.read('Result.ResultSeq')) as number;
  t.like(await plc.readMany(['Result.PartId', 'Result.Pass', 'Status.Error', 'Status.ErrorCode', 'Status.Busy']), {
    'Result.PartId': 'HANG-1', 'Result.Pass': false, 'Status.Error': true, 'Status.ErrorCode': -6, 'Status.Busy': false,
  });
  t.regex((await plc.read('Status.ErrorText')) as string, /no result within 600 ms/);
  station.hang = false;
  await plc.write('Control.ResultAckSeq', DataType.UInt32, rs);
  await plc.write('Control.ResetErrorSeq', DataType.UInt32, 1);
  await plc.until('Status.Error', (e) => e === false);
  t.is(await plc.read('Status.ErrorCode'), 0);
});

test.serial('recipe change handshake: ChangeSeq → Ready 0, Status 1 → Status 0 / -1, ChangeAckSeq, Ready back', async (t) => {
  const sub = ClientSubscription.create(plc.session, { requestedPublishingInterval: 20, publishingEnabled: true, requestedMaxKeepAliveCount: 50, requestedLifetimeCount: 500 });
  const seen: string[] = [];
  for (const path of ['Status.Ready', 'Recipe.Status', 'Recipe.ChangeAckSeq']) {
    const item = ClientMonitoredItem.create(sub, { nodeId: plc.id(path), attributeId: AttributeIds.Value }, { samplingInterval: 0, queueSize: 10 }, TimestampsToReturn.Both);
    item.on('changed', (dv: DataValue) => seen.push(`${path}=${String(dv.value.value)}`));
  }
  await new Promise((r) => setTimeout(r, 300));
  seen.length = 0;
  await plc.write('Recipe.RequestedRecipeId', DataType.Int32, 13);
  await plc.write('Recipe.ChangeSeq', DataType.UInt32, 1);
  await plc.until('Recipe.ChangeAckSeq', (v) => v === 1);
  t.like(await plc.readMany(['Recipe.Status', 'Recipe.ActiveRecipeId', 'Recipe.ActiveRecipeName', 'Status.Ready']), {
    'Recipe.Status': 0, 'Recipe.ActiveRecipeId': 13, 'Recipe.ActiveRecipeName': 'B-13', 'Status.Ready': true,
  });
  await new Promise((r) => setTimeout(r, 200));
  t.deepEqual(seen, ['Status.Ready=false', 'Recipe.Status=1', 'Recipe.Status=0', 'Recipe.ChangeAckSeq=1', 'Status.Ready=true']);
  await sub.terminate();
  await plc.write('Recipe.RequestedRecipeId', DataType.Int32, 99);
  await plc.write('Recipe.ChangeSeq', DataType.UInt32, 2);
  await plc.until('Recipe.ChangeAckSeq', (v) => v === 2);
  t.is(await plc.read('Recipe.Status'), -1);
  t.is(await plc.read('Recipe.ActiveRecipeId'), 13);
  t.is(await plc.read('Status.Ready'), false, 'no prepared recipe, no Ready');
  await plc.write('Recipe.RequestedRecipeId', DataType.Int32, 12);
  await plc.write('Recipe.ChangeSeq', DataType.UInt32, 3);
  await plc.until('Status.Ready', (v) => v === true);
});

test.serial('methods with good and bad arguments; bad ones give Bad status codes and the server keeps serving', async (t) => {
  station.nextNok = true;
  const tr = await op.call('Trigger', [{ dataType: DataType.String, value: 'M-1' }]);
  t.true(tr.statusCode.isGood());
  t.is(tr.outputs[1], 0);
  const seq = tr.outputs[0] as number;
  await op.until('Result.PartId', (p) => p === 'M-1');
  t.is(await op.read('Result.TriggerSeq'), seq);
  const rs = (await op.read('Result.ResultSeq')) as number;
  const rid = (await op.read('Result.ResultId')) as string;
  t.deepEqual((await op.call('AcknowledgeResult', [{ dataType: DataType.UInt32, value: rs + 100 }])).outputs, [-5]);
  t.deepEqual((await op.call('AcknowledgeResult', [{ dataType: DataType.UInt32, value: rs }])).outputs, [0]);
  const got = await op.call('GetResultById', [{ dataType: DataType.String, value: rid }]);
  t.is(got.outputs[0], 2);
  t.true(Math.abs((got.outputs[1] as number) - 0.83) < 1e-6);
  t.is(got.outputs[3], 0);
  t.deepEqual((await op.call('GetResultById', [{ dataType: DataType.String, value: '01NOTANID' }])).outputs.at(-1), -4);
  t.deepEqual((await op.call('SelectRecipe', [{ dataType: DataType.Int32, value: 99 }])).outputs, [-1]);
  t.deepEqual((await op.call('SelectRecipe', [{ dataType: DataType.Int32, value: 12 }])).outputs, [0]);
  t.deepEqual((await op.call('ResetError', [])).outputs, [0]);
  t.deepEqual((await op.call('ResetCounters', [])).outputs, [0]);
  t.is(await op.read('Counters.Total'), 0);
  // Bad arguments.
  t.is((await op.call('Trigger', [{ dataType: DataType.String, value: 'x'.repeat(65) }])).statusCode.name, 'BadInvalidArgument');
  const wrongType = await op.call('Trigger', [{ dataType: DataType.Int32, value: 5 }]);
  t.regex(wrongType.statusCode.name, /^Bad(InvalidArgument|TypeMismatch)$/);
  t.is((await op.call('SelectRecipe', [])).statusCode.name, 'BadArgumentsMissing');
  t.is((await op.call('GetResultById', [{ dataType: DataType.String, value: '' }])).statusCode.name, 'BadInvalidArgument');
  t.is((await op.call('ResetCounters', [{ dataType: DataType.Int32, value: 1 }])).statusCode.name, 'BadTooManyArguments');
  t.is((await plc.write('Control.PartId', DataType.String, 'y'.repeat(65))).name, 'BadOutOfRange');
  t.regex((await plc.write('Control.TriggerSeq', DataType.String, 'seven')).name, /^Bad(TypeMismatch|InvalidArgument)$/);
  t.is((await plc.write('Result.Verdict', DataType.Int32, 1)).name, 'BadNotWritable');
  // plc may write Control but not call methods.
  t.is((await plc.call('ResetCounters', [])).statusCode.name, 'BadUserAccessDenied');
  t.is(await plc.read('Status.Ready'), true, 'still serving');
  station.nextNok = false;
});

test.serial('a VisionResultEventType event per NOK result, with its fields and severity 700', async (t) => {
  const sub = ClientSubscription.create(op.session, { requestedPublishingInterval: 20, publishingEnabled: true, requestedMaxKeepAliveCount: 50, requestedLifetimeCount: 500 });
  const fields = ['EventType', 'Severity', 'ResultId', 'ResultSeq', 'StationId', 'PartId', 'Verdict', 'AnomalyScore', 'MaskUri'];
  const events: Record<string, unknown>[] = [];
  // Our event fields live in our namespace: select them by qualified name `<ns>:<Name>`.
  const select = fields.map((f, i) => (i < 2 ? f : `${op.ns}:${f}`));
  const item = ClientMonitoredItem.create(sub, { nodeId: op.id('Agent'), attributeId: AttributeIds.EventNotifier }, { queueSize: 100, filter: constructEventFilter(select) }, TimestampsToReturn.Both);
  item.on('changed', (values: unknown) => {
    const vs = values as Variant[];
    events.push(Object.fromEntries(fields.map((f, i) => [f, vs[i]!.value])));
  });
  await new Promise((r) => setTimeout(r, 300));
  const ok = await station.produce('EV-OK', 0, false);
  const nok = await station.produce('EV-NOK', 0, true);
  const t0 = Date.now();
  while (!events.some((e) => e.ResultId === nok.resultId) && Date.now() - t0 < 3000) await new Promise((r) => setTimeout(r, 20));
  const e = events.find((x) => x.ResultId === nok.resultId);
  t.truthy(e);
  t.like(e, { Severity: 700, StationId: 'ST1', PartId: 'EV-NOK', Verdict: 2, MaskUri: nok.mask!.uri });
  t.is(typeof e!.ResultSeq, 'number');
  t.false(events.some((x) => x.ResultId === ok.resultId), 'OK results raise no event by default');
  await sub.terminate();
  // Drain the two results for the next test.
  for (let i = 0; i < 2; i++) await plc.write('Control.ResultAckSeq', DataType.UInt32, (await plc.read('Result.ResultSeq')) as number);
});

test.serial('alarms are OffNormal conditions: CameraDisconnected raises and clears an AlarmConditionType event', async (t) => {
  const sub = ClientSubscription.create(op.session, { requestedPublishingInterval: 20, publishingEnabled: true, requestedMaxKeepAliveCount: 50, requestedLifetimeCount: 500 });
  const fields = ['EventType', 'SourceName', 'ConditionName', 'Severity', 'ActiveState.Id', 'Message'];
  const events: Record<string, unknown>[] = [];
  const item = ClientMonitoredItem.create(sub, { nodeId: op.id('Agent'), attributeId: AttributeIds.EventNotifier }, { queueSize: 100, filter: constructEventFilter(fields) }, TimestampsToReturn.Both);
  item.on('changed', (values: unknown) => {
    const vs = values as Variant[];
    events.push(Object.fromEntries(fields.map((f, i) => [f, vs[i]!.value])));
  });
  await new Promise((r) => setTimeout(r, 300));
  sink.publishAlarm({ stationId: 'ST1', alarm: 'CameraDisconnected', active: true, severity: 700, text: 'cam1 gone' });
  sink.publishAlarm({ stationId: 'ST1', alarm: 'CameraDisconnected', active: false, severity: 700, text: '' });
  const t0 = Date.now();
  const mine = () => events.filter((e) => e.ConditionName === 'CameraDisconnected');
  while (mine().at(-1)?.['ActiveState.Id'] !== false && Date.now() - t0 < 3000) await new Promise((r) => setTimeout(r, 20));
  const states = mine().map((e) => e['ActiveState.Id']);
  t.is(states[0], true, 'raised');
  t.is(states.at(-1), false, 'then cleared');
  t.like(mine()[0], { Severity: 700 });
  t.regex(String(mine()[0]!.SourceName), /ST1$/);
  t.is((mine()[0]!.Message as { text: string }).text, 'cam1 gone');
  await sub.terminate();
});

test.serial('PLC heartbeat watchdog raises PlcHeartbeatLost when the PLC stops counting', async (t) => {
  await plc.write('Control.PlcHeartbeat', DataType.UInt32, 1);
  await new Promise((r) => setTimeout(r, 900));
  t.is(await plc.read('Alarms.PlcHeartbeatLostActive'), true);
  await plc.write('Control.PlcHeartbeat', DataType.UInt32, 2);
  t.is(await plc.read('Alarms.PlcHeartbeatLostActive'), false);
  t.true(alarms.some((a) => a.alarm === 'PlcHeartbeatLost' && a.active) && alarms.some((a) => a.alarm === 'PlcHeartbeatLost' && !a.active));
  await plc.write('Control.PlcHeartbeat', DataType.UInt32, 2);
});

test.serial('ResultSeq and the un-acked queue persist across a restart; no phantom trigger from the old TriggerSeq', async (t) => {
  await triggerAndWait('KEEP-1');
  await plc.until('Status.Busy', (b) => b === false);
  await triggerAndWait('KEEP-2');
  await plc.until('Status.PendingResults', (p) => p === 2);
  const shown = await plc.readMany(['Result.ResultSeq', 'Result.ResultId', 'Result.PartId']);
  const triggerSeq = (await plc.read('Control.TriggerSeq')) as number;
  await plc.close();
  await op.close();
  await sink.stop();
  await startServer();
  plc = await Plc.connect(sink.endpointUrl(), { pkiDir: clientPki, user: 'plc', password: 'plc-pw', station: 'ST1' });
  op = await Plc.connect(sink.endpointUrl(), { pkiDir: clientPki, user: 'op', password: 'op-pw', station: 'ST1' });
  t.deepEqual(await plc.readMany(['Result.ResultSeq', 'Result.ResultId', 'Result.PartId']), shown);
  t.is(await plc.read('Status.PendingResults'), 2);
  // The PLC rewrites its current counter after reconnecting: no new inspection.
  await plc.write('Control.TriggerSeq', DataType.UInt32, triggerSeq);
  await new Promise((r) => setTimeout(r, 200));
  t.is(station.produced.length, 0, 'the restarted station got no trigger');
  await plc.write('Control.ResultAckSeq', DataType.UInt32, shown['Result.ResultSeq']);
  await plc.until('Result.PartId', (p) => p === 'KEEP-2');
  await plc.write('Control.ResultAckSeq', DataType.UInt32, (await plc.read('Result.ResultSeq')) as number);
  await triggerAndWait('AFTER');
  await plc.until('Result.PartId', (p) => p === 'AFTER');
  const after = (await plc.read('Result.ResultSeq')) as number;
  t.true(after > (shown['Result.ResultSeq'] as number) + 1, 'strictly increasing across the restart');
  t.is(await plc.read('Result.ResultId'), station.produced.at(-1)!.resultId, 'same ResultId as the MQTT resultId');
});

test.serial('server limits of PROTOCOLS.md are advertised in ServerCapabilities', async (t) => {
  const caps = ['MaxSessions', 'MaxSubscriptionsPerSession', 'MaxMonitoredItemsQueueSize', 'MaxMonitoredItems', 'MaxByteStringLength'] as const;
  const dvs = await plc.session.read(caps.map((c) => ({ nodeId: `ns=0;i=${VariableIds[`Server_ServerCapabilities_${c}`]}`, attributeId: AttributeIds.Value })));
  t.deepEqual(Object.fromEntries(caps.map((c, i) => [c, dvs[i]!.value.value])), {
    MaxSessions: 10, MaxSubscriptionsPerSession: 5, MaxMonitoredItemsQueueSize: 100, MaxMonitoredItems: 2000, MaxByteStringLength: 2 * 1024 * 1024,
  });
  // Images.LastMaskPng is read on demand: the PNG of the last result with a mask.
  const nok = await station.produce('IMG', 0, true);
  const png = (await plc.read('Images.LastMaskPng')) as Buffer;
  t.true(png.equals(nok.mask!.png));
});
