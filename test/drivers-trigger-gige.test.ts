// Latched software trigger on a GigE source: aravis' fake camera free-runs on 127.0.0.1 inside a private network
// namespace (`unshare -n`, root), addressed by its IP; the latch passes on one frame per trigger.
import test from 'ava';
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);
const canUnshare = spawnSync('unshare', ['-n', 'true']).status === 0;
if (!canUnshare) console.warn('drivers-trigger-gige: `unshare -n` is not permitted here (needs root); the fake-camera test is skipped');
const nsTest = canUnshare ? test : test.skip;

const drivers = new URL('../drivers/index.ts', import.meta.url).href;

// Runs inside the namespace; prints one JSON report. Every child it starts it also stops.
const scenario = `
import { execFileSync, spawn } from 'node:child_process';
import { createFrameSource } from '${drivers}';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
execFileSync('ip', ['link', 'set', 'lo', 'up']);
const camera = spawn('arv-fake-gv-camera-0.8', ['-i', '127.0.0.1', '-s', 'TRIG1'], { stdio: 'ignore' });
const cameraExited = new Promise((r) => camera.once('exit', r));
const report = {};
const source = createFrameSource({ type: 'gige', id: 'gtrig', ip: '127.0.0.1', width: 320, height: 240, fps: 10, trigger: 'software',
  stallMs: 1000, firstFrameTimeoutMs: 4000, backoffInitialMs: 200, backoffMaxMs: 1000, killGraceMs: 500 });
const frames = [];
source.on('frame', (f) => frames.push(f));
try {
  await sleep(800);
  await source.start();
  const t0 = Date.now();
  while (source.status().state !== 'online' && Date.now() - t0 < 8000) await sleep(50);
  report.onlineAfterMs = Date.now() - t0;
  await sleep(1500); // longer than stallMs: frames arrive but are not passed on
  report.untriggered = frames.length;
  report.stateBeforeTrigger = source.status().state;
  report.restartsBeforeTrigger = source.status().restarts;
  const at = Date.now();
  await source.trigger(7);
  report.resolvedAfterMs = Date.now() - at;
  await sleep(500);
  report.frames = frames.map((f) => ({ triggerId: f.triggerId, startedAfterMs: f.firstByteAt - at, size: f.width + 'x' + f.height + ':' + f.rgb.length }));
} catch (err) {
  report.error = err.message;
} finally {
  await source.stop();
  camera.kill('SIGKILL');
  await cameraExited;
  report.processes = source.processStats();
}
console.log(JSON.stringify(report));
`;

nsTest('GigE trigger: the fake camera free-runs, nothing is passed on until a trigger, which yields exactly one frame started after it', async (t) => {
  const { stdout } = await run('unshare', ['-n', '--', process.execPath, '--import', 'tsx', '--input-type=module', '-e', scenario], { timeout: 40_000 });
  const report = JSON.parse(stdout) as {
    error?: string; onlineAfterMs: number; untriggered: number; stateBeforeTrigger: string; restartsBeforeTrigger: number; resolvedAfterMs: number;
    frames: { triggerId?: number; startedAfterMs: number; size: string }[]; processes: { spawned: number; reaped: number };
  };
  t.log(JSON.stringify(report));
  t.is(report.error, undefined);
  t.is(report.untriggered, 0, 'no frame without a trigger');
  t.is(report.stateBeforeTrigger, 'online', 'untriggered frames keep the camera online');
  t.is(report.restartsBeforeTrigger, 0, 'no stall restart while idle between triggers');
  t.is(report.processes.spawned, 2, 'one gst-launch | ffmpeg pair');
  t.is(report.frames.length, 1);
  t.is(report.frames[0]!.triggerId, 7);
  t.true(report.frames[0]!.startedAfterMs > 0, `frame began ${report.frames[0]!.startedAfterMs} ms after the trigger`);
  t.is(report.frames[0]!.size, `320x240:${320 * 240 * 3}`);
  t.is(report.processes.reaped, report.processes.spawned);
});
