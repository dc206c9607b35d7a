// /healthz reflects the pipeline: a dead camera makes it 503 with that camera's reason, while the healthy camera keeps
// producing verdicts; the alarm reaches MQTT.
import test from 'ava';
import mqtt from 'mqtt';
import { join } from 'node:path';
import { startHarness, waitFor } from './helpers/harness.ts';
import { freePort, startMosquitto } from './helpers/mosquitto.ts';

interface Health { ok: boolean; components: Record<string, { ok: boolean; reason: string }> }

test('a camera that cannot connect: /healthz 503 naming it, CameraDisconnected on MQTT, the other camera unaffected', async (t) => {
  const broker = await startMosquitto();
  t.teardown(() => broker.stop());
  const deadPort = await freePort(); // nothing listens there
  const h = await startHarness({
    agent: { id: 'hl', site: 's', line: 'l', logLevel: 'silent' },
    cameras: [
      { station: 'ST1', source: { type: 'synthetic', id: 'cam1', fps: 4, width: 160, height: 120 } },
      { station: 'ST2', source: { type: 'rtsp', id: 'dead-cam', url: `rtsp://127.0.0.1:${deadPort}/x`, firstFrameTimeoutMs: 1000, stallMs: 1000, backoffInitialMs: 500 } },
    ],
    mqtt: { url: broker.url },
  });
  t.teardown(() => h.stop());
  const sub = await mqtt.connectAsync(broker.url, { clientId: `hl-sub-${process.pid}` });
  t.teardown(() => sub.endAsync());
  const alarms: { alarm: string; active: boolean; text: string }[] = [];
  sub.on('message', (_t, p) => alarms.push(JSON.parse(p.toString()) as { alarm: string; active: boolean; text: string }));
  await sub.subscribeAsync('adaptclip/v1/s/l/hl/+/alarm', { qos: 1 });

  const res = await waitFor(async () => {
    const r = await fetch(`${h.url}/healthz`);
    const body = (await r.json()) as Health;
    return r.status === 503 && body.components['camera:dead-cam']?.ok === false && body.components['camera:cam1']?.ok && body;
  }, 15_000, '503 with the dead camera named');
  t.regex(res.components['camera:dead-cam']!.reason, /camera dead-cam is (offline|starting)/);
  t.true(res.components.inference!.ok);
  t.false(res.ok);
  await waitFor(() => alarms.find((a) => a.alarm === 'CameraDisconnected' && a.active), 15_000, 'CameraDisconnected on MQTT');
  const metrics = await (await fetch(`${h.url}/metrics`)).text();
  t.true(metrics.includes('adaptclip_camera_online{camera="dead-cam"} 0'));
  t.true(metrics.includes('adaptclip_camera_online{camera="cam1"} 1'));
  t.regex(metrics, /adaptclip_camera_reconnects_last_hour\{camera="dead-cam"\} \d+/);
  const before = h.daemon.counters().ST1!.captured;
  await waitFor(() => h.daemon.counters().ST1!.captured >= before + 4, 10_000, 'cam1 keeps running');
  t.pass();
});

test('device cuda without a usable GPU runs on the CPU and health says DEGRADED', async (t) => {
  const h = await startHarness({ model: { device: 'cuda' } });
  t.teardown(() => h.stop());
  const inf = h.daemon.health().components.inference!;
  if (inf.provider === 'cuda') {
    t.false(inf.degraded as boolean, 'a machine with CUDA runs on it, not degraded');
    return;
  }
  t.true(inf.ok);
  t.true(inf.degraded as boolean);
  t.regex(inf.reason, /^DEGRADED: ready on cpu, cuda was requested/);
});

test('device tensorrt without a usable GPU falls back through cuda to the CPU; health says which was asked; the engine cache is under the data folder', async (t) => {
  const h = await startHarness({ model: { device: 'tensorrt', tensorrt: { workspaceMb: 512 } } });
  t.teardown(() => h.stop());
  const inf = h.daemon.health().components.inference!;
  if (inf.provider === 'tensorrt') {
    t.false(inf.degraded as boolean);
    return;
  }
  t.true(inf.ok);
  t.true(inf.degraded as boolean);
  t.regex(inf.reason, new RegExp(`^DEGRADED: ready on ${inf.provider}, tensorrt was requested`));
  // The TensorRT settings reach ORT as its environment variables before the sessions open.
  t.is(process.env.ORT_TENSORRT_CACHE_PATH, join(h.dataDir, 'tensorrt-cache'));
  t.is(process.env.ORT_TENSORRT_FP16_ENABLE, '1');
  t.is(process.env.ORT_TENSORRT_MAX_WORKSPACE_SIZE, String(512 * 1024 * 1024));
});
