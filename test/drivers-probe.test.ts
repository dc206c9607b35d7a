import test from 'ava';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startRtspServer } from './peers/rtsp.ts';

const run = promisify(execFile);

/** The probe's JSON report: stdout up to its closing brace (other modules loaded by the CLI may log after it). */
function report(stdout: string) {
  return JSON.parse(stdout.slice(0, stdout.indexOf('\n}\n') + 2));
}

test('camera probe reports frames, fps, size and states for an RTSP URL as JSON', async (t) => {
  const peer = await startRtspServer({ width: 320, height: 240, fps: 10 });
  t.teardown(() => peer.kill());
  const { stdout } = await run(process.execPath, ['agent/bin.js', 'camera', 'probe', '--url', peer.url, '--seconds', '3']);
  const probe = report(stdout) as { framesReceived: number; fps: number; frameSizes: string[]; states: { state: string }[] };
  t.true(probe.framesReceived >= 10, `${probe.framesReceived} frames`);
  t.true(probe.fps > 5 && probe.fps < 30, `fps ${probe.fps}`);
  t.deepEqual(probe.frameSizes, ['320x240']);
  t.deepEqual(probe.states.map((s) => s.state), ['starting', 'online', 'stopped']);
});

test('camera probe with nothing listening prints the report, one line naming the camera, and exits non-zero', async (t) => {
  const err = await t.throwsAsync(run(process.execPath, ['agent/bin.js', 'camera', 'probe', '--url', 'rtsp://admin:pw@127.0.0.1:1/none', '--seconds', '2']));
  const { code, stdout, stderr } = err as unknown as { code: number; stdout: string; stderr: string };
  t.is(code, 2);
  t.is(report(stdout).framesReceived, 0);
  t.regex(stderr, /^camera probe: no frame from rtsp:\/\/\*\*\*@127\.0\.0\.1:1\/none in 2 s(: .*Connection refused.*)?; check the address, network and credentials$/m);
  t.false(stderr.includes('admin:pw') || stdout.includes('admin:pw'));
});

test('camera probe refuses ambiguous or incomplete arguments with one line', async (t) => {
  const both = await t.throwsAsync(run(process.execPath, ['agent/bin.js', 'camera', 'probe', '--url', 'x', '--gige', '127.0.0.1']));
  t.regex((both as unknown as { stderr: string }).stderr, /give exactly one of --url URL or --gige IP/);
  const noSize = await t.throwsAsync(run(process.execPath, ['agent/bin.js', 'camera', 'probe', '--gige', '127.0.0.1']));
  t.regex((noSize as unknown as { stderr: string }).stderr, /--gige needs --width and --height/);
});
