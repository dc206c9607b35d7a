import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { createFrameSource, type Frame, type FrameSource, type SourceState } from '../drivers/index.ts';
import type { PipelineSource } from '../drivers/pipeline-source.ts';
import { startRtspServer, type RtspPeer } from './peers/rtsp.ts';
import { childrenOf, isRunning } from './helpers/procs.ts';
import { freePort } from './helpers/mosquitto.ts';
import { until } from './helpers/until.ts';

const run = promisify(execFile);

function watch(source: FrameSource) {
  const frames: (Frame & { at: number })[] = [];
  const states: { state: SourceState; at: number; error?: string }[] = [];
  source.on('frame', (f) => frames.push({ ...f, at: Date.now() }));
  source.on('state', (state, status) => states.push({ state, at: Date.now(), ...(status.lastError ? { error: status.lastError } : {}) }));
  return { frames, states };
}

function withPeer(t: { teardown(fn: () => Promise<void>): void }, peer: RtspPeer): RtspPeer {
  t.teardown(() => peer.kill());
  return peer;
}

test('RTSP delivers at least 90 % of the nominal fps over 8 s, every frame the right size, with changing content', async (t) => {
  const fps = 15;
  const peer = withPeer(t, await startRtspServer({ width: 640, height: 480, fps }));
  const source = createFrameSource({ type: 'rtsp', id: 'rtsp1', url: peer.url });
  t.teardown(() => source.stop());
  const { frames } = watch(source);
  await source.start();
  await until('the first frame', () => frames.length > 0, 10_000);
  const from = frames[0]!.at;
  await sleep(8000);
  const inWindow = frames.filter((f) => f.at - from < 8000).length;
  t.true(inWindow >= 0.9 * fps * 8, `${inWindow} frames in 8 s, nominal ${fps * 8}`);
  t.log(`${inWindow} frames in 8 s at nominal ${fps} fps`);
  for (const f of frames) {
    t.is(f.width * f.height * 3, f.rgb.length);
    t.deepEqual([f.width, f.height], [640, 480]);
    t.false('model' in f, 'no driver-scaled model copy: the runtime resizes the full frame');
  }
  let changed = 0;
  for (let i = 1; i < frames.length; i++) if (!frames[i]!.rgb.equals(frames[i - 1]!.rgb)) changed++;
  t.true(changed >= frames.length * 0.8, `${changed} of ${frames.length} frames differ from their predecessor`);
  t.deepEqual(frames.map((f) => f.seq), frames.map((_, i) => i + 1));
});

test('RTSP server killed: offline within 1 s; restarted on the same port: frames again within 3 s', async (t) => {
  const first = await startRtspServer({ width: 320, height: 240, fps: 15 });
  t.teardown(() => first.kill());
  const source = createFrameSource({ type: 'rtsp', id: 'rtsp2', url: first.url, backoffInitialMs: 200, backoffMaxMs: 800, stallMs: 3000 });
  t.teardown(() => source.stop());
  const { frames, states } = watch(source);
  await source.start();
  await until('frames', () => frames.length >= 5, 10_000);
  const killedAt = Date.now();
  await first.kill();
  await until('offline', () => states.some((s) => s.state === 'offline' && s.at >= killedAt), 1000);
  const offline = states.find((s) => s.state === 'offline' && s.at >= killedAt)!;
  t.log(`offline ${offline.at - killedAt} ms after the server was killed: ${offline.error}`);
  t.regex(offline.error ?? '', /camera rtsp2 .*ffmpeg exited/);
  await sleep(1000);
  const before = frames.length;
  const second = withPeer(t, await startRtspServer({ port: first.port, width: 320, height: 240, fps: 15 }));
  const restartedAt = Date.now();
  const took = await until('frames after the restart', () => frames.length > before, 3000);
  t.log(`frames again ${took} ms after the server came back on port ${second.port}`);
  t.is(source.status().state, 'online');
  t.true(frames.slice(before).every((f) => f.at >= restartedAt));
});

test('RTSP server frozen (SIGSTOP): the watchdog kills ffmpeg within the stall time + 1 s; after SIGCONT it recovers', async (t) => {
  const peer = withPeer(t, await startRtspServer({ width: 320, height: 240, fps: 15 }));
  const stallMs = 1500;
  const source = createFrameSource({ type: 'rtsp', id: 'rtsp3', url: peer.url, stallMs, killGraceMs: 500, backoffInitialMs: 200, backoffMaxMs: 1000, firstFrameTimeoutMs: 4000 }) as PipelineSource;
  t.teardown(async () => {
    if (isRunning(peer.pid)) process.kill(peer.pid, 'SIGCONT');
    await source.stop();
  });
  const { frames, states } = watch(source);
  await source.start();
  await until('frames', () => frames.length >= 5, 10_000);
  const [ffmpegPid] = source.pids();
  t.truthy(ffmpegPid);
  process.kill(peer.pid, 'SIGSTOP');
  const frozenAt = Date.now();
  await until('ffmpeg killed', () => !isRunning(ffmpegPid!), stallMs + 3000);
  const lastFrameAt = frames.at(-1)!.at;
  const killedAfter = Date.now() - lastFrameAt;
  t.log(`ffmpeg ${ffmpegPid} gone ${killedAfter} ms after the last frame (stall limit ${stallMs} ms)`);
  t.true(killedAfter <= stallMs + 1000, `killed ${killedAfter} ms after the last frame`);
  const offline = states.find((s) => s.state === 'offline' && s.at >= frozenAt);
  t.regex(offline?.error ?? '', /no full frame for \d+ ms/);
  const before = frames.length;
  process.kill(peer.pid, 'SIGCONT');
  const took = await until('recovery after SIGCONT', () => frames.length > before + 3, 8000);
  t.log(`recovered ${took} ms after SIGCONT`);
  t.is(source.status().state, 'online');
});

test('RTSP server absent at start: backoff only, never online, every spawned ffmpeg reaped', async (t) => {
  const port = await freePort();
  const source = createFrameSource({ type: 'rtsp', id: 'rtsp4', url: `rtsp://operator:hunter2@127.0.0.1:${port}/cam`, backoffInitialMs: 100, backoffMaxMs: 800 }) as PipelineSource;
  const { frames, states } = watch(source);
  await source.start();
  await sleep(3000);
  const status = source.status();
  await source.stop();
  t.is(frames.length, 0);
  t.false(states.some((s) => s.state === 'online'));
  const stats = source.processStats();
  t.log(stats, status.restarts);
  // 100, 200, 400, 800, 800 ms (±20 %) plus ffmpeg's own start: a handful of attempts, not a tight loop.
  t.true(stats.spawned >= 3 && stats.spawned <= 8, `${stats.spawned} attempts in 3 s`);
  t.is(stats.reaped, stats.spawned);
  const mine = new Set(source.recentPids());
  t.is(mine.size, stats.spawned);
  t.deepEqual(childrenOf().filter((p) => mine.has(p.pid)), [], 'no ffmpeg child left, not even a zombie');
  t.regex(status.lastError ?? '', /Connection refused/);
  t.false(JSON.stringify(status).includes('hunter2'), 'credentials scrubbed from errors and stderr tail');
  t.true(status.lastError?.includes('rtsp://***@127.0.0.1'), status.lastError);
});

/**
 * A live MPEG-TS stream over HTTP whose resolution changes: the first client gets 320x240 then 160x120, later
 * clients (a restarted ffmpeg) join at 160x120. Paced at real time so it behaves like a camera, not a file.
 */
async function startChangingStream(t: { teardown(fn: () => Promise<void> | void): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'drivers-res-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const encode = async (size: string, seconds: number): Promise<Buffer> => {
    const file = join(dir, `${size}.ts`);
    await run('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=20`, '-t', String(seconds), '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '10', '-pix_fmt', 'yuv420p', '-f', 'mpegts', file]);
    return readFile(file);
  };
  const big = await encode('320x240', 2);
  const small = await encode('160x120', 10);
  let clients = 0;
  const server = createHttpServer((_req, res) => {
    const segments: [Buffer, number][] = clients++ === 0 ? [[big, 2000], [small, 10_000]] : [[small, 10_000]];
    res.writeHead(200, { 'content-type': 'video/mp2t' });
    let timer: NodeJS.Timeout | undefined;
    const send = (i: number, offset: number): void => {
      const seg = segments[i];
      if (!seg) return void res.end();
      const [data, ms] = seg;
      const step = Math.ceil(data.length / (ms / 50) / 188) * 188;
      res.write(data.subarray(offset, offset + step));
      timer = setTimeout(() => (offset + step >= data.length ? send(i + 1, 0) : send(i, offset + step)), 50);
    };
    res.on('close', () => clearTimeout(timer));
    send(0, 0);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  return `http://127.0.0.1:${(server.address() as { port: number }).port}/live.ts`;
}

test('a stream that changes resolution mid-run: reported, buffers reallocated, never a mis-sized frame', async (t) => {
  const url = await startChangingStream(t);
  const native = createFrameSource({ type: 'ffmpeg', id: 'res1', input: url, backoffInitialMs: 100, stallMs: 2000 });
  t.teardown(() => native.stop());
  const a = watch(native);
  await native.start();
  await until('frames at the new size', () => a.frames.filter((f) => f.width === 160).length >= 5, 8000);
  await native.stop();
  for (const f of a.frames) t.is(f.rgb.length, f.width * f.height * 3);
  const sizes = [...new Set(a.frames.map((f) => `${f.width}x${f.height}`))];
  t.deepEqual(sizes, ['320x240', '160x120']);
  const firstSmall = a.frames.findIndex((f) => f.width === 160);
  t.true(a.frames.slice(firstSmall).every((f) => f.width === 160), 'no stale size after the change');
  const changeAt = a.states.find((s) => /changed resolution/.test(s.error ?? ''))!.at;
  t.log(`first 160x120 frame ${a.frames[firstSmall]!.at - changeAt} ms after the change was seen`);
  t.regex(native.status().lastError ?? '', /changed resolution from 320x240 to 160x120/);
  t.true(native.status().badFrames >= 1, 'the change is counted');
});

test('a stream that changes resolution with a pinned output size: still that size, and the change is reported', async (t) => {
  const url = await startChangingStream(t);
  const pinned = createFrameSource({ type: 'ffmpeg', id: 'res2', input: url, width: 200, height: 150 });
  t.teardown(() => pinned.stop());
  const b = watch(pinned);
  const errors: string[] = [];
  pinned.on('error', (e) => errors.push(e.message));
  await pinned.start();
  await until('the change', () => errors.length > 0, 8000);
  await sleep(500);
  await pinned.stop();
  t.true(b.frames.length >= 20, `${b.frames.length} frames`);
  t.true(b.frames.every((f) => f.width === 200 && f.height === 150 && f.rgb.length === 200 * 150 * 3));
  t.regex(errors.join('\n'), /changed resolution from 320x240 to 160x120; frames are scaled to the configured 200x150/);
  t.is(pinned.status().restarts, 0, 'no restart needed when the output size is pinned');
});
