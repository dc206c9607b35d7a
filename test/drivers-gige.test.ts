import test from 'ava';
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { gstArgs } from '../drivers/gige.ts';
import { parseCameraConfig, type GigeCameraConfig } from '../drivers/config.ts';

const run = promisify(execFile);
// The GigE peers run only inside a private network namespace with loopback alone (root, as in CI).
const canUnshare = spawnSync('unshare', ['-n', 'true']).status === 0;
if (!canUnshare) console.warn('drivers-gige: `unshare -n` is not permitted here (needs root); the fake-camera tests are skipped');
const nsTest = canUnshare ? test : test.skip;

nsTest('GigE: frames at the configured rate from fake cameras on 127.0.0.1 and 127.0.0.2, recovery < 5 s, independent', async (t) => {
  const { stdout } = await run('unshare', ['-n', '--', process.execPath, '--import', 'tsx', 'test/peers/gige-scenario.ts'], { timeout: 60_000 });
  const report = JSON.parse(stdout) as {
    fps: { gige1: number; gige2: number };
    gige2DuringOutage: number;
    recoveryMs: number | null;
    frames: Record<string, { count: number; sizes: string[]; distinctContent: number }>;
    states: { id: string; state: string; error?: string }[];
    processes: { gige1: { spawned: number; reaped: number }; gige2: { spawned: number; reaped: number }; leftover: unknown[] };
  };
  t.log(JSON.stringify({ fps: report.fps, gige2DuringOutage: report.gige2DuringOutage, recoveryMs: report.recoveryMs }));
  t.true(report.fps.gige1 >= 8.5 && report.fps.gige1 <= 11.5, `camera 1 at ${report.fps.gige1} fps, configured 10`);
  t.true(report.fps.gige2 >= 4.25 && report.fps.gige2 <= 5.75, `camera 2 at ${report.fps.gige2} fps, configured 5`);
  t.deepEqual(report.frames.gige1!.sizes, [`518x518:${518 * 518 * 3}`]);
  t.deepEqual(report.frames.gige2!.sizes, [`320x240:${320 * 240 * 3}`]);
  t.true(report.frames.gige1!.distinctContent > report.frames.gige1!.count / 2, 'the fake camera pattern moves');
  t.not(report.recoveryMs, null, 'camera 1 came back');
  t.true(report.recoveryMs! < 5000, `recovered in ${report.recoveryMs} ms`);
  t.true(report.gige2DuringOutage >= 4, `camera 2 kept ${report.gige2DuringOutage} fps while camera 1 was down`);
  t.false(report.states.some((s) => s.id === 'gige2' && s.state === 'offline'), 'camera 2 never went offline');
  t.regex(report.states.find((s) => s.id === 'gige1' && s.state === 'offline')?.error ?? '', /camera gige1 \(GigE 127\.0\.0\.1\): no full frame/);
  for (const p of [report.processes.gige1, report.processes.gige2]) t.is(p.reaped, p.spawned);
  t.deepEqual(report.processes.leftover, []);
});

test('GigE pipeline: explicit IP, -q, native size pinned right after aravissrc, trigger and features from config', (t) => {
  const config = parseCameraConfig({ type: 'gige', id: 'g', ip: '10.1.2.3', width: 1280, height: 1024, pixelFormat: 'BayerRG8', fps: 7.5, exposureUs: 2000, gain: 3, trigger: 'hardware' }) as GigeCameraConfig;
  const args = gstArgs(config);
  t.is(args[0], '-q');
  t.is(args[1], 'aravissrc');
  t.true(args.includes('camera-name=10.1.2.3'));
  t.true(args.includes('features="TriggerMode=On TriggerSource=Line1"'));
  t.true(args.includes('exposure=2000') && args.includes('gain=3'));
  t.is(args[args.indexOf('!') + 1], 'video/x-bayer,format=rggb,width=1280,height=1024,framerate=7500/1000');
});

test('GigE config refuses a camera without an explicit IPv4 address, and RGB8 widths GStreamer would pad', (t) => {
  t.throws(() => parseCameraConfig({ type: 'gige', id: 'g1', width: 640, height: 480 }), { message: /camera g1: invalid config at ip/ });
  t.throws(() => parseCameraConfig({ type: 'gige', id: 'g2', ip: 'cam.local', width: 640, height: 480 }), { message: /never discovered/ });
  t.throws(() => parseCameraConfig({ type: 'gige', id: 'g3', ip: '127.0.0.1', width: 518, height: 518, pixelFormat: 'RGB8' }), { message: /camera g3: invalid config at width: RGB8 needs a width that is a multiple of 4/ });
});
