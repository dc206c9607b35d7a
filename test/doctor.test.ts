// doctor on this machine: the CPU features it names are /proc/cpuinfo's, the providers it tries on a pack are
// really opened (cpu opens; cuda without its library fails with the reason), and the verdict follows from them.
import test from 'ava';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../agent/commands/pack.ts';
import { findLibrary, type DoctorReport } from '../models/doctor.ts';

const exec = promisify(execFile);
const DEMO = 'models/packs/demo-tiny';

test('doctor --json --pack: CPU features from /proc/cpuinfo, providers tried on the pack, where it runs and why', async (t) => {
  const { stdout, stderr } = await exec(process.execPath, ['agent/bin.js', 'doctor', '--json', '--pack', DEMO], { cwd: REPO_ROOT });
  t.is(stderr, '', 'no native log dump');
  const r = JSON.parse(stdout) as DoctorReport;
  const flags = new Set((/^flags\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? '').split(/\s+/));
  for (const f of ['avx2', 'avx512f', 'avx512_vnni'] as const) t.is(r.cpu.features[f], flags.has(f), f);
  t.is(r.onnxruntime.version, JSON.parse(readFileSync('node_modules/onnxruntime-node/package.json', 'utf8')).version);
  t.true(r.onnxruntime.backends.some((b) => b.name === 'cpu'));
  t.like(r.providers!.find((p) => p.name === 'cpu'), { ok: true });
  t.regex(r.pack!.id, /^demo-tiny@[0-9a-f]{12}$/);
  const cudaLib = r.onnxruntime.providerLibraries['libonnxruntime_providers_cuda.so'];
  t.is(cudaLib, existsSync(`${r.onnxruntime.libraryDir}/libonnxruntime_providers_cuda.so`));
  if (!cudaLib) {
    const cuda = r.providers!.find((p) => p.name === 'cuda')!;
    t.false(cuda.ok);
    t.regex(cuda.reason!, /\S/);
    t.regex(r.runsOn, /^cpu \(model\.device cuda would fall back to cpu: onnxruntime-node's CUDA provider library is not installed/);
    t.regex(r.advice[0]!, /int8 pack/);
  }
});

test('doctor without --pack prints one line per fact, a "runs on" line, and starts nothing', async (t) => {
  const { stdout } = await exec(process.execPath, ['agent/bin.js', 'doctor'], { cwd: REPO_ROOT });
  t.regex(stdout, /^cpu: .*, \d+ cores, \d+ GB; avx2 (yes|no), /m);
  t.regex(stdout, /^onnxruntime-node \d+\.\d+\.\d+: backends cpu/m);
  t.regex(stdout, /^gpu: /m);
  t.regex(stdout, /^runs on: (cpu|cuda)/m);
  t.notRegex(stdout, /^provider (cpu|cuda|tensorrt):/m, 'no provider is tried without a pack');
});

test('findLibrary reads the soname from ldconfig -p lines', (t) => {
  const ldconfig = '\tlibcudnn.so.9 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libcudnn.so.9\n\tlibcudart.so.12 (libc6,x86-64) => /usr/local/cuda/lib64/libcudart.so.12\n';
  t.is(findLibrary(ldconfig, 'libcudnn'), 'libcudnn.so.9');
  t.is(findLibrary(ldconfig, 'libcudart'), 'libcudart.so.12');
  t.is(findLibrary(ldconfig, 'libnvinfer'), null);
});
