// What the agent would run on, and why: CPU features, the ONNX Runtime build and its execution-provider libraries,
// CUDA / cuDNN / TensorRT libraries the loader can find, the NVIDIA driver and GPUs, and (given a pack) which
// providers actually open its sessions. Read-only: starts no daemon, changes nothing.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { availableParallelism, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import ort from 'onnxruntime-node';
import { messageOf } from './errors.ts';
import { loadPack } from './pack.ts';

const exec = promisify(execFile);
const require = createRequire(import.meta.url);

export interface DoctorReport {
  cpu: { model: string; cores: number; memoryGb: number; features: Record<string, boolean> };
  onnxruntime: { version: string; backends: { name: string; bundled: boolean }[]; libraryDir: string; providerLibraries: Record<string, boolean> };
  /** Shared libraries the dynamic loader knows (ldconfig), by what they are: soname found or null. */
  libraries: Record<'cudart' | 'cublas' | 'cudnn' | 'tensorrt', string | null>;
  gpu: { driver: string | null; devices: { name: string; memoryMb: number }[]; note: string | null };
  /** Given a pack: each provider tried on its smallest graph, ok or the reason it failed. */
  providers?: { name: 'cpu' | 'cuda' | 'tensorrt'; ok: boolean; reason?: string }[];
  pack?: { id: string; precision: string };
  /** The device the agent would run on with model.device cuda, and with cpu. */
  runsOn: string;
  advice: string[];
}

const FEATURES = ['avx2', 'fma', 'f16c', 'avx512f', 'avx512bw', 'avx512_vnni', 'avx_vnni', 'amx_int8'] as const;

export function cpuInfo(text: string): { model: string; features: Record<string, boolean> } {
  const flags = new Set((/^flags\s*:\s*(.*)$/m.exec(text)?.[1] ?? '').split(/\s+/));
  const model = /^model name\s*:\s*(.*)$/m.exec(text)?.[1]?.trim() ?? 'unknown';
  return { model, features: Object.fromEntries(FEATURES.map((f) => [f, flags.has(f)])) };
}

/** The soname of the first ldconfig entry matching, e.g. libcudnn.so.9 → "libcudnn.so.9". */
export function findLibrary(ldconfig: string, stem: string): string | null {
  const re = new RegExp(`^\\s*(${stem.replace(/\./g, '\\.')}\\.so(?:\\.\\d+)*)\\s`, 'm');
  return re.exec(ldconfig)?.[1] ?? null;
}

async function run(file: string, args: string[]): Promise<string | null> {
  try {
    return (await exec(file, args, { timeout: 10_000 })).stdout;
  } catch {
    return null;
  }
}

async function tryProvider(path: string, name: 'cpu' | 'cuda' | 'tensorrt'): Promise<{ name: 'cpu' | 'cuda' | 'tensorrt'; ok: boolean; reason?: string }> {
  try {
    const session = await ort.InferenceSession.create(path, { executionProviders: [name], logSeverityLevel: 4 });
    await session.release();
    return { name, ok: true };
  } catch (err) {
    return { name, ok: false, reason: messageOf(err).split('\n')[0]!.slice(0, 300) };
  }
}

export async function doctor(options: { pack?: string } = {}): Promise<DoctorReport> {
  const cpuText = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '';
  const { model, features } = cpuInfo(cpuText);
  const ortDir = dirname(require.resolve('onnxruntime-node/package.json'));
  const version = (JSON.parse(readFileSync(join(ortDir, 'package.json'), 'utf8')) as { version: string }).version;
  const binDir = join(ortDir, 'bin');
  const libraryDir = existsSync(binDir)
    ? (readdirSync(binDir).map((napi) => join(binDir, napi, process.platform, process.arch)).find((d) => existsSync(d)) ?? binDir)
    : binDir;
  const providerLibraries = Object.fromEntries(['shared', 'cuda', 'tensorrt'].map((p) => [`libonnxruntime_providers_${p}.so`, existsSync(join(libraryDir, `libonnxruntime_providers_${p}.so`))]));
  const ldconfig = (await run('/sbin/ldconfig', ['-p'])) ?? (await run('ldconfig', ['-p'])) ?? '';
  const libraries = {
    cudart: findLibrary(ldconfig, 'libcudart'),
    cublas: findLibrary(ldconfig, 'libcublas'),
    cudnn: findLibrary(ldconfig, 'libcudnn'),
    tensorrt: findLibrary(ldconfig, 'libnvinfer'),
  };
  const smi = await run('nvidia-smi', ['--query-gpu=name,driver_version,memory.total', '--format=csv,noheader,nounits']);
  const devices = (smi ?? '').trim().split('\n').filter(Boolean).map((line) => line.split(',').map((s) => s.trim()));
  const procDriver = existsSync('/proc/driver/nvidia/version') ? /Kernel Module\s+(\S+)/.exec(readFileSync('/proc/driver/nvidia/version', 'utf8'))?.[1] ?? null : null;
  const gpu = {
    driver: devices[0]?.[1] ?? procDriver,
    devices: devices.map((d) => ({ name: d[0]!, memoryMb: Number(d[2]) })),
    note: smi === null ? 'nvidia-smi not found or failed: no NVIDIA driver visible' : null,
  };
  const report: DoctorReport = {
    cpu: { model, cores: availableParallelism(), memoryGb: Math.round(totalmem() / 2 ** 30), features },
    onnxruntime: { version, backends: ort.listSupportedBackends(), libraryDir, providerLibraries },
    libraries,
    gpu,
    runsOn: '',
    advice: [],
  };
  if (options.pack) {
    // ORT's native logger prints multi-line dumps for a missing provider library; the reason is in our line.
    if (ort.env.logLevel === undefined || ort.env.logLevel === 'warning') ort.env.logLevel = 'fatal';
    const pack = await loadPack(options.pack);
    report.pack = { id: pack.id, precision: pack.manifest.precision ?? 'fp32' };
    // The zero-shot heads: the smallest graph, enough to see whether a provider loads at all.
    report.providers = [];
    for (const name of ['cuda', 'tensorrt', 'cpu'] as const) report.providers.push(await tryProvider(pack.files.zeroShot, name));
  }
  const cudaLib = providerLibraries['libonnxruntime_providers_cuda.so'];
  const cudaOk = report.providers?.find((p) => p.name === 'cuda')?.ok;
  const whyNotCuda = !cudaLib
    ? `onnxruntime-node's CUDA provider library is not installed in ${libraryDir} (install with ONNXRUNTIME_NODE_INSTALL=cuda12, or deploy/bundle.sh --cuda-libs)`
    : !gpu.devices.length
      ? 'no NVIDIA GPU or driver is visible'
      : !libraries.cudart || !libraries.cudnn
        ? `the loader finds no ${!libraries.cudart ? 'CUDA runtime (libcudart)' : 'cuDNN (libcudnn)'}`
        : cudaOk === false
          ? `the CUDA provider failed to open the pack: ${report.providers!.find((p) => p.name === 'cuda')!.reason}`
          : null;
  report.runsOn = whyNotCuda ? `cpu (model.device cuda would fall back to cpu: ${whyNotCuda})` : cudaOk ? 'cuda (it opened the pack)' : 'cuda, if the pack opens on it (pass --pack to try)';
  const vnni = features.avx512_vnni || features.avx_vnni;
  if (whyNotCuda) {
    report.advice.push(`CPU: an int8 pack (pack convert --precision int8${vnni ? ' --full-range: this CPU has VNNI' : ': 7-bit weights, this CPU has no VNNI'}) with model.device cpu`);
    if (!features.avx2) report.advice.push('this CPU lacks AVX2: ONNX Runtime runs its slow generic kernels; expect several times the figures in the README');
  } else {
    report.advice.push('GPU: an fp16 pack (pack convert --precision fp16) with model.device cuda (or tensorrt)');
  }
  return report;
}

export function formatDoctor(r: DoctorReport): string {
  const yes = (b: boolean) => (b ? 'yes' : 'no');
  const lines = [
    `cpu: ${r.cpu.model}, ${r.cpu.cores} cores, ${r.cpu.memoryGb} GB; ${Object.entries(r.cpu.features).map(([k, v]) => `${k} ${yes(v)}`).join(', ')}`,
    `onnxruntime-node ${r.onnxruntime.version}: backends ${r.onnxruntime.backends.map((b) => `${b.name}${b.bundled ? '' : ' (needs its library)'}`).join(', ')}`,
    `provider libraries in ${r.onnxruntime.libraryDir}: ${Object.entries(r.onnxruntime.providerLibraries).map(([k, v]) => `${k} ${yes(v)}`).join(', ')}`,
    `libraries the loader finds: ${Object.entries(r.libraries).map(([k, v]) => `${k} ${v ?? 'none'}`).join(', ')}`,
    `gpu: ${r.gpu.devices.length ? r.gpu.devices.map((d) => `${d.name} (${d.memoryMb} MiB)`).join(', ') : 'none'}; driver ${r.gpu.driver ?? 'none'}${r.gpu.note ? ` (${r.gpu.note})` : ''}`,
  ];
  if (r.pack) lines.push(`pack ${r.pack.id}: ${r.pack.precision}`);
  for (const p of r.providers ?? []) lines.push(`provider ${p.name}: ${p.ok ? 'opens the pack' : `fails: ${p.reason}`}`);
  lines.push(`runs on: ${r.runsOn}`);
  for (const a of r.advice) lines.push(`advice: ${a}`);
  return `${lines.join('\n')}\n`;
}
