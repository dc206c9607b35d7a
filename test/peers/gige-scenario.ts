// Runs inside `unshare -n` (a private network namespace with only loopback): two fake GigE cameras on 127.0.0.1
// and 127.0.0.2, one GigeSource each, camera 1 killed and restarted. Prints one JSON report on stdout.
// Usage: unshare -n -- node --import tsx test/peers/gige-scenario.ts
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createFrameSource } from '../../drivers/index.ts';
import type { PipelineSource } from '../../drivers/pipeline-source.ts';
import { childrenOf } from '../helpers/procs.ts';
import { setTimeout as sleep } from 'node:timers/promises';


execFileSync('ip', ['link', 'set', 'lo', 'up']);
execFileSync('ip', ['addr', 'add', '127.0.0.2/8', 'dev', 'lo']);

function startCamera(ip: string, serial: string): ChildProcess {
  // -i pins the fake camera to one loopback address; it never sees another network.
  return spawn('arv-fake-gv-camera-0.8', ['-i', ip, '-s', serial], { stdio: 'ignore' });
}
async function stopCamera(camera: ChildProcess): Promise<void> {
  if (camera.exitCode !== null || camera.signalCode !== null) return;
  const exited = new Promise((r) => camera.once('exit', r));
  camera.kill('SIGKILL');
  await exited;
}

const cameras = { one: startCamera('127.0.0.1', 'CAM1'), two: startCamera('127.0.0.2', 'CAM2') };
await sleep(800);
const common = { stallMs: 1000, killGraceMs: 500, backoffInitialMs: 200, backoffMaxMs: 1000, firstFrameTimeoutMs: 4000 };
const cam1 = createFrameSource({ type: 'gige', id: 'gige1', ip: '127.0.0.1', width: 518, height: 518, pixelFormat: 'Mono8', fps: 10, ...common }) as PipelineSource;
const cam2 = createFrameSource({ type: 'gige', id: 'gige2', ip: '127.0.0.2', width: 320, height: 240, pixelFormat: 'BayerRG8', fps: 5, ...common }) as PipelineSource;
const log: Record<string, { at: number; width: number; height: number; bytes: number; sum: number }[]> = { gige1: [], gige2: [] };
const states: { id: string; state: string; at: number; error?: string }[] = [];
for (const source of [cam1, cam2]) {
  source.on('frame', (f) => {
    let sum = 0;
    for (let i = 0; i < f.rgb.length; i += 97) sum += f.rgb[i]!;
    log[f.cameraId]!.push({ at: Date.now(), width: f.width, height: f.height, bytes: f.rgb.length, sum });
  });
  source.on('state', (state, st) => states.push({ id: source.id, state, at: Date.now(), ...(st.lastError ? { error: st.lastError } : {}) }));
}
await Promise.all([cam1.start(), cam2.start()]);
// The rate is measured from 1 s after both cameras' first frames: on a busy machine start-up (processes, the first
// buffers) can take longer, and frames queued meanwhile arrive in a burst that is not the camera's rate.
while (!log.gige1!.length || !log.gige2!.length) await sleep(20);
const steadyFrom = Date.now() + 1000;
await sleep(4000);
const killedAt = Date.now();
await stopCamera(cameras.one);
await sleep(2000);
cameras.one = startCamera('127.0.0.1', 'CAM1');
const restartedAt = Date.now();
let recoveredAt: number | undefined;
while (Date.now() - restartedAt < 8000) {
  if (log.gige1!.some((f) => f.at > restartedAt)) {
    recoveredAt = log.gige1!.find((f) => f.at > restartedAt)!.at;
    break;
  }
  await sleep(50);
}
await sleep(500);
const endedAt = Date.now();
await Promise.all([cam1.stop(), cam2.stop()]);
await Promise.all([stopCamera(cameras.one), stopCamera(cameras.two)]);
const pids = new Set([...cam1.recentPids(), ...cam2.recentPids()]);
const rate = (id: string, from: number, to: number) => log[id]!.filter((f) => f.at >= from && f.at < to).length / ((to - from) / 1000);
console.log(
  JSON.stringify({
    fps: { gige1: rate('gige1', steadyFrom, killedAt), gige2: rate('gige2', steadyFrom, killedAt) },
    gige2DuringOutage: rate('gige2', killedAt, restartedAt),
    gige2Overall: rate('gige2', steadyFrom, endedAt),
    recoveryMs: recoveredAt === undefined ? null : recoveredAt - restartedAt,
    frames: Object.fromEntries(Object.entries(log).map(([id, l]) => [id, { count: l.length, sizes: [...new Set(l.map((f) => `${f.width}x${f.height}:${f.bytes}`))], distinctContent: new Set(l.map((f) => f.sum)).size }])),
    states,
    processes: { gige1: cam1.processStats(), gige2: cam2.processStats(), leftover: childrenOf().filter((p) => pids.has(p.pid)) },
  }),
);
