// Alarms between the two northbound sides of the real daemon: OPC UA's own alarms (ResultBufferFull, PlcHeartbeatLost)
// reach MQTT `P/<station>/alarm`; losing the MQTT broker raises OPC UA `BrokerOffline` and a /healthz reason, and
// clears both on reconnect. An MQTT resetCounters zeroes the OPC UA counters.
import test from 'ava';
import mqtt from 'mqtt';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataType } from 'node-opcua';
import { startHarness, waitFor } from './helpers/harness.ts';
import { connectPlc } from './helpers/plc.ts';
import { freePort, startMosquitto } from './helpers/mosquitto.ts';

const P = 'adaptclip/v1/s/l/al';
type AlarmMsg = { alarm: string; active: boolean; severity: number; text: string };
interface Health { ok: boolean; components: Record<string, { ok: boolean; reason: string }> }

test('OPC UA alarms go out on MQTT; broker loss raises OPC UA BrokerOffline and a /healthz reason, cleared on reconnect', async (t) => {
  const broker = await startMosquitto();
  t.teardown(() => broker.stop());
  const clientPki = mkdtempSync(join(tmpdir(), 'agent-alarms-client-'));
  t.teardown(() => rmSync(clientPki, { recursive: true, force: true }));
  const h = await startHarness({
    agent: { id: 'al', site: 's', line: 'l', logLevel: 'silent' },
    cameras: [{ station: 'ST1', source: { type: 'synthetic', id: 'cam1', trigger: 'software', width: 160, height: 120, seed: 6 } }],
    opcua: { port: await freePort(), hostname: '127.0.0.1', users: [{ username: 'plc', password: 'plc-pw', role: 'plc' }], resultBufferSize: 1, plcHeartbeatTimeoutMs: 500 },
    mqtt: { url: broker.url, keepaliveS: 2, reconnectPeriodMs: 200 },
  });
  t.teardown(() => h.stop());
  // A durable subscriber: alarms queued while the broker is down still reach it afterwards.
  const sub = await mqtt.connectAsync(broker.url, { protocolVersion: 5, clientId: `al-sub-${process.pid}`, clean: false, reconnectPeriod: 200, properties: { sessionExpiryInterval: 600 } });
  t.teardown(() => sub.endAsync(true));
  const alarms: AlarmMsg[] = [];
  sub.on('message', (_t, p) => alarms.push(JSON.parse(p.toString()) as AlarmMsg));
  await sub.subscribeAsync(`${P}/ST1/alarm`, { qos: 1 });
  const seen = (alarm: string, active: boolean) => alarms.find((a) => a.alarm === alarm && a.active === active);

  const plc = await connectPlc(h, clientPki, { user: 'plc', password: 'plc-pw' });
  t.teardown(() => plc.close());
  t.false(await plc.read('Alarms.BrokerOfflineActive'), 'broker reachable at the start');

  // OPC UA → MQTT: one un-acknowledged result fills a buffer of 1; the PLC's acknowledgement clears it.
  t.is((await h.api('POST', '/api/stations/ST1/trigger', { partId: 'FILL' })).status, 200);
  const seq = await plc.until('Result.ResultSeq', (v) => (v as number) > 0, 10_000);
  await plc.until('Alarms.ResultBufferFullActive', (v) => v === true, 5000);
  const full = await waitFor(() => seen('ResultBufferFull', true), 5000, 'ResultBufferFull active on MQTT');
  t.is(full.severity, 600);
  t.regex(full.text, /ResultAckSeq/);
  await plc.write('Control.ResultAckSeq', DataType.UInt32, seq);
  await waitFor(() => seen('ResultBufferFull', false), 5000, 'ResultBufferFull cleared on MQTT');
  // PlcHeartbeatLost: the PLC writes its heartbeat once, then stops.
  await plc.write('Control.PlcHeartbeat', DataType.UInt32, 1);
  await waitFor(() => seen('PlcHeartbeatLost', true), 5000, 'PlcHeartbeatLost active on MQTT');
  await plc.write('Control.PlcHeartbeat', DataType.UInt32, 2);
  await waitFor(() => seen('PlcHeartbeatLost', false), 5000, 'PlcHeartbeatLost cleared on MQTT');
  t.is(alarms.filter((a) => a.alarm === 'CameraDisconnected').length, 0, 'no alarm echoed back from OPC UA');
  // An MQTT resetCounters reaches the OPC UA Counters (they live in the adapter).
  t.is(await plc.read('Counters.Total'), 1);
  await sub.publishAsync(`${P}/ST1/cmd/resetCounters`, '{}', { qos: 1 });
  await plc.until('Counters.Total', (v) => v === 0, 5000);

  // MQTT → OPC UA and /healthz: the broker goes away, then comes back.
  await broker.stop({ holdPort: true });
  await plc.until('Alarms.BrokerOfflineActive', (v) => v === true, 5000);
  const down = await waitFor(async () => {
    const r = await fetch(`${h.url}/healthz`);
    const body = (await r.json()) as Health;
    return r.status === 503 && !body.components.broker?.ok && body;
  }, 5000, '/healthz naming the broker');
  t.regex(down.components.broker!.reason, new RegExp(`MQTT broker ${broker.url.replace(/[.]/g, '\\.')} unreachable since \\d{4}-`));
  t.regex(down.components.broker!.reason, /broker offline/);
  await broker.start();
  await plc.until('Alarms.BrokerOfflineActive', (v) => v === false, 10_000);
  await waitFor(async () => ((await (await fetch(`${h.url}/healthz`)).json()) as Health).components.broker?.ok, 5000, 'broker healthy again');
  // The outage itself is on the MQTT alarm topic too (queued in the outbox while the broker was away).
  const offline = await waitFor(() => seen('BrokerOffline', true), 10_000, 'BrokerOffline active on MQTT after the reconnect');
  t.is(offline.severity, 200);
  await waitFor(() => seen('BrokerOffline', false), 5000, 'BrokerOffline cleared on MQTT');
});
