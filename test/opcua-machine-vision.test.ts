// The OPC 40100-1 Machine Vision view of a real daemon, driven by a node-opcua client that knows only the companion
// specification: the namespace URI, the type and data type NodeIds of the nodeset, BrowseNames and method signatures.
// It finds the vision systems by TypeDefinition, prepares a recipe, runs jobs, receives ResultReady and finds the same
// result ids in the store, on MQTT and on the PLC interface.
import test, { type ExecutionContext } from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import {
  AttributeIds, BrowseDirection, type ClientSession, ClientMonitoredItem, ClientSubscription, constructEventFilter, DataType, type ExtensionObject,
  makeBrowsePath, NodeClassMask, type NodeId, resolveNodeId, type StatusCode, StatusCodes, TimestampsToReturn, UserTokenType, type Variant, type VariantOptions,
} from 'node-opcua';
import { opcuaConfigSchema } from '../adapters/opcua/config.ts';
import { createOpcUaSink } from '../adapters/opcua/sink.ts';
import { createSqliteStationStore } from '../adapters/opcua/state-store.ts';
import type { MachineVisionPort } from '../adapters/types.ts';
import { resultStateOf } from '../adapters/opcua/machine-vision/results.ts';
import { NO_VERDICT_REASONS } from '../adapters/protocol.ts';
import { openDatabase } from '../agent/store/db.ts';
import { startHarness, waitFor, type Harness } from './helpers/harness.ts';
import { freePort, startMosquitto, type Broker } from './helpers/mosquitto.ts';
import { makeClient, Plc, trustRejected } from './helpers/plc-client.ts';
import { connectPlc } from './helpers/plc.ts';
import { startRtspServer } from './peers/rtsp.ts';
import { TestStation } from './helpers/test-station.ts';

/** From the companion specification (OPC 40100-1 nodeset): namespace URI and NodeIds. */
const MV_URI = 'http://opcfoundation.org/UA/MachineVision';
const MV_IDS = {
  VisionSystemType: 1003, ResultReadyEventType: 1024, JobStartedEventType: 1013, ReadyEventType: 1023, RecipePreparedEventType: 1022,
  RecipeIdExternalDataType: 3002, RecipeIdInternalDataType: 3013, PartIdDataType: 3004, ProductIdDataType: 3003, ResultIdDataType: 3021,
  JobIdDataType: 3016, MeasIdDataType: 3015, StateChangedEventType: 1018,
} as const;

const USERS = [
  { username: 'op', password: 'op-pw', role: 'operator' },
  { username: 'viewer', password: 'viewer-pw', role: 'viewer' },
  { username: 'plc', password: 'plc-pw', role: 'plc' },
];

/** A 40100 client on one session: resolves the namespace, finds vision systems by type, calls their methods. */
class MvClient {
  private constructor(readonly session: ClientSession, readonly ns: number) {}
  static async on(session: ClientSession): Promise<MvClient> {
    const ns = (await session.readNamespaceArray()).indexOf(MV_URI);
    if (ns < 0) throw new Error(`${MV_URI} is not in the server's namespace array`);
    return new MvClient(session, ns);
  }
  id(name: keyof typeof MV_IDS): NodeId {
    return resolveNodeId(`ns=${this.ns};i=${MV_IDS[name]}`);
  }
  /** Objects' children whose TypeDefinition is VisionSystemType. */
  async visionSystems(): Promise<{ nodeId: NodeId; name: string }[]> {
    const r = await this.session.browse({ nodeId: 'i=85', browseDirection: BrowseDirection.Forward, referenceTypeId: 'HierarchicalReferences', includeSubtypes: true, nodeClassMask: NodeClassMask.Object, resultMask: 63 });
    const type = this.id('VisionSystemType').toString();
    return (r.references ?? []).filter((ref) => ref.typeDefinition.toString() === type).map((ref) => ({ nodeId: ref.nodeId as unknown as NodeId, name: ref.browseName.name ?? '' }));
  }
  async path(from: NodeId, ...names: string[]): Promise<NodeId> {
    const bnf = names.map((n) => (n.includes(':') ? `/${n}` : `/${this.ns}:${n}`)).join('');
    const r = await this.session.translateBrowsePath(makeBrowsePath(from, bnf));
    const target = r.targets?.[0]?.targetId;
    if (!r.statusCode.isGood() || !target) throw new Error(`browse path ${bnf}: ${r.statusCode.toString()}`);
    return target as NodeId;
  }
  async state(vs: NodeId, ...machine: string[]): Promise<string> {
    const dv = await this.session.read({ nodeId: await this.path(vs, ...machine, '0:CurrentState'), attributeId: AttributeIds.Value });
    return (dv.value.value as { text?: string } | null)?.text ?? '';
  }
  async make(type: keyof typeof MV_IDS, fields: Record<string, unknown>): Promise<VariantOptions> {
    return { dataType: DataType.ExtensionObject, value: await this.session.constructExtensionObject(this.id(type), fields) };
  }
  none(): VariantOptions {
    return { dataType: DataType.ExtensionObject, value: null };
  }
  async call(vs: NodeId, object: string[], method: string, args: VariantOptions[]): Promise<{ statusCode: StatusCode; out: unknown[] }> {
    const objectId = object.length ? await this.path(vs, ...object) : vs;
    const methodId = await this.path(objectId, method);
    const r = await this.session.call({ objectId, methodId, inputArguments: args });
    return { statusCode: r.statusCode, out: (r.outputArguments ?? []).map((v: Variant) => v.value) };
  }
}

const AUTO = ['VisionStateMachine', 'AutomaticModeStateMachine'];
const field = (eo: unknown, name: string) => (eo as Record<string, unknown> | null)?.[name];
const idOf = (eo: unknown) => field(eo, 'id') as string | undefined;
/** ResultContent is KeyValuePair[]: our values by key name. */
const content = (list: unknown): Record<string, unknown> =>
  Object.fromEntries(((list as Variant[] | null) ?? []).map((v) => {
    const kv = (v as { value?: unknown }).value ?? v;
    return [(field(kv, 'key') as { name: string }).name, (field(kv, 'value') as Variant).value];
  }));

interface MvEvent { type: string; fields: Record<string, unknown> }

async function subscribeEvents(mv: MvClient, source: NodeId): Promise<{ events: MvEvent[]; stop(): Promise<void> }> {
  const names = ['EventType', 'Message', `${mv.ns}:ResultId`, `${mv.ns}:ResultState`, `${mv.ns}:JobId`, `${mv.ns}:PartId`, `${mv.ns}:ResultContent`, `${mv.ns}:InternalRecipeId`, `${mv.ns}:ExternalRecipeId`, `${mv.ns}:InternalId`, `${mv.ns}:CreationTime`, 'FromState', 'ToState'];
  const sub = ClientSubscription.create(mv.session, { requestedPublishingInterval: 50, publishingEnabled: true, requestedMaxKeepAliveCount: 50, requestedLifetimeCount: 500 });
  const item = ClientMonitoredItem.create(sub, { nodeId: source, attributeId: AttributeIds.EventNotifier },
    { queueSize: 1000, filter: constructEventFilter(names), discardOldest: false }, TimestampsToReturn.Neither);
  const events: MvEvent[] = [];
  const typeNames = new Map(Object.entries(MV_IDS).map(([k, v]) => [`ns=${mv.ns};i=${v}`, k]));
  item.on('changed', (values: Variant[]) => {
    const fields = Object.fromEntries(names.map((n, i) => [n.replace(/^\d+:/, ''), values[i]?.value]));
    events.push({ type: typeNames.get(String(fields.EventType)) ?? String(fields.EventType), fields });
  });
  await new Promise<void>((resolve) => item.once('initialized', () => resolve()));
  return { events, stop: () => sub.terminate() };
}

const harnessConfig = async (brokerUrl?: string) => ({
  cameras: [{ station: 'ST1', source: { type: 'synthetic', id: 'cam1', trigger: 'software', width: 160, height: 120, seed: 5 } }],
  // ackMode None: the PLC's un-acked buffer (tested in opcua.test.ts) would stop the continuous run after 8 frames.
  opcua: { port: await freePort(), hostname: '127.0.0.1', users: USERS, ackMode: 'None' },
  ...(brokerUrl ? { mqtt: { url: brokerUrl, keepaliveS: 5, reconnectPeriodMs: 200 } } : {}),
});

test.serial('a 40100 client: vision systems by type, state machine, PrepareRecipe, StartSingleJob → ResultReady → GetResultById, the same ids in the store, on MQTT and the PLC view', async (t) => {
  const broker: Broker = await startMosquitto();
  const dataDir = mkdtempSync(join(tmpdir(), 'mv-agent-'));
  const clientPki = mkdtempSync(join(tmpdir(), 'mv-client-'));
  let h: Harness = await startHarness(await harnessConfig(broker.url), { dataDir });
  const verdicts: { resultId: string; partId: string; verdictCode: number }[] = [];
  const watcher = await mqtt.connectAsync(broker.url, { protocolVersion: 5, reconnectPeriod: 0 });
  watcher.on('message', (topic, payload) => { if (topic.endsWith('/ST1/verdict')) verdicts.push(JSON.parse(payload.toString())); });
  await watcher.subscribeAsync('adaptclip/v1/#', { qos: 1 });
  let op: Plc | null = null;
  let viewer: Plc | null = null;
  t.teardown(async () => {
    await op?.close();
    await viewer?.close();
    await watcher.endAsync();
    await h.stop();
    await broker.stop();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(clientPki, { recursive: true, force: true });
  });
  op = await connectPlc(h, clientPki, { user: 'op', password: 'op-pw' });
  const mv = await MvClient.on(op.session);
  t.true(mv.ns >= 1 && mv.ns !== op.ns, 'both namespaces are on the server, resolved by URI');

  // Browse by type definition, not by our node ids.
  const systems = await mv.visionSystems();
  t.deepEqual(systems.map((s) => s.name), ['ST1'], 'one VisionSystemType instance per station');
  const vs = systems[0]!.nodeId;
  await waitFor(async () => (await mv.state(vs, 'VisionStateMachine')) === 'Operational', 20_000, 'VisionStateMachine Operational');
  t.is(await op.read('Status.StateNumber'), 4, 'the PLC view says Operational (4) too');
  t.is(await mv.state(vs, ...AUTO), 'Ready', 'no product yet: the zero-shot default is prepared, the system is Ready');

  // A product is a recipe: list it, prepare it (today's changeover), see it active on both views.
  const product = (await h.api<{ id: number; recipeId: number }>('POST', '/api/products', { name: 'MV-A', recipeId: 21 })).body;
  t.is((await h.api('POST', `/api/products/${product.id}/shots/capture`, { station: 'ST1' })).status, 201);
  const all = await mv.call(vs, ['RecipeManagement'], 'GetRecipeListFiltered', [mv.none(), mv.none(), { dataType: DataType.Int32, value: 2 }, { dataType: DataType.UInt32, value: 0 }, { dataType: DataType.UInt32, value: 0 }, { dataType: DataType.Int32, value: 1000 }]);
  t.true(all.statusCode.isGood(), all.statusCode.toString());
  t.deepEqual((all.out[3] as unknown[]).map(idOf), ['21']);
  t.is(all.out[0], true, 'IsComplete');
  const preparedBefore = await mv.call(vs, ['RecipeManagement'], 'GetRecipeListFiltered', [mv.none(), mv.none(), { dataType: DataType.Int32, value: 1 }, { dataType: DataType.UInt32, value: 0 }, { dataType: DataType.UInt32, value: 0 }, { dataType: DataType.Int32, value: 1000 }]);
  t.deepEqual(preparedBefore.out[3], [], 'recipe 21 is not prepared yet');

  const events = await subscribeEvents(mv, vs);
  const prep = await mv.call(vs, ['RecipeManagement'], 'PrepareRecipe', [await mv.make('RecipeIdExternalDataType', { id: '21' }), mv.none()]);
  t.true(prep.statusCode.isGood(), prep.statusCode.toString());
  t.is(idOf(prep.out[0]), '21', 'InternalIdOut');
  t.deepEqual(prep.out.slice(1), [true, 0], 'IsCompleted, Error 0');
  t.is(h.daemon.changeover.current('ST1').recipeId, 21, 'the daemon changed over to the product');
  t.is(await op.read('Recipe.ActiveRecipeId'), 21, 'the PLC view shows the new recipe');
  t.is(await mv.state(vs, ...AUTO), 'Ready');
  await waitFor(() => events.events.find((e) => e.type === 'RecipePreparedEventType'), 5000, 'RecipePrepared');
  t.is(idOf(events.events.find((e) => e.type === 'RecipePreparedEventType')!.fields.InternalId), '21');

  // One job: JobId back, JobStarted, ResultReady with the result id, Ready.
  const job = await mv.call(vs, AUTO, 'StartSingleJob', [mv.none(), await mv.make('PartIdDataType', { id: 'MV-0001' }), await mv.make('RecipeIdExternalDataType', { id: '21' }), mv.none(), { dataType: DataType.Variant, value: [] }]);
  t.true(job.statusCode.isGood(), job.statusCode.toString());
  t.is(job.out[1], 0);
  const jobId = idOf(job.out[0])!;
  t.truthy(jobId);
  const ready = await waitFor(() => events.events.find((e) => e.type === 'ResultReadyEventType' && idOf(e.fields.JobId) === jobId), 10_000, 'ResultReady for the job');
  const resultId = idOf(ready.fields.ResultId)!;
  t.is(idOf(ready.fields.PartId), 'MV-0001');
  t.is(idOf(ready.fields.ExternalRecipeId), '21');
  await waitFor(() => events.events.find((e) => e.type === 'ReadyEventType' && idOf(e.fields.JobId) === jobId), 5000, 'Ready after the job');
  t.truthy(events.events.find((e) => e.type === 'JobStartedEventType' && idOf(e.fields.JobId) === jobId));
  t.is(await mv.state(vs, ...AUTO), 'Ready');

  const row = h.daemon.store.getResult(resultId);
  t.truthy(row, 'the ResultReady id is the store row id');
  t.like(row, { partId: 'MV-0001', recipeId: 21, stationId: 'ST1' });
  t.is(ready.fields.ResultState, 1, 'ResultState Completed: the verdict is in ResultContent, not the state');
  t.is(content(ready.fields.ResultContent).Outcome, row!.outcome);
  t.is(content(ready.fields.ResultContent).Outcome, row!.outcome);
  const onMqtt = await waitFor(() => verdicts.find((v) => v.resultId === resultId), 10_000, 'the verdict on MQTT');
  t.like(onMqtt, { partId: 'MV-0001', verdictCode: row!.verdictCode });
  const plcById = await op.call('GetResultById', [{ dataType: DataType.String, value: resultId }]);
  t.deepEqual([plcById.outputs[0], plcById.outputs[3]], [row!.verdictCode, 0], 'the PLC interface finds the same result id');

  const byId = await mv.call(vs, ['ResultManagement'], 'GetResultById', [await mv.make('ResultIdDataType', { id: resultId }), { dataType: DataType.Int32, value: 1000 }]);
  t.true(byId.statusCode.isGood(), byId.statusCode.toString());
  const result = byId.out[1];
  t.is(idOf(field(result, 'resultId')), resultId);
  t.is(idOf(field(result, 'jobId')), jobId);
  t.is(idOf(field(result, 'partId')), 'MV-0001');
  t.is(field(result, 'resultState'), 1);
  t.is(field(result, 'isPartial'), false);
  t.true(Math.abs((content(field(result, 'resultContent')).AnomalyScore as number) - row!.score) < 1e-5, 'the score as stored');
  t.is((field(result, 'creationTime') as Date).getTime(), row!.decidedAt);

  // GetResultListFiltered: by part id; all results newest first (CreationTime), paged.
  const job2 = await mv.call(vs, AUTO, 'StartSingleJob', [mv.none(), await mv.make('PartIdDataType', { id: 'MV-0002' }), mv.none(), mv.none(), { dataType: DataType.Variant, value: [] }]);
  t.true(job2.statusCode.isGood(), job2.statusCode.toString());
  const second = await waitFor(() => events.events.find((e) => e.type === 'ResultReadyEventType' && idOf(e.fields.JobId) === idOf(job2.out[0])), 10_000, 'the second result');
  await waitFor(async () => (await mv.state(vs, ...AUTO)) === 'Ready', 5000, 'Ready again');
  const list = async (filters: Partial<Record<'state' | 'partId' | 'jobId' | 'recipe', VariantOptions>>, max = 0, start = 0) => {
    const r = await mv.call(vs, ['ResultManagement'], 'GetResultListFiltered', [
      filters.state ?? { dataType: DataType.Int32, value: 0 }, mv.none(), filters.partId ?? mv.none(), filters.recipe ?? mv.none(), mv.none(), mv.none(), mv.none(), mv.none(),
      filters.jobId ?? mv.none(), { dataType: DataType.UInt32, value: max }, { dataType: DataType.UInt32, value: start }, { dataType: DataType.Int32, value: 1000 },
    ]);
    if (!r.statusCode.isGood()) throw new Error(`GetResultListFiltered: ${r.statusCode.toString()}`);
    return { complete: r.out[0] as boolean, count: r.out[1] as number, ids: (r.out[3] as unknown[]).map((x) => idOf(field(x, 'resultId'))), results: r.out[3] as unknown[] };
  };
  const byPart = await list({ partId: await mv.make('PartIdDataType', { id: 'MV-0001' }) });
  t.deepEqual(byPart.ids, [resultId]);
  t.true(byPart.complete);
  const newest = await list({}, 2);
  t.deepEqual(newest.ids, [idOf(second.fields.ResultId), resultId], 'newest first');
  t.false(newest.complete, 'the shot-capture result is older still');
  const times = (await list({})).results.map((x) => (field(x, 'creationTime') as Date).getTime());
  t.deepEqual(times, [...times].sort((a, b) => b - a), 'CreationTime descending');
  t.deepEqual((await list({}, 1, 1)).ids, [resultId], 'StartIndex pages back in time');
  t.deepEqual((await list({ jobId: await mv.make('JobIdDataType', { id: jobId }) })).ids, [resultId], 'by JobId');
  t.deepEqual((await list({ recipe: await mv.make('RecipeIdExternalDataType', { id: '21' }) })).ids.sort(), [resultId, idOf(second.fields.ResultId)].sort(), 'by recipe');
  t.deepEqual((await list({ partId: await mv.make('PartIdDataType', { id: 'NO-SUCH' }) })).ids, []);

  // Bad calls: Bad status codes, nothing changed (recipe, counters, state).
  const missedBefore = await op.read('Counters.MissedTriggers');
  const unknown = await mv.call(vs, ['RecipeManagement'], 'PrepareRecipe', [await mv.make('RecipeIdExternalDataType', { id: '999' }), mv.none()]);
  t.is(unknown.statusCode, StatusCodes.BadNotFound);
  t.is(h.daemon.changeover.current('ST1').recipeId, 21, 'unknown recipe: the product stays');
  t.is(await op.read('Recipe.Status'), 0, 'and the PLC recipe status stays ok');
  const wrongType = await mv.call(vs, AUTO, 'StartSingleJob', [mv.none(), { dataType: DataType.String, value: 'MV-X' }, mv.none(), mv.none(), { dataType: DataType.Variant, value: [] }]);
  t.is(wrongType.statusCode, StatusCodes.BadTypeMismatch, 'a String where PartIdDataType belongs');
  const wrongStruct = await mv.call(vs, AUTO, 'StartSingleJob', [mv.none(), await mv.make('JobIdDataType', { id: 'MV-X' }), mv.none(), mv.none(), { dataType: DataType.Variant, value: [] }]);
  t.is(wrongStruct.statusCode, StatusCodes.BadTypeMismatch, 'a JobIdDataType where PartIdDataType belongs');
  const notPrepared = await mv.call(vs, AUTO, 'StartSingleJob', [mv.none(), mv.none(), await mv.make('RecipeIdExternalDataType', { id: '22' }), mv.none(), { dataType: DataType.Variant, value: [] }]);
  t.is(notPrepared.statusCode, StatusCodes.BadInvalidArgument, 'a recipe that is not the prepared one');
  const missing = await op.session.call({ objectId: await mv.path(vs, ...AUTO), methodId: await mv.path(await mv.path(vs, ...AUTO), 'StartSingleJob'), inputArguments: [] });
  t.is(missing.statusCode, StatusCodes.BadArgumentsMissing);
  t.is((await mv.call(vs, ['RecipeManagement'], 'UnprepareRecipe', [await mv.make('RecipeIdExternalDataType', { id: '21' }), mv.none()])).statusCode, StatusCodes.BadInvalidState, 'the only prepared recipe');
  t.is((await mv.call(vs, ['ResultManagement'], 'GetResultById', [await mv.make('ResultIdDataType', { id: '01JUNKNOWNRESULTIDXXXXXXXX' }), { dataType: DataType.Int32, value: 0 }])).statusCode, StatusCodes.BadNotFound);
  t.is((await mv.call(vs, AUTO, 'Stop', [{ dataType: DataType.Int32, value: 0 }, { dataType: DataType.String, value: '' }])).statusCode, StatusCodes.BadInvalidState, 'nothing to stop');
  t.is((await mv.call(vs, ['VisionStateMachine'], 'Halt', [{ dataType: DataType.Int32, value: 0 }, { dataType: DataType.String, value: '' }])).statusCode, StatusCodes.BadNotSupported);
  // A job while one runs: two StartSingleJob in one Call request, the second finds SingleExecution.
  const autoId = await mv.path(vs, ...AUTO);
  const startId = await mv.path(autoId, 'StartSingleJob');
  const startArgs = [mv.none(), await mv.make('PartIdDataType', { id: 'MV-0003' }), mv.none(), mv.none(), { dataType: DataType.Variant, value: [] }];
  const pair = await op.session.call([{ objectId: autoId, methodId: startId, inputArguments: startArgs }, { objectId: autoId, methodId: startId, inputArguments: startArgs }]);
  t.true(pair[0]!.statusCode.isGood());
  t.is(pair[1]!.statusCode, StatusCodes.BadInvalidState, 'job while not Ready');
  await waitFor(async () => (await mv.state(vs, ...AUTO)) === 'Ready', 10_000, 'Ready after MV-0003');
  t.is(await op.read('Counters.MissedTriggers'), missedBefore, 'no refused call counted a missed trigger');
  t.is(h.daemon.store.queryResults({ stationId: 'ST1', partId: 'MV-X' }).length, 0, 'no frame for a refused call');

  // Roles: a viewer may browse and read the state but not call; anonymous gets no session outside demo.
  viewer = await connectPlc(h, clientPki, { user: 'viewer', password: 'viewer-pw', trust: false });
  const vmv = await MvClient.on(viewer.session);
  t.is(await vmv.state(vs, 'VisionStateMachine'), 'Operational');
  t.is((await vmv.call(vs, AUTO, 'StartSingleJob', startArgs)).statusCode, StatusCodes.BadUserAccessDenied);
  t.is((await vmv.call(vs, ['RecipeManagement'], 'PrepareRecipe', [await vmv.make('RecipeIdExternalDataType', { id: '21' }), vmv.none()])).statusCode, StatusCodes.BadUserAccessDenied);
  t.is((await vmv.call(vs, ['ResultManagement'], 'GetResultById', [await vmv.make('ResultIdDataType', { id: resultId }), { dataType: DataType.Int32, value: 0 }])).statusCode, StatusCodes.BadUserAccessDenied);
  const anon = makeClient({ pkiDir: clientPki });
  await anon.connect(h.daemon.northbound.endpointUrls()[0]!);
  await t.throwsAsync(() => anon.createSession({ type: UserTokenType.Anonymous }), undefined, 'anonymous refused outside demo');
  await anon.disconnect();

  // Continuous execution on the software-triggered camera: frames under one JobId until Stop, then Ready.
  const cont = await mv.call(vs, AUTO, 'StartContinuous', [mv.none(), await mv.make('PartIdDataType', { id: 'MV-RUN' }), mv.none(), mv.none(), { dataType: DataType.Variant, value: [] }]);
  t.true(cont.statusCode.isGood(), cont.statusCode.toString());
  const runId = idOf(cont.out[0])!;
  t.is(await mv.state(vs, ...AUTO), 'ContinuousExecution');
  await waitFor(() => events.events.filter((e) => e.type === 'ResultReadyEventType' && idOf(e.fields.JobId) === runId).length >= 3, 20_000, 'three frames of the run');
  const stop = await mv.call(vs, AUTO, 'Stop', [{ dataType: DataType.Int32, value: 0 }, { dataType: DataType.String, value: 'test' }]);
  t.true(stop.statusCode.isGood());
  await waitFor(async () => (await mv.state(vs, ...AUTO)) === 'Ready', 10_000, 'Ready after Stop');
  await waitFor(() => events.events.find((e) => e.type === 'ReadyEventType' && idOf(e.fields.JobId) === runId), 5000, 'Ready event of the run');
  const runFrames = events.events.filter((e) => e.type === 'ResultReadyEventType' && idOf(e.fields.JobId) === runId).length;
  await new Promise((r) => setTimeout(r, 800));
  t.is(h.daemon.store.queryResults({ stationId: 'ST1', partId: 'MV-RUN' }).length, runFrames, 'every frame of the run has one ResultReady, none after Stop');
  await events.stop();

  // Across a restart: the store answers GetResultById and GetResultListFiltered with the same ids and job id.
  await op.close();
  await viewer.close();
  op = viewer = null;
  await h.stop();
  h = await startHarness(await harnessConfig(), { dataDir });
  op = await connectPlc(h, clientPki, { user: 'op', password: 'op-pw', trust: false });
  const mv2 = await MvClient.on(op.session);
  const vs2 = (await mv2.visionSystems())[0]!.nodeId;
  const again = await mv2.call(vs2, ['ResultManagement'], 'GetResultById', [await mv2.make('ResultIdDataType', { id: resultId }), { dataType: DataType.Int32, value: 0 }]);
  t.true(again.statusCode.isGood(), again.statusCode.toString());
  t.is(idOf(field(again.out[1], 'jobId')), jobId, 'the same JobId after a restart');
  t.is(field(again.out[1], 'resultState'), 1);
  const list2 = await mv2.call(vs2, ['ResultManagement'], 'GetResultListFiltered', [
    { dataType: DataType.Int32, value: 0 }, mv2.none(), await mv2.make('PartIdDataType', { id: 'MV-0002' }), mv2.none(), mv2.none(), mv2.none(), mv2.none(), mv2.none(), mv2.none(),
    { dataType: DataType.UInt32, value: 0 }, { dataType: DataType.UInt32, value: 0 }, { dataType: DataType.Int32, value: 0 },
  ]);
  t.deepEqual((list2.out[3] as ExtensionObject[]).map((x) => idOf(field(x, 'resultId'))), [idOf(second.fields.ResultId)]);
});

/** A daemon with `extra` config and our OPC UA users, and the operator connected; both closed at the test's end. */
async function daemonWithOperator(t: ExecutionContext, extra: Record<string, unknown>, opcua: Record<string, unknown> = {}): Promise<{ h: Harness; op: Plc }> {
  const clientPki = mkdtempSync(join(tmpdir(), 'mv-client-'));
  const h = await startHarness({ ...extra, opcua: { port: await freePort(), hostname: '127.0.0.1', users: USERS, ...opcua } });
  let op: Plc | null = null;
  t.teardown(async () => {
    await op?.close();
    await h.stop();
    rmSync(clientPki, { recursive: true, force: true });
  });
  op = await connectPlc(h, clientPki, { user: 'op', password: 'op-pw' });
  return { h, op };
}

test.serial('camera offline: the vision system shows Error, refuses jobs, and the NO_VERDICT is a ResultReady with ResultState 4 (Failed) and its reason', async (t) => {
  const peer = await startRtspServer({ width: 160, height: 120, fps: 15 });
  t.teardown(() => peer.kill());
  const { h, op } = await daemonWithOperator(t, {
    cameras: [{ station: 'ST1', source: { type: 'rtsp', id: 'rcam', url: peer.url, trigger: 'software', triggerTimeoutMs: 600, backoffInitialMs: 2000 } }],
  });
  const mv = await MvClient.on(op.session);
  const vs = (await mv.visionSystems())[0]!.nodeId;
  await waitFor(async () => (await mv.state(vs, 'VisionStateMachine')) === 'Operational', 30_000, 'Operational with the RTSP camera online');
  const events = await subscribeEvents(mv, vs);
  t.teardown(() => events.stop());

  await peer.kill();
  await waitFor(async () => (await mv.state(vs, 'VisionStateMachine')) === 'Error', 10_000, 'VisionStateMachine Error');
  t.is(await op.read('Status.StateNumber'), 3, 'the PLC view says Error (3)');
  t.is(await mv.state(vs, ...AUTO), '', 'the automatic mode machine has no state outside Operational');
  t.truthy(events.events.find((e) => e.type === 'StateChangedEventType' && (e.fields.ToState as { text: string }).text === 'Error'), 'StateChangedEvent Operational → Error');
  const refused = await mv.call(vs, AUTO, 'StartSingleJob', [mv.none(), await mv.make('PartIdDataType', { id: 'OFF-1' }), mv.none(), mv.none(), { dataType: DataType.Variant, value: [] }]);
  t.is(refused.statusCode, StatusCodes.BadInvalidState);

  // A trigger from elsewhere (HTTP) while the camera is gone: its frame's one outcome is NO_VERDICT{camera_error}.
  t.is((await h.api('POST', '/api/stations/ST1/trigger', { partId: 'OFF-2' })).status, 200);
  const ev = await waitFor(() => events.events.find((e) => e.type === 'ResultReadyEventType' && idOf(e.fields.PartId) === 'OFF-2'), 10_000, 'ResultReady for the NO_VERDICT');
  t.is(ev.fields.ResultState, 4, 'Failed: the camera could not deliver the part');
  t.like(content(ev.fields.ResultContent), { Outcome: 'NO_VERDICT', NoVerdictReason: 'camera_error' });
  const row = h.daemon.store.getResult(idOf(ev.fields.ResultId)!);
  t.like(row, { outcome: 'NO_VERDICT', reason: 'camera_error', partId: 'OFF-2' });
  const byId = await mv.call(vs, ['ResultManagement'], 'GetResultById', [await mv.make('ResultIdDataType', { id: row!.resultId }), { dataType: DataType.Int32, value: 0 }]);
  t.is(field(byId.out[1], 'resultState'), 4);
  const noVerdicts = await mv.call(vs, ['ResultManagement'], 'GetResultListFiltered', [
    { dataType: DataType.Int32, value: 4 }, mv.none(), mv.none(), mv.none(), mv.none(), mv.none(), mv.none(), mv.none(), mv.none(),
    { dataType: DataType.UInt32, value: 0 }, { dataType: DataType.UInt32, value: 0 }, { dataType: DataType.Int32, value: 0 },
  ]);
  t.deepEqual((noVerdicts.out[3] as unknown[]).map((x) => idOf(field(x, 'resultId'))), [row!.resultId], 'ResultState 4 lists the failed NO_VERDICT');
  const listed = async (state: number) => ((await mv.call(vs, ['ResultManagement'], 'GetResultListFiltered', [
    { dataType: DataType.Int32, value: state }, mv.none(), mv.none(), mv.none(), mv.none(), mv.none(), mv.none(), mv.none(), mv.none(),
    { dataType: DataType.UInt32, value: 0 }, { dataType: DataType.UInt32, value: 0 }, { dataType: DataType.Int32, value: 0 },
  ])).out[3] as unknown[]).map((x) => idOf(field(x, 'resultId')));
  t.false((await listed(1)).includes(row!.resultId), 'a NO_VERDICT is not Completed');
  t.deepEqual(await listed(2), [], 'nothing is listed while Processing');
  const negative = await mv.call(vs, ['ResultManagement'], 'GetResultListFiltered', [
    { dataType: DataType.Int32, value: -1 }, mv.none(), mv.none(), mv.none(), mv.none(), mv.none(), mv.none(), mv.none(), mv.none(),
    { dataType: DataType.UInt32, value: 0 }, { dataType: DataType.UInt32, value: 0 }, { dataType: DataType.Int32, value: 0 },
  ]);
  t.is(negative.statusCode, StatusCodes.BadInvalidArgument, 'no application-specific states are defined');
});

test.serial('opcua.machineVision: false: no nodeset, no vision system; the PLC namespace is there', async (t) => {
  const { op } = await daemonWithOperator(t, {}, { machineVision: false });
  const nsArray = await op.session.readNamespaceArray();
  t.false(nsArray.includes(MV_URI));
  t.is(op.ns, 2, 'without the nodeset our namespace keeps index 2');
  t.is(await op.read('Status.StateNumber'), 4, 'the PLC view works as before');
  const objects = await op.session.browse({ nodeId: 'i=85', browseDirection: BrowseDirection.Forward, referenceTypeId: 'HierarchicalReferences', includeSubtypes: true, nodeClassMask: NodeClassMask.Object, resultMask: 63 });
  t.false((objects.references ?? []).some((r) => r.browseName.name === 'ST1'), 'no vision system object under Objects');
});

test.serial('adapter: a failed recipe change (PLC view) leaves the 40100 view Initialized; PrepareRecipe restores Ready on both views; a free-run camera is always ContinuousExecution', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mv-adapter-'));
  const db = openDatabase(join(dir, 'agent.db'));
  const config = opcuaConfigSchema.parse({ port: 0, hostname: '127.0.0.1', dataDir: dir, stations: ['ST1', 'ST2'], users: USERS, triggerTimeoutMs: 600 });
  let st1: TestStation | null = null;
  let st2: TestStation | null = null;
  // The agent's side of the port as the TestStation knows it: its recipes (14 is listed but the station cannot prepare it).
  const port: MachineVisionPort = {
    recipes: () => [...st1!.recipes, [14, 'C-14'] as const].map(([recipeId, name]) => ({ recipeId, name, referenceVersion: 1, shots: 2 })),
    triggerMode: (id) => (id === 'ST2' ? 'free-run' : 'software'),
    result: () => undefined,
    results: () => [],
  };
  const sink = createOpcUaSink(config, { store: createSqliteStationStore(db), agentVersion: '0.1.0', machineVision: port });
  st1 = new TestStation('ST1', db, [sink]);
  st2 = new TestStation('ST2', db, [sink]);
  await sink.start({
    trigger: (id, p, seq) => (id === 'ST1' ? st1! : st2!).trigger(id, p, seq), selectRecipe: (id, r) => (id === 'ST1' ? st1! : st2!).selectRecipe(id, r),
    resetError: async () => 0, resetCounters: async () => 0,
  });
  st1.publishStatus();
  st2.publishStatus();
  const pki = join(dir, 'client-pki');
  const probe = makeClient({ pkiDir: pki });
  await probe.connect(sink.endpointUrl()).catch(() => {});
  await probe.disconnect();
  await trustRejected(sink.pkiDir);
  const op = await Plc.connect(sink.endpointUrl(), { pkiDir: pki, user: 'op', password: 'op-pw', station: 'ST1' });
  t.teardown(async () => {
    await op.close();
    await sink.stop();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const mv = await MvClient.on(op.session);
  t.deepEqual([mv.ns, op.ns], [2, 3], 'the nodeset loads first (ns=2), ours follows (ns=3); clients resolve both by URI');
  const systems = await mv.visionSystems();
  t.deepEqual(systems.map((s) => s.name).sort(), ['ST1', 'ST2']);
  const vs1 = systems.find((s) => s.name === 'ST1')!.nodeId;
  const vs2 = systems.find((s) => s.name === 'ST2')!.nodeId;
  t.is(await mv.state(vs1, ...AUTO), 'Ready');
  t.is(await mv.state(vs2, ...AUTO), 'ContinuousExecution', 'a free-run camera runs by itself');
  const start = async (vs: NodeId) => mv.call(vs, AUTO, 'StartSingleJob', [mv.none(), mv.none(), mv.none(), mv.none(), { dataType: DataType.Variant, value: [] }]);
  t.is((await start(vs2)).statusCode, StatusCodes.BadNotSupported);
  t.is((await mv.call(vs2, AUTO, 'Stop', [{ dataType: DataType.Int32, value: 0 }, { dataType: DataType.String, value: '' }])).statusCode, StatusCodes.BadNotSupported);

  // The PLC selects a recipe the station does not have: Recipe.Status -1, Ready 0 — and the 40100 view Initialized.
  const sel = await op.call('SelectRecipe', [{ dataType: DataType.Int32, value: 99 }]);
  t.deepEqual(sel.outputs, [-1]);
  t.is(await op.read('Status.Ready'), false);
  t.is(await mv.state(vs1, ...AUTO), 'Initialized');
  t.is((await start(vs1)).statusCode, StatusCodes.BadInvalidState, 'no job without a prepared recipe');

  // A recipe the port lists but the station cannot prepare: Good, IsCompleted false, Error = the recipe status.
  const fails = await mv.call(vs1, ['RecipeManagement'], 'PrepareRecipe', [await mv.make('RecipeIdExternalDataType', { id: '14' }), mv.none()]);
  t.true(fails.statusCode.isGood());
  t.deepEqual(fails.out.slice(1), [false, -1]);
  t.is(await mv.state(vs1, ...AUTO), 'Initialized');

  // InternalIdIn takes precedence over ExternalId: recipe 13 is prepared, both views show it.
  const ok = await mv.call(vs1, ['RecipeManagement'], 'PrepareRecipe', [await mv.make('RecipeIdExternalDataType', { id: '12' }), await mv.make('RecipeIdInternalDataType', { id: '13' })]);
  t.true(ok.statusCode.isGood(), ok.statusCode.toString());
  t.deepEqual([idOf(ok.out[0]), ok.out[1], ok.out[2]], ['13', true, 0]);
  t.like(await op.readMany(['Recipe.ActiveRecipeId', 'Recipe.Status', 'Status.Ready']), { 'Recipe.ActiveRecipeId': 13, 'Recipe.Status': 0, 'Status.Ready': true });
  t.is(await mv.state(vs1, ...AUTO), 'Ready');

  // A job; without a store the result is found in this process's results.
  const job = await start(vs1);
  t.true(job.statusCode.isGood());
  await waitFor(() => st1!.produced.length === 1, 5000, 'the result');
  await waitFor(async () => (await mv.state(vs1, ...AUTO)) === 'Ready', 5000, 'Ready again');
  const v = st1.produced[0]!;
  const byId = await mv.call(vs1, ['ResultManagement'], 'GetResultById', [await mv.make('ResultIdDataType', { id: v.resultId }), { dataType: DataType.Int32, value: 0 }]);
  t.true(byId.statusCode.isGood());
  t.is(idOf(field(byId.out[1], 'jobId')), idOf(job.out[0]));
  t.is(await op.read('Result.ResultId'), v.resultId, 'the PLC Result block shows the same result');
  const parts = await mv.call(vs1, ['ResultManagement'], 'GetResultComponentsById', [await mv.make('ResultIdDataType', { id: v.resultId }), { dataType: DataType.Int32, value: 0 }]);
  t.true(parts.statusCode.isGood(), parts.statusCode.toString());
  t.is(parts.out.length, 17);
  t.like({ resultState: parts.out[4], partId: idOf(parts.out[6]), recipe: idOf(parts.out[8]), jobId: idOf(parts.out[12]), error: parts.out[16] },
    { resultState: v.outcome === 'NO_VERDICT' ? 4 : 1, partId: undefined, recipe: '13', jobId: idOf(job.out[0]), error: 0 });
  t.like(content(parts.out[15]), { ResultSeq: v.resultSeq, Outcome: v.outcome });
  t.is(await op.read('Result.TriggerSeq'), Number(idOf(job.out[0])!.split('-T')[1]), 'the job id names its TriggerSeq');

  // The plc role writes the handshake but calls no methods, here neither.
  const plcUser = await Plc.connect(sink.endpointUrl(), { pkiDir: pki, user: 'plc', password: 'plc-pw', station: 'ST1' });
  const asPlc = await MvClient.on(plcUser.session);
  t.is((await asPlc.call(vs1, AUTO, 'StartSingleJob', [asPlc.none(), asPlc.none(), asPlc.none(), asPlc.none(), { dataType: DataType.Variant, value: [] }])).statusCode, StatusCodes.BadUserAccessDenied);
  t.is(await asPlc.state(vs1, ...AUTO), 'Ready', 'but reads the state');
  await plcUser.close();

  // No result in time (rule 4): the job still ends with one outcome, a NO_VERDICT{timeout} ResultReady, then Ready.
  const events = await subscribeEvents(mv, vs1);
  t.teardown(() => events.stop());
  st1.hang = true;
  const late = await start(vs1);
  t.true(late.statusCode.isGood());
  t.is(await mv.state(vs1, ...AUTO), 'SingleExecution');
  const lateId = idOf(late.out[0]);
  const ev = await waitFor(() => events.events.find((e) => e.type === 'ResultReadyEventType' && idOf(e.fields.JobId) === lateId), 5000, 'the timeout result');
  t.is(ev.fields.ResultState, 4, 'Failed: no result in time');
  t.like(content(ev.fields.ResultContent), { Outcome: 'NO_VERDICT', NoVerdictReason: 'timeout' });
  await waitFor(() => events.events.find((e) => e.type === 'ReadyEventType' && idOf(e.fields.JobId) === lateId), 5000, 'Ready after the timeout');
  t.is(await mv.state(vs1, ...AUTO), 'Ready');
  const changes = events.events.filter((e) => e.type === 'StateChangedEventType').map((e) => `${(e.fields.FromState as { text: string }).text}→${(e.fields.ToState as { text: string }).text}`);
  t.deepEqual(changes, ['Ready→SingleExecution', 'SingleExecution→Ready'], 'a StateChangedEvent per transition');
});

test('ResultState is how processing ended (40100-1 §12.19), never the verdict: PASS and FAIL Completed, skipped or cut short Aborted, not judgeable Failed', (t) => {
  t.is(resultStateOf('PASS', undefined), 1);
  t.is(resultStateOf('FAIL', undefined), 1);
  const byReason = Object.fromEntries(NO_VERDICT_REASONS.map((r) => [r, resultStateOf('NO_VERDICT', r)]));
  t.deepEqual(byReason, { dropped: 3, interrupted: 3, timeout: 4, no_reference: 4, camera_error: 4, model_error: 4 });
});
