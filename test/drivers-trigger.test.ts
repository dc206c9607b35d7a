// Latched software trigger on a streaming source (drivers/latch.ts) against the real RTSP peer.
import test from 'ava';
import { createFrameSource, type Frame, type FrameSource } from '../drivers/index.ts';
import { parseCameraConfig } from '../drivers/config.ts';
import { TriggerLatch } from '../drivers/latch.ts';
import type { PipelineSource } from '../drivers/pipeline-source.ts';
import { startRtspServer } from './peers/rtsp.ts';
import { isRunning } from './helpers/procs.ts';
import { until } from './helpers/until.ts';
import { setTimeout as sleep } from 'node:timers/promises';

function collect(source: FrameSource): Frame[] {
  const frames: Frame[] = [];
  source.on('frame', (f) => frames.push(f));
  return frames;
}

/** Triggers and returns when it was accepted (epoch ms, taken just before the call) and the frame that answered it. */
async function fire(source: FrameSource, frames: Frame[], triggerId: number): Promise<{ at: number; frame: Frame | undefined }> {
  const at = Date.now();
  await source.trigger!(triggerId);
  return { at, frame: frames.find((f) => f.triggerId === triggerId) };
}

test('RTSP trigger: no frame without a trigger while the stream stays online; 3 triggers give exactly 3 frames, each started after its trigger (+ delay)', async (t) => {
  const peer = await startRtspServer({ width: 320, height: 240, fps: 15 });
  t.teardown(() => peer.kill());
  const stallMs = 1500;
  const plain = createFrameSource({ type: 'rtsp', id: 'trig1', url: peer.url, trigger: 'software', stallMs, firstFrameTimeoutMs: 8000 }) as PipelineSource;
  const delayed = createFrameSource({ type: 'rtsp', id: 'trig2', url: peer.url, trigger: 'software', triggerDelayMs: 300, stallMs, firstFrameTimeoutMs: 8000 }) as PipelineSource;
  t.teardown(() => Promise.all([plain.stop(), delayed.stop()]).then(() => undefined));
  const frames = collect(plain);
  const delayedFrames = collect(delayed);
  await Promise.all([plain.start(), delayed.start()]);
  await until('both online', () => plain.status().state === 'online' && delayed.status().state === 'online', 10_000);
  // Longer than stallMs with nothing passed on: frames still arrive, so this is liveness, not a stall.
  await sleep(stallMs + 500);
  t.is(frames.length + delayedFrames.length, 0, 'no frame without a trigger');
  t.is(plain.status().state, 'online');
  t.is(plain.processStats().spawned, 1, 'the watchdog did not restart a healthy, untriggered stream');

  const one = await fire(plain, frames, 1);
  // Two triggers in the same millisecond: served in order, one frame each.
  const [two, three] = await Promise.all([fire(plain, frames, 2), fire(plain, frames, 3)]);
  await sleep(400);
  t.deepEqual(frames.map((f) => f.triggerId), [1, 2, 3], 'exactly one frame per trigger, nothing else');
  for (const { at, frame } of [one, two, three]) {
    t.truthy(frame);
    t.true(frame!.firstByteAt! > at, `frame ${frame!.seq} began arriving ${frame!.firstByteAt! - at} ms after its trigger`);
    t.is(frame!.rgb.length, 320 * 240 * 3);
  }
  t.true(frames[2]!.firstByteAt! > frames[1]!.firstByteAt!, 'the second simultaneous trigger got the next frame');
  t.false(frames[2]!.rgb.equals(frames[1]!.rgb), 'two different pictures');
  t.log(`trigger → frame emitted: ${frames.map((f, i) => f.capturedAt - [one, two, three][i]!.at).join(', ')} ms`);

  const d = await fire(delayed, delayedFrames, 41);
  t.true(d.frame!.firstByteAt! > d.at + 300, `delayed frame began ${d.frame!.firstByteAt! - d.at} ms after the trigger (delay 300)`);
  t.is(d.frame!.rgb.length, 320 * 240 * 3);
  t.is(delayedFrames.length, 1);
  t.is(plain.status().framesDelivered, 3);
});

test('RTSP trigger: frozen server → the watchdog still restarts the stream and a trigger rejects in time naming camera and state; recovers; killed server → rejects', async (t) => {
  const peer = await startRtspServer({ width: 160, height: 120, fps: 15 });
  t.teardown(async () => {
    if (isRunning(peer.pid)) process.kill(peer.pid, 'SIGCONT');
    await peer.kill();
  });
  const timeoutMs = 800;
  const source = createFrameSource({
    type: 'rtsp', id: 'trig3', url: peer.url, trigger: 'software', triggerTimeoutMs: timeoutMs,
    stallMs: 800, killGraceMs: 300, backoffInitialMs: 200, backoffMaxMs: 600, firstFrameTimeoutMs: 4000,
  }) as PipelineSource;
  t.teardown(() => source.stop());
  const frames = collect(source);
  await source.start();
  await until('online', () => source.status().state === 'online', 10_000);
  t.is((await fire(source, frames, 1)).frame?.triggerId, 1);

  process.kill(peer.pid, 'SIGSTOP');
  await until('offline by the stall watchdog', () => source.status().state === 'offline', 3000);
  t.regex(source.status().lastError ?? '', /camera trig3 .*no full frame for \d+ ms/);
  let t0 = Date.now();
  const frozen = await t.throwsAsync(source.trigger(2));
  let took = Date.now() - t0;
  t.log(`frozen: rejected after ${took} ms: ${frozen.message}`);
  t.regex(frozen.message, /^camera trig3 \(rtsp:\/\/127\.0\.0\.1:\d+\/cam\): no frame for trigger 2 within 800 ms; camera (offline|starting) since \d+\.\d s/);
  t.true(took >= timeoutMs - 5 && took < timeoutMs + 300, `rejected after ${took} ms`);

  process.kill(peer.pid, 'SIGCONT');
  await until('online again', () => source.status().state === 'online', 8000);
  t.is((await fire(source, frames, 3)).frame?.triggerId, 3, 'triggers work again after the reconnect');

  await peer.kill();
  // Frames the server sent before it died may still come out of ffmpeg (and would rightly answer a trigger): wait until it is down.
  await until('offline after the kill', () => source.status().state === 'offline', 3000);
  t0 = Date.now();
  const down = await t.throwsAsync(source.trigger(4));
  took = Date.now() - t0;
  t.log(`killed: rejected after ${took} ms: ${down.message}`);
  t.regex(down.message, /camera trig3 .*no frame for trigger 4 within 800 ms; camera offline since \d+\.\d s: .*ffmpeg exited/);
  t.true(took < timeoutMs + 300);
  t.deepEqual(frames.map((f) => f.triggerId), [1, 3]);
});

test('trigger refusals: free-running stream, not started, duplicate pending seq, stopped while waiting', async (t) => {
  const free = createFrameSource({ type: 'rtsp', id: 'free1', url: 'rtsp://127.0.0.1:9/cam' });
  await t.throwsAsync(free.trigger!(1), { message: /camera free1 \(rtsp:\/\/127\.0\.0\.1:9\/cam\) is free-running; set trigger: software/ });
  // No server at all: the source retries in the background, the triggers wait.
  const idle = createFrameSource({ type: 'ffmpeg', id: 'idle1', input: '/nonexistent/video.mkv', trigger: 'software', triggerTimeoutMs: 5000, backoffInitialMs: 5000 });
  await t.throwsAsync(idle.trigger!(1), { message: /camera idle1 .*not started; start the source before triggering/ });
  await idle.start();
  const waiting = idle.trigger!(5);
  await t.throwsAsync(idle.trigger!(5), { message: /trigger 5 is already waiting for a frame; use a new trigger id/ });
  await idle.stop();
  await t.throwsAsync(waiting, { message: /camera idle1 .*stopped before trigger 5 got a frame/ });
});

test('trigger config: software on rtsp/ffmpeg/gige with delay and timeout; bad values named', (t) => {
  const rtsp = parseCameraConfig({ type: 'rtsp', id: 'c1', url: 'rtsp://h/x', trigger: 'software' });
  t.like(rtsp, { trigger: 'software', triggerDelayMs: 0, triggerTimeoutMs: 2000 });
  t.like(parseCameraConfig({ type: 'rtsp', id: 'c0', url: 'rtsp://h/x' }), { trigger: 'free' }, 'free-run stays the default');
  t.like(parseCameraConfig({ type: 'gige', id: 'c2', ip: '10.0.0.2', width: 64, height: 48, trigger: 'software', triggerDelayMs: 150 }), { trigger: 'software', triggerDelayMs: 150 });
  t.throws(() => parseCameraConfig({ type: 'ffmpeg', id: 'c3', input: 'x', trigger: 'hardware' }), { message: /camera c3: invalid config at trigger: .*fix the camera entry/ });
  t.throws(() => parseCameraConfig({ type: 'rtsp', id: 'c4', url: 'rtsp://h/x', trigger: 'software', triggerTimeoutMs: 10 }), { message: /camera c4: invalid config at triggerTimeoutMs/ });
});

test('latch rule: only a frame that began strictly after trigger + delay answers it, in trigger order', async (t) => {
  const latch = new TriggerLatch({ delayMs: 100, timeoutMs: 200, describe: () => 'camera L', stateText: () => 'online since 1.0 s' });
  const a = latch.arm(1, 1000);
  const b = latch.arm(2, 1000);
  t.is(latch.claim(999), undefined, 'older frame');
  t.is(latch.claim(1100), undefined, 'a frame starting exactly at trigger + delay is not "after"');
  const first = latch.claim(1101)!;
  t.is(first.triggerId, 1);
  first.done();
  const second = latch.claim(1140)!;
  t.is(second.triggerId, 2);
  second.done();
  await Promise.all([a, b]);
  t.is(latch.claim(5000), undefined, 'nothing waiting: the frame is not wanted');
  const late = latch.arm(3);
  await t.throwsAsync(late, { message: 'camera L: no frame for trigger 3 within 200 ms (+100 ms trigger delay); camera online since 1.0 s' });
  t.is(latch.pending, 0);
});
