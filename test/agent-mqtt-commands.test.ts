// The MQTT command channel against a real mosquitto and the real daemon: P/<station>/cmd/<name>, MQTT v5
// request/response, error replies for bad input (nothing changed), retained commands never run.
import test from 'ava';
import mqtt, { type IPublishPacket, type MqttClient } from 'mqtt';
import { randomBytes } from 'node:crypto';
import { startHarness, waitFor, type Harness } from './helpers/harness.ts';
import type { MqttSink } from '../adapters/mqtt/sink.ts';
import { type Broker, startMosquitto } from './helpers/mosquitto.ts';

const P = 'adaptclip/v1/site/line/test';
type Msg = { topic: string; json: Record<string, any>; packet: IPublishPacket };

interface Ctx { broker: Broker; h: Harness; op: MqttClient; got: Msg[] }
const ctx = {} as Ctx;

test.before(async () => {
  ctx.broker = await startMosquitto();
  // A stale retained trigger waits on the broker before the agent ever connects: it must never fire.
  const early = await mqtt.connectAsync(ctx.broker.url, { protocolVersion: 5, reconnectPeriod: 0 });
  await early.publishAsync(`${P}/ST1/cmd/trigger`, JSON.stringify({ partId: 'STALE-0' }), { qos: 1, retain: true });
  await early.endAsync();
  ctx.h = await startHarness({
    cameras: [{ station: 'ST1', source: { type: 'synthetic', id: 'cam1', trigger: 'software', width: 160, height: 120, seed: 5 } }],
    mqtt: { url: ctx.broker.url, keepaliveS: 2, reconnectPeriodMs: 200 },
  });
  await ctx.h.daemon.sinksStarted;
  // The operator: a plain MQTT v5 client that watches everything under P.
  ctx.op = await mqtt.connectAsync(ctx.broker.url, { protocolVersion: 5, reconnectPeriod: 200 });
  ctx.got = [];
  ctx.op.on('message', (topic, payload, packet) => {
    let json: Record<string, any> = {};
    try { json = JSON.parse(payload.toString()); } catch { /* masks are PNG */ }
    ctx.got.push({ topic, json, packet });
  });
  await ctx.op.subscribeAsync([`${P}/#`, 'op/replies/#'], { qos: 1 });
  await waitFor(() => mqttSink().connected(), 10_000, 'the agent connected to the broker');
});

test.after.always(async () => {
  await ctx.op?.endAsync(true);
  await ctx.h?.stop();
  await ctx.broker?.stop();
});

const mqttSink = () => ctx.h.daemon.sinks.find((s) => s.name === 'mqtt') as MqttSink;
const rows = (partId: string) => ctx.h.daemon.store.queryResults({ stationId: 'ST1', limit: 1000 }).filter((r) => r.partId === partId);

/** One command; with `respond`, MQTT v5 responseTopic + correlationData, else the default reply topic. */
async function command(station: string, name: string, payload: string | object, respond = true, retain = false): Promise<Msg> {
  const body = typeof payload === 'string' ? payload : JSON.stringify(payload);
  const correlation = randomBytes(8);
  const responseTopic = `op/replies/${correlation.toString('hex')}`;
  const properties = respond ? { responseTopic, correlationData: correlation } : {};
  const seen = ctx.got.length;
  await ctx.op.publishAsync(`${P}/${station}/cmd/${name}`, body, { qos: 1, retain, properties });
  const replyTopic = respond ? responseTopic : `${P}/${station}/cmd/${name}/reply`;
  const reply = await waitFor(() => ctx.got.find((m, i) => i >= seen && m.topic === replyTopic), 5000, `a reply on ${replyTopic}`);
  ctx.got.splice(ctx.got.indexOf(reply), 1);
  if (respond) if (!Buffer.from(reply.packet.properties?.correlationData ?? []).equals(correlation)) throw new Error('correlationData not echoed');
  return reply;
}

test.serial('trigger over MQTT: a reply with the correlation data, then exactly one verdict with that partId (store and verdict topic)', async (t) => {
  t.is(rows('STALE-0').length, 0, 'the retained trigger from before the start did not fire');
  const r = await command('ST1', 'trigger', { partId: 'MQTT-1' });
  t.like(r.json, { schema: 'adaptclip.reply/1', command: 'trigger', stationId: 'ST1', error: 0, partId: 'MQTT-1' });
  t.is(r.packet.properties?.contentType, 'application/json');
  const verdict = await waitFor(() => ctx.got.find((m) => m.topic === `${P}/ST1/verdict` && m.json.partId === 'MQTT-1'), 10_000, 'the verdict');
  await new Promise((res) => setTimeout(res, 800)); // room for a duplicate to show up
  t.is(ctx.got.filter((m) => m.topic === `${P}/ST1/verdict` && m.json.partId === 'MQTT-1').length, 1, 'one verdict on MQTT');
  const stored = rows('MQTT-1');
  t.is(stored.length, 1, 'one stored result');
  t.is(stored[0]!.resultId, verdict.json.resultId);
  // Not a PLC trigger: triggerSeq 0 on the verdict topic and in the store, so no PLC can take it for its own.
  t.is(verdict.json.triggerSeq, 0);
  t.is(stored[0]!.triggerSeq, 0);
  t.true(['PASS', 'FAIL'].includes(stored[0]!.outcome));
});

test.serial('selectRecipe over MQTT switches the station (status topic) and an unknown recipe changes nothing', async (t) => {
  const p = (await ctx.h.api<{ id: number }>('POST', '/api/products', { name: 'A-12', recipeId: 12 })).body;
  const r = await command('ST1', 'selectRecipe', { recipeId: 12 }, false); // no responseTopic: the default reply topic
  t.like(r.json, { command: 'selectRecipe', error: 0, recipeId: 12 });
  t.is(ctx.h.daemon.changeover.current('ST1').productId, p.id);
  const status = await waitFor(() => ctx.got.find((m) => m.topic === `${P}/ST1/status` && m.json.recipeId === 12), 5000, 'status with recipe 12');
  t.like(status.json, { recipeName: 'A-12' });
  const bad = await command('ST1', 'selectRecipe', { recipeId: 999 });
  t.like(bad.json, { error: -1, recipeId: 999 });
  t.regex(bad.json.text, /unknown recipe 999/);
  t.is(ctx.h.daemon.changeover.current('ST1').productId, p.id, 'still on A-12');
  t.like((await command('ST1', 'resetError', {})).json, { error: 0 });
  t.like((await command('ST1', 'resetCounters', '')).json, { error: 0 }, 'an empty payload is an empty object');
});

test.serial('bad commands get error replies naming the problem; nothing runs, the agent keeps going', async (t) => {
  const before = ctx.h.daemon.store.queryResults({ stationId: 'ST1', limit: 1000 }).length;
  const product = ctx.h.daemon.changeover.current('ST1').productId;
  const cases: [string, string, string | object, number, RegExp][] = [
    ['ST1', 'trigger', '{"partId": ', -10, /not valid JSON/],
    ['ST1', 'trigger', { partId: 5 }, -10, /partId/],
    ['ST1', 'trigger', { partId: 'x'.repeat(65) }, -10, /partId must be at most 64/],
    ['ST1', 'trigger', { partId: 'A', extra: 1 }, -10, /unknown field\(s\) extra/],
    ['ST1', 'trigger', '[1,2]', -10, /expected object/],
    ['ST1', 'selectRecipe', { recipeId: '12' }, -10, /recipeId/],
    ['ST1', 'selectRecipe', { recipeId: 1.5 }, -10, /recipeId/],
    ['ST1', 'selectRecipe', {}, -10, /recipeId/],
    ['ST1', 'explode', {}, -11, /unknown command "explode"; use one of trigger, selectRecipe, resetError, resetCounters/],
    ['ST9', 'trigger', { partId: 'X' }, -12, /unknown station "ST9"; this agent runs ST1/],
  ];
  for (const [station, name, body, code, text] of cases) {
    const r = await command(station, name, body);
    t.is(r.json.error, code, `${name} ${JSON.stringify(body)}`);
    t.regex(r.json.text, text);
    t.is(r.json.schema, 'adaptclip.reply/1');
  }
  await new Promise((res) => setTimeout(res, 500));
  t.is(ctx.h.daemon.store.queryResults({ stationId: 'ST1', limit: 1000 }).length, before, 'no result from a bad command');
  t.is(ctx.h.daemon.changeover.current('ST1').productId, product, 'recipe unchanged');
  t.like((await command('ST1', 'trigger', { partId: 'AFTER-BAD' })).json, { error: 0 }, 'still answering');
  await waitFor(() => rows('AFTER-BAD').length === 1, 10_000, 'the good trigger after the bad ones');
});

test.serial('a retained trigger is refused live and never fires after a reconnect', async (t) => {
  const r = await command('ST1', 'trigger', { partId: 'STALE-1' }, true, true);
  t.is(r.json.error, -13);
  t.regex(r.json.text, /retained command ignored/);
  // It is on the broker: a new subscriber gets it.
  const probe = await mqtt.connectAsync(ctx.broker.url, { protocolVersion: 5, reconnectPeriod: 0 });
  const retained: string[] = [];
  probe.on('message', (_topic, payload, packet) => { if (packet.retain) retained.push(payload.toString()); });
  await probe.subscribeAsync(`${P}/ST1/cmd/trigger`, { qos: 1 });
  await waitFor(() => retained.length > 0, 3000, 'the retained command on the broker');
  await probe.endAsync();
  t.regex(retained[0]!, /STALE-1/);
  // Broker restart (persistence keeps the retained message): the agent reconnects and resubscribes.
  const connects = mqttSink().stats().connects;
  const handled = mqttSink().commandsHandled();
  await ctx.broker.stop({ holdPort: true });
  await ctx.broker.start();
  await waitFor(() => mqttSink().stats().connects > connects && mqttSink().connected(), 10_000, 'the agent reconnected');
  await waitFor(() => ctx.op.connected, 10_000, 'the operator reconnected');
  await ctx.op.subscribeAsync([`${P}/#`, 'op/replies/#'], { qos: 1 });
  await new Promise((res) => setTimeout(res, 1000));
  t.is(mqttSink().commandsHandled(), handled, 'no command was delivered to the agent at its resubscribe');
  t.is(rows('STALE-1').length, 0);
  t.is(rows('STALE-0').length, 0);
  // Still working after the reconnect.
  t.like((await command('ST1', 'trigger', { partId: 'AFTER-RECONNECT' })).json, { error: 0 });
  await waitFor(() => rows('AFTER-RECONNECT').length === 1, 10_000, 'the trigger after the reconnect');
});
