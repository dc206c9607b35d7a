// Session warm-up and Health's DEGRADED window, on the real runtime (committed demo pack), real synthetic cameras,
// real SQLite. The cold-session fault (faults.coldMs) makes each new session's first call per graph and batch size
// slower than inferTimeoutMs, as a loaded line PC's first ONNX calls are.
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { startHarness, waitFor, type Harness } from './helpers/harness.ts';

const verdicts = (h: Harness, station: string) => {
  const o = h.daemon.counters()[station]!.outcomes;
  return (o.PASS ?? 0) + (o.FAIL ?? 0);
};

const cameras = [
  { station: 'ST1', queue: { size: 100 }, source: { type: 'synthetic', id: 'cam1', fps: 4, width: 160, height: 120, seed: 21 } },
  { station: 'ST2', queue: { size: 100 }, source: { type: 'synthetic', id: 'cam2', fps: 4, width: 160, height: 120, seed: 22 } },
];

test('a cold session is warmed up before frames are admitted: zero timeouts, zero restarts, zero- and few-shot; again after a recreate', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'warmup-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  // ST1 judges few-shot from its first frame: a product with two shots is active in the store before the start.
  const setup = await startHarness({ cameras: [cameras[0]] }, { dataDir });
  const product = await setup.api<{ id: number }>('POST', '/api/products', { name: 'warm' });
  for (const seed of [1, 2]) {
    const png = await sharp({ create: { width: 160, height: 120, channels: 3, background: { r: 100 + seed, g: 110, b: 120 } } }).png().toBuffer();
    t.is((await setup.api('POST', `/api/products/${product.body.id}/shots`, png)).status, 201);
  }
  t.is((await setup.api('POST', '/api/stations/ST1/activate', { productId: product.body.id })).status, 200);
  await setup.stop();

  const t0 = Date.now();
  // Cold calls take 2.4 s, the hang timeout is 2 s (wide enough that a busy CI box's ordinary call never reaches it);
  // the 8th counted inference call hangs once (a real hang).
  const h = await startHarness({ model: { maxBatch: 2, batchTimeoutMs: 20, inferTimeoutMs: 2000 }, cameras, faults: { coldMs: 2400, hangAfterCalls: 8, hangCalls: 1, hangMs: 5000 } }, { dataDir });
  t.teardown(() => h.stop());
  t.is(h.daemon.worker!.state, 'ready');
  await waitFor(() => verdicts(h, 'ST1') >= 3 && verdicts(h, 'ST2') >= 3, 20_000, 'verdicts on both stations');
  const before = h.daemon.counters();
  t.is(h.daemon.worker!.restarts, 0, 'no session was recreated at start-up');
  for (const c of Object.values(before)) t.is(c.outcomes['NO_VERDICT:timeout'], undefined, JSON.stringify(c.outcomes));
  const modes = h.daemon.store.db.prepare("SELECT station_id AS s, mode FROM results WHERE outcome != 'NO_VERDICT' AND captured_at >= ? GROUP BY station_id, mode").all(t0) as { s: string; mode: string }[];
  t.deepEqual(modes.map((m) => `${m.s}:${m.mode}`).sort(), ['ST1:few-shot', 'ST2:zero-shot']);
  t.true(h.daemon.worker!.lastWarmupMs >= 4 * 2400, `warm-up ran the 4 cold graph × batch size calls (${h.daemon.worker!.lastWarmupMs} ms)`);

  // The injected hang: one timeout, one recreate, and the fresh (cold) session is warmed up again, not timed out.
  await waitFor(() => h.daemon.worker!.restarts === 1, 30_000, 'the session recreated after the hang');
  const at = { st1: verdicts(h, 'ST1'), st2: verdicts(h, 'ST2') };
  await waitFor(() => verdicts(h, 'ST1') >= at.st1 + 4 && verdicts(h, 'ST2') >= at.st2 + 4, 40_000, 'verdicts after the recreate');
  t.is(h.daemon.worker!.restarts, 1, 'one hang, one restart: the recreated session did not time out');
  const recent = h.daemon.worker!.recent();
  t.is(recent.timeouts, 1);
  // Cameras stop; every frame still queued is judged (none is left to the shutdown's NO_VERDICT{dropped}).
  for (const st of h.daemon.stations.values()) await st.stopIntake();
  const after = await waitFor(() => {
    const c = h.daemon.counters();
    return Object.values(c).every((x) => x.pending === 0) && c;
  }, 20_000, 'every queued frame judged');
  const timedOut = Object.values(after).reduce((n, c) => n + (c.outcomes['NO_VERDICT:timeout'] ?? 0), 0);
  t.is(timedOut, recent.timeoutFrames, 'only the hung call\'s frames became NO_VERDICT{timeout}');
  t.true(timedOut >= 1 && timedOut <= 2);
  for (const [station, c] of Object.entries(after)) {
    // Frames that came during the recreate and its warm-up waited in the queue and were judged once ready.
    t.is(c.outcomes['NO_VERDICT:dropped'], undefined, `${station}: ${JSON.stringify(c.outcomes)}`);
    t.is(c.captured, Object.values(c.outcomes).reduce((a, b) => a + b, 0), `${station}: one outcome per frame`);
  }
});

test('inference is DEGRADED with counts while hangs and restarts are in model.degradedWindowS, and ok again after it', async (t) => {
  const h = await startHarness({
    // A 2.5 s hang timeout: only the injected 5 s hangs reach it, not an ordinary call on a busy box.
    model: { maxBatch: 1, inferTimeoutMs: 2500, degradedWindowS: 20 },
    faults: { hangAfterCalls: 3, hangCalls: 2, hangMs: 5000 },
    cameras: [{ station: 'ST1', source: { type: 'synthetic', id: 'cam1', fps: 5, width: 160, height: 120, seed: 9 } }],
  });
  t.teardown(() => h.stop());
  type Inference = { ok: boolean; degraded: boolean; reason: string; recent: { windowS: number; timeouts: number; timeoutFrames: number; errors: number; restarts: number } };
  const inference = async () => {
    const res = await h.api<{ ok: boolean; components: { inference: Inference } }>('GET', '/healthz');
    return { status: res.status, ...res.body.components.inference };
  };
  t.false((await inference()).degraded, 'a fresh daemon is not degraded');
  await waitFor(() => h.daemon.worker!.restarts === 2 && h.daemon.worker!.state === 'ready', 30_000, 'two hangs, two restarts');
  const bad = await inference();
  t.true(bad.ok, 'still inspecting');
  t.is(bad.status, 200);
  t.true(bad.degraded);
  t.deepEqual(bad.recent, { windowS: 20, timeouts: 2, timeoutFrames: 2, errors: 0, restarts: 2 });
  t.is(bad.reason, 'DEGRADED: 2 inference timeouts (2 frames NO_VERDICT{timeout}) and 2 session restarts in the last 20 s; ready on cpu');
  // Nothing more goes wrong: the window empties and Health recovers by itself.
  const quiet = await waitFor(async () => {
    const i = await inference();
    return i.ok && !i.degraded && i;
  }, 45_000, 'inference ok again');
  t.is(quiet.reason, 'ready on cpu');
  t.deepEqual(quiet.recent, { windowS: 20, timeouts: 0, timeoutFrames: 0, errors: 0, restarts: 0 });
  t.is(h.daemon.worker!.restarts, 2, 'the restart total is kept');
});
