// Driver CPU cost per frame (not a test): node --import tsx tools/bench/drivers.ts [out.json]
// CPU of the children (ffmpeg, gst-launch) from /proc/<pid>/stat plus this process's own, divided by frames.
// RTSP peers: test/peers/rtsp_server.py on 127.0.0.1. GigE: arv-fake-gv-camera-0.8 inside `unshare -n`.
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createFrameSource, type CameraConfigInput } from '../../drivers/index.ts';
import type { PipelineSource } from '../../drivers/pipeline-source.ts';
import { SyntheticLine } from '../../drivers/synthetic-line.ts';
import { DEFECT_KINDS } from '../../drivers/config.ts';
import { setTimeout as sleep } from 'node:timers/promises';

const TICK_MS = 1000 / Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());
const SECONDS = Number(process.env.BENCH_SECONDS ?? 6);

function cpuMsOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * TICK_MS; // utime + stime
  } catch {
    return 0;
  }
}

interface Result { name: string; frames: number; fps: number; childCpuMsPerFrame: number; nodeCpuMsPerFrame: number; totalCpuMsPerFrame: number; cpuPercentOfOneCore: number }

async function measure(name: string, config: CameraConfigInput): Promise<Result> {
  const source = createFrameSource(config) as PipelineSource;
  let frames = 0;
  let first = 0;
  source.on('frame', () => {
    if (frames++ === 0) first = Date.now();
  });
  await source.start();
  while (frames === 0) await sleep(20);
  const pids = source.pids();
  const childStart = pids.reduce((s, p) => s + cpuMsOf(p), 0);
  const nodeStart = process.cpuUsage();
  const f0 = frames;
  const t0 = Date.now();
  await sleep(SECONDS * 1000);
  const childMs = pids.reduce((s, p) => s + cpuMsOf(p), 0) - childStart;
  const nodeUse = process.cpuUsage(nodeStart);
  const n = frames - f0;
  const wall = Date.now() - t0;
  await source.stop();
  void first;
  const nodeMs = (nodeUse.user + nodeUse.system) / 1000;
  const round = (v: number) => Math.round(v * 1000) / 1000;
  return { name, frames: n, fps: round((n * 1000) / wall), childCpuMsPerFrame: round(childMs / n), nodeCpuMsPerFrame: round(nodeMs / n), totalCpuMsPerFrame: round((childMs + nodeMs) / n), cpuPercentOfOneCore: round(((childMs + nodeMs) / wall) * 100) };
}

async function rtsp(width: number, height: number, fps: number): Promise<Result> {
  const server = spawn('/usr/bin/python3', [new URL('../../test/peers/rtsp_server.py', import.meta.url).pathname, '--width', String(width), '--height', String(height), '--fps', String(fps)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve) => server.stdout!.once('data', (d: Buffer) => resolve((JSON.parse(d.toString()) as { url: string }).url)));
  try {
    return await measure(`rtsp ${width}x${height}@${fps}`, { type: 'rtsp', id: 'bench', url });
  } finally {
    server.kill('SIGKILL');
  }
}

async function gigeInner(): Promise<Result[]> {
  execFileSync('ip', ['link', 'set', 'lo', 'up']);
  const camera = spawn('arv-fake-gv-camera-0.8', ['-i', '127.0.0.1'], { stdio: 'ignore' });
  await sleep(800);
  try {
    return [
      await measure('gige 518x518 Mono8@10', { type: 'gige', id: 'bench', ip: '127.0.0.1', width: 518, height: 518, fps: 10 }),
      await measure('gige 1280x1024 Mono8@10', { type: 'gige', id: 'bench', ip: '127.0.0.1', width: 1280, height: 1024, fps: 10 }),
    ];
  } finally {
    camera.kill('SIGKILL');
  }
}

function synthetic(width: number, height: number): Result {
  const line = new SyntheticLine({ width, height, defectRate: 0.2, kinds: DEFECT_KINDS, seed: 1 });
  line.render(0);
  const start = process.cpuUsage();
  const n = 50;
  for (let i = 1; i <= n; i++) line.render(i);
  const u = process.cpuUsage(start);
  const ms = Math.round(((u.user + u.system) / 1000 / n) * 1000) / 1000;
  return { name: `synthetic ${width}x${height} render`, frames: n, fps: 0, childCpuMsPerFrame: 0, nodeCpuMsPerFrame: ms, totalCpuMsPerFrame: ms, cpuPercentOfOneCore: 0 };
}

if (process.argv[2] === '--gige-inner') {
  console.log(JSON.stringify(await gigeInner()));
} else {
  const results: Result[] = [synthetic(640, 480), synthetic(1920, 1080)];
  results.push(await rtsp(640, 480, 15), await rtsp(1920, 1080, 10));
  try {
    const out = execFileSync('unshare', ['-n', '--', process.execPath, '--import', 'tsx', new URL(import.meta.url).pathname, '--gige-inner'], { env: { ...process.env, BENCH_SECONDS: String(SECONDS) } });
    results.push(...(JSON.parse(out.toString()) as Result[]));
  } catch (err) {
    console.error(`bench: GigE part skipped (needs root for unshare -n): ${(err as Error).message.split('\n')[0]}`);
  }
  const file = process.argv[2] ?? 'tools/bench/drivers-results.json';
  writeFileSync(file, `${JSON.stringify({ at: new Date().toISOString(), seconds: SECONDS, cores: 2, results }, null, 2)}\n`);
  for (const r of results) console.log(`${r.name.padEnd(44)} ${String(r.frames).padStart(4)} frames ${String(r.fps).padStart(7)} fps  ${String(r.totalCpuMsPerFrame).padStart(8)} ms CPU/frame (children ${r.childCpuMsPerFrame}, node ${r.nodeCpuMsPerFrame})`);
  console.log(`written to ${file}`);
}
