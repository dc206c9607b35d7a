// A graceful stop is not an alarm: SIGTERM's path (daemon.stop) takes the inference worker and the cameras down on
// purpose and must not raise ModelNotLoaded (severity 800) or any other alarm, seen by a real MQTT subscriber and a
// real OPC UA client. A real model failure still raises ModelNotLoaded on both sides.
import test from 'ava';
import mqtt from 'mqtt';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AttributeIds, ClientMonitoredItem, ClientSubscription, type DataValue, TimestampsToReturn } from 'node-opcua';
import type { AgentConfig } from '../agent/config/schema.ts';
import { startHarness, waitFor, type Harness } from './helpers/harness.ts';
import { realParts } from '../agent/parts.ts';
import { connectPlc } from './helpers/plc.ts';
import { freePort, startMosquitto } from './helpers/mosquitto.ts';
import type { Plc } from './helpers/plc-client.ts';

type AlarmMsg = { alarm: string; active: boolean; severity: number; text: string };
const ALARMS = ['ModelNotLoaded', 'CameraDisconnected', 'GpuError'];

/** Every alarm message on MQTT `<prefix>/ST1/alarm` and every value of the OPC UA `Alarms.<name>Active` inputs. */
async function watch(t: { teardown(fn: () => unknown): void }, h: Harness, brokerUrl: string, prefix: string, clientPki: string) {
  const sub = await mqtt.connectAsync(brokerUrl, { protocolVersion: 5, clientId: `stop-sub-${process.pid}-${Date.now()}`, reconnectPeriod: 200 });
  t.teardown(() => sub.endAsync(true));
  const mqttAlarms: AlarmMsg[] = [];
  sub.on('message', (_t, p) => mqttAlarms.push(JSON.parse(p.toString()) as AlarmMsg));
  await sub.subscribeAsync(`${prefix}/ST1/alarm`, { qos: 1 });
  const plc: Plc = await connectPlc(h, clientPki, { user: 'plc', password: 'plc-pw' });
  t.teardown(() => plc.close().catch(() => {}));
  const opcua: { alarm: string; active: boolean }[] = [];
  const subscription = ClientSubscription.create(plc.session, { requestedPublishingInterval: 20, publishingEnabled: true, requestedMaxKeepAliveCount: 50, requestedLifetimeCount: 500 });
  for (const name of ALARMS) {
    const item = ClientMonitoredItem.create(subscription, { nodeId: plc.id(`Alarms.${name}Active`), attributeId: AttributeIds.Value }, { samplingInterval: 0, queueSize: 100, discardOldest: false }, TimestampsToReturn.Both);
    item.on('changed', (dv: DataValue) => opcua.push({ alarm: name, active: dv.value.value === true }));
  }
  await waitFor(() => opcua.length >= ALARMS.length, 5000, 'the initial values of the OPC UA alarm inputs');
  return { mqttAlarms, opcua, plc };
}

test.serial('a graceful stop raises no ModelNotLoaded (nor any other alarm) on MQTT or OPC UA', async (t) => {
  const broker = await startMosquitto();
  t.teardown(() => broker.stop());
  const clientPki = mkdtempSync(join(tmpdir(), 'stop-alarms-client-'));
  t.teardown(() => rmSync(clientPki, { recursive: true, force: true }));
  const h = await startHarness({
    agent: { id: 'sa', site: 's', line: 'l', logLevel: 'silent' },
    // ackMode None: the free-running camera's results do not fill a buffer nobody acknowledges (ResultBufferFull).
    opcua: { port: await freePort(), hostname: '127.0.0.1', users: [{ username: 'plc', password: 'plc-pw', role: 'plc' }], ackMode: 'None' },
    mqtt: { url: broker.url, keepaliveS: 2, reconnectPeriodMs: 200 },
  });
  t.teardown(() => h.stop());
  const w = await watch(t, h, broker.url, 'adaptclip/v1/s/l/sa', clientPki);
  // Running normally: frames get verdicts, no alarm is active.
  await waitFor(() => Object.values(h.daemon.counters().ST1?.outcomes ?? {}).some((n) => n > 0), 15_000, 'a first outcome');
  t.is(h.daemon.worker?.state, 'ready');
  t.deepEqual(w.opcua.filter((v) => v.active), [], 'no alarm while running');
  t.deepEqual(w.mqttAlarms.filter((a) => a.active), [], 'no alarm on MQTT while running');
  // A marker after the stop: everything the stop queued on MQTT was delivered before it (one subscriber, QoS 1, in order).
  await h.stop();
  t.is(h.daemon.worker?.state, 'stopped', 'the stop did take the worker down');
  const marker = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
  await marker.publishAsync('adaptclip/v1/s/l/sa/ST1/alarm', JSON.stringify({ alarm: 'marker', active: false, severity: 0, text: '' }), { qos: 1 });
  await marker.endAsync();
  await waitFor(() => w.mqttAlarms.some((a) => a.alarm === 'marker'), 5000, 'the marker message');
  t.deepEqual(w.mqttAlarms.filter((a) => a.active), [], 'no alarm raised on MQTT by the stop');
  t.deepEqual(w.opcua.filter((v) => v.active), [], 'no alarm raised on OPC UA by the stop');
});

test.serial('a real model failure still raises ModelNotLoaded (severity 800) on MQTT and OPC UA', async (t) => {
  const broker = await startMosquitto();
  t.teardown(() => broker.stop());
  const clientPki = mkdtempSync(join(tmpdir(), 'stop-alarms-client-'));
  t.teardown(() => rmSync(clientPki, { recursive: true, force: true }));
  // The first session works; the first inference call fails (injected) and every session made after it fails too.
  let sessions = 0;
  const real = realParts().detectorFactory;
  const detectorFactory = (cfg: AgentConfig) => {
    const make = real(cfg);
    return async () => {
      if (sessions++ > 0) throw new Error('device lost (test)');
      return make();
    };
  };
  const h = await startHarness({
    agent: { id: 'sf', site: 's', line: 'l', logLevel: 'silent' },
    opcua: { port: await freePort(), hostname: '127.0.0.1', users: [{ username: 'plc', password: 'plc-pw', role: 'plc' }] },
    mqtt: { url: broker.url, keepaliveS: 2, reconnectPeriodMs: 200 },
    faults: { failAfterCalls: 0, failCalls: 1_000_000 },
  }, { parts: { detectorFactory } });
  t.teardown(() => h.stop());
  const w = await watch(t, h, broker.url, 'adaptclip/v1/s/l/sf', clientPki);
  const raised = await waitFor(() => w.mqttAlarms.find((a) => a.alarm === 'ModelNotLoaded' && a.active), 15_000, 'ModelNotLoaded on MQTT');
  t.is(raised.severity, 800);
  t.regex(raised.text, /device lost \(test\)/);
  await waitFor(() => w.opcua.some((v) => v.alarm === 'ModelNotLoaded' && v.active), 5000, 'ModelNotLoaded on OPC UA');
  t.is(await w.plc.read('Alarms.ModelNotLoadedActive'), true);
});
