import test from 'ava';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startRtspServer } from './peers/rtsp.ts';

const run = promisify(execFile);

test('camera probe reports frames, fps, size and states for an RTSP URL as JSON', async (t) => {
  const peer = await startRtspServer({ width: 320, height: 240, fps: 10 });
  t.teardown(() => peer.kill());
  const { stdout } = await run(process.execPath, ['agent/bin.js', 'camera', 'probe', '--url', peer.url, '--seconds', '3']);
  const report = JSON.parse(stdout) as { framesReceived: number; fps: number; frameSizes: string[]; states: { state: string }[] };
  t.true(report.framesReceived >= 10, `${report.framesReceived} frames`);
  t.true(report.fps > 5 && report.fps < 20, `fps ${report.fps}`);
  t.deepEqual(report.frameSizes, ['320x240']);
  t.deepEqual(report.states.map((s) => s.state), ['starting', 'online', 'stopped']);
});

test('camera probe with nothing listening prints the report, one line naming the camera, and exits non-zero', async (t) => {
  const err = await t.throwsAsync(run(process.execPath, ['agent/bin.js', 'camera', 'probe', '--url', 'rtsp://admin:pw@127.0.0.1:1/none', '--seconds', '1']));
  const { code, stdout, stderr } = err as unknown as { code: number; stdout: string; stderr: string };
  t.is(code, 2);
  t.is(JSON.parse(stdout).framesReceived, 0);
  t.regex(stderr, /^camera probe: no frame from rtsp:\/\/\*\*\*@127\.0\.0\.1:1\/none in 1 s: .*Connection refused.*; check the address, network and credentials\n$/);
  t.false(stderr.includes('admin:pw') || stdout.includes('admin:pw'));
});

test('camera probe refuses ambiguous or incomplete arguments with one line', async (t) => {
  const both = await t.throwsAsync(run(process.execPath, ['agent/bin.js', 'camera', 'probe', '--url', 'x', '--gige', '127.0.0.1']));
  t.regex((both as unknown as { stderr: string }).stderr, /give exactly one of --url URL or --gige IP/);
  const noSize = await t.throwsAsync(run(process.execPath, ['agent/bin.js', 'camera', 'probe', '--gige', '127.0.0.1']));
  t.regex((noSize as unknown as { stderr: string }).stderr, /--gige needs --width and --height/);
});
