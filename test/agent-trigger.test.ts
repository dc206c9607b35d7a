// Software triggers over HTTP, reads behind the token, shot features recomputed when the pack changes.
import test from 'ava';
import { startHarness, waitFor, TEST_TOKEN } from './helpers/harness.ts';
import { startRtspServer } from './peers/rtsp.ts';

test('a software-triggered camera inspects one part per trigger: the part id is echoed, triggerSeq is 0 (not a PLC trigger), the trigger id finds the result', async (t) => {
  const h = await startHarness({
    cameras: [{ station: 'ST1', source: { type: 'synthetic', id: 'cam1', trigger: 'software', width: 160, height: 120 } }],
    http: { host: '127.0.0.1', port: 0, token: TEST_TOKEN, openReads: false },
  });
  t.teardown(() => h.stop());
  // Reads need the token too when openReads is off; /healthz and /metrics stay open for probes.
  t.is((await fetch(`${h.url}/api/results`)).status, 401);
  t.is((await h.api('GET', '/api/results')).status, 200);
  t.not((await fetch(`${h.url}/healthz`)).status, 401);
  t.is((await fetch(`${h.url}/metrics`)).status, 200);
  await new Promise((r) => setTimeout(r, 600));
  t.is(h.daemon.counters().ST1!.captured, 0, 'no frame without a trigger');
  const r1 = await h.api<{ triggerId: number; triggerSeq: number }>('POST', '/api/stations/ST1/trigger', { partId: 'P-0001' });
  const r2 = await h.api<{ triggerId: number; triggerSeq: number }>('POST', '/api/stations/ST1/trigger', { partId: 'P-0002' });
  t.is(r1.status, 200);
  t.deepEqual([r1.body.triggerSeq, r2.body.triggerSeq], [0, 0], 'only a PLC trigger carries a triggerSeq');
  t.true(r1.body.triggerId > 0 && r2.body.triggerId > r1.body.triggerId, 'each trigger gets a new trigger id');
  const rows = await waitFor(() => {
    const x = h.daemon.store.queryResults({ stationId: 'ST1' });
    return x.length >= 2 && x;
  }, 10_000, 'two triggered results');
  t.deepEqual(rows.map((r) => [r.partId, r.triggerSeq, r.frameSeq]).sort(), [['P-0001', 0, r1.body.triggerId], ['P-0002', 0, r2.body.triggerId]]);
  // Traceability: the history finds one part's result by its id, and the trigger id is its frameSeq.
  const byPart = (await h.api<{ partId: string; triggerSeq: number; frameSeq: number }[]>('GET', '/api/results?part=P-0002')).body;
  t.deepEqual(byPart.map((r) => [r.partId, r.triggerSeq, r.frameSeq]), [['P-0002', 0, r2.body.triggerId]]);
  t.deepEqual((await h.api<unknown[]>('GET', '/api/results?part=NO-SUCH-PART')).body, []);
  t.is(h.daemon.counters().ST1!.captured, 2);
  // Shot capture from a triggered camera takes its newest picture (here the last triggered part).
  const p = (await h.api<{ id: number }>('POST', '/api/products', { name: 'trig' })).body;
  t.is((await h.api('POST', `/api/products/${p.id}/shots/capture`, { station: 'ST1' })).status, 201);
  const tooLong = await h.api<{ error: string }>('POST', '/api/stations/ST1/trigger', { partId: 'x'.repeat(65) });
  t.is(tooLong.status, 400);
  t.regex(tooLong.body.error, /partId/);
});

test('a free-running camera refuses a software trigger with a clear 409', async (t) => {
  const h = await startHarness();
  t.teardown(() => h.stop());
  const r = await h.api<{ error: string }>('POST', '/api/stations/ST1/trigger', { partId: 'x' });
  t.is(r.status, 409);
  t.regex(r.body.error, /is free-run; set trigger: software in its config/);
});

test('shot features are keyed by pack sha: features of another pack are recomputed at activation', async (t) => {
  const h = await startHarness();
  t.teardown(() => h.stop());
  await waitFor(() => h.daemon.stations.get('ST1')!.latestFrame, 10_000, 'a frame');
  const p = (await h.api<{ id: number }>('POST', '/api/products', { name: 'P' })).body;
  for (let i = 0; i < 2; i++) t.is((await h.api('POST', `/api/products/${p.id}/shots/capture`, { station: 'ST1' })).status, 201);
  const cached = await h.daemon.changeover.activate('ST1', p.id, 'test');
  t.is(cached.encodedShots, 0, 'capture already encoded them');
  // Pretend the features came from an older pack: they no longer match, so activation encodes the shots again.
  h.daemon.store.db.prepare("UPDATE shot_features SET pack_sha = 'old-pack'").run();
  const again = await h.daemon.changeover.activate('ST1', p.id, 'test');
  t.is(again.encodedShots, 2);
  const shas = h.daemon.store.db.prepare('SELECT DISTINCT pack_sha FROM shot_features ORDER BY pack_sha').all() as { pack_sha: string }[];
  t.true(shas.some((s) => s.pack_sha === h.daemon.worker!.active.packSha));
  t.is(h.daemon.store.dropFeaturesExcept(h.daemon.worker!.active.packSha), 2, 'stale features are removed at restore');
});

test('capturing a shot from a triggered camera that has shown nothing yet triggers one picture', async (t) => {
  const h = await startHarness({ cameras: [{ station: 'ST1', source: { type: 'synthetic', id: 'cam1', trigger: 'software', width: 160, height: 120 } }] });
  t.teardown(() => h.stop());
  const p = (await h.api<{ id: number }>('POST', '/api/products', { name: 'first-shot' })).body;
  const r = await h.api<{ shot: { width: number; source: string } }>('POST', `/api/products/${p.id}/shots/capture`, { station: 'ST1' });
  t.is(r.status, 201);
  t.is(r.body.shot.width, 160);
  t.is(h.daemon.counters().ST1!.captured, 1, 'the capture trigger is one accounted frame');
  const row = await waitFor(() => h.daemon.store.queryResults({ stationId: 'ST1' })[0], 10_000, 'its outcome');
  t.is(row.partId, 'shot-capture');
});

test('an RTSP camera with trigger: software streams but inspects only on an HTTP trigger: one result with the part id; server gone → one NO_VERDICT', async (t) => {
  const peer = await startRtspServer({ width: 160, height: 120, fps: 15 });
  t.teardown(() => peer.kill());
  const h = await startHarness({
    cameras: [{ station: 'ST1', source: { type: 'rtsp', id: 'rcam', url: peer.url, trigger: 'software', triggerTimeoutMs: 600, backoffInitialMs: 2000 } }],
  });
  t.teardown(() => h.stop());
  const st = h.daemon.stations.get('ST1')!;
  // Start-up (session warm-up, RTSP server and ffmpeg) can take a while on a busy CI machine; the test is about what follows.
  await waitFor(() => st.status().state === 'online', 30_000, 'the RTSP camera online');
  await new Promise((r) => setTimeout(r, 500));
  t.is(h.daemon.counters().ST1!.captured, 0, 'streaming, but no frame inspected without a trigger');
  const r = await h.api<{ triggerId: number; triggerSeq: number }>('POST', '/api/stations/ST1/trigger', { partId: 'RTSP-0001' });
  t.is(r.status, 200);
  const rows = await waitFor(() => {
    const x = h.daemon.store.queryResults({ stationId: 'ST1' });
    return x.length >= 1 && x;
  }, 10_000, 'the triggered result');
  await new Promise((r) => setTimeout(r, 500));
  t.is(h.daemon.store.queryResults({ stationId: 'ST1' }).length, 1, 'exactly one result');
  t.like(rows[0], { partId: 'RTSP-0001', triggerSeq: 0, frameSeq: r.body.triggerId, cameraId: 'rcam' });
  t.not(rows[0]!.outcome, 'NO_VERDICT');

  await peer.kill();
  await waitFor(() => st.status().state === 'offline', 5000, 'the camera offline');
  const down = await h.api<{ triggerId: number; triggerSeq: number }>('POST', '/api/stations/ST1/trigger', { partId: 'RTSP-0002' });
  t.is(down.status, 200);
  const failed = await waitFor(() => h.daemon.store.queryResults({ stationId: 'ST1' }).find((x) => x.partId === 'RTSP-0002'), 5000, 'the NO_VERDICT');
  t.like(failed, { outcome: 'NO_VERDICT', reason: 'camera_error', triggerSeq: 0, frameSeq: down.body.triggerId });
  t.is(h.daemon.counters().ST1!.captured, 2);
});
