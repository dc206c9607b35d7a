// CUDA provider libraries for an offline line PC: deploy/bundle.sh --cuda-libs carries them, the bundle's install.sh
// verifies them and puts them where onnxruntime-node looks, and `adaptclip-edge doctor` finds them there. The real
// libraries (hundreds of MB, from NuGet) are not on this machine: small real ELF shared objects compiled here stand in
// for them under the names onnxruntime-node 1.30's install step uses. One bundle serves all tests.
import test from 'ava';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
type Failure = Error & { code: number; stdout: string; stderr: string };

const NAMES = ['libonnxruntime_providers_cuda.so', 'libonnxruntime_providers_shared.so', 'libonnxruntime_providers_tensorrt.so'];
const work = mkdtempSync(join(tmpdir(), 'cuda-libs-test-'));
const libs = join(work, 'libs');
const prefix = join(work, 'prefix');
let bundleDir = '';

const bareEnv = () => ({ PATH: `${dirname(process.execPath)}:/usr/bin:/bin`, HOME: join(work, 'home') });
const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const ortBin = (app: string) => join(app, 'node_modules/onnxruntime-node/bin/napi-v6/linux', process.arch);

test.before(async () => {
  mkdirSync(libs);
  // Each its own content (a different symbol), so a mix-up of names would show in the sha256s.
  for (const name of NAMES) {
    const src = join(work, `${name}.c`);
    writeFileSync(src, `int adaptclip_${name.replace(/\W/g, '_')}(void) { return 1; }\n`);
    await run('cc', ['-shared', '-fPIC', '-o', join(libs, name), src]);
  }
  const built = await run('deploy/bundle.sh', ['--out', join(work, 'dist'), '--cuda-libs', libs], { maxBuffer: 1 << 24 });
  const tarball = built.stdout.trim().split('\n').at(-1)!;
  await run('tar', ['-xzf', tarball, '-C', work]);
  bundleDir = join(work, basename(tarball, '.tar.gz'));
  await run(join(bundleDir, 'install.sh'), ['--prefix', prefix], { env: bareEnv() });
});

test.after.always(() => rmSync(work, { recursive: true, force: true }));

test('bundle.json lists the libraries with size and sha256; install puts them into onnxruntime-node\'s bin folder; doctor finds them', async (t) => {
  const meta = JSON.parse(readFileSync(join(bundleDir, 'bundle.json'), 'utf8')) as { onnxruntimeCuda: boolean; cudaLibs: { name: string; size: number; sha256: string }[] };
  t.true(meta.onnxruntimeCuda);
  t.deepEqual(meta.cudaLibs, NAMES.map((name) => ({ name, size: readFileSync(join(libs, name)).length, sha256: sha256(join(libs, name)) })));
  // Carried once, beside the app, not also inside its node_modules.
  t.deepEqual(readdirSync(join(bundleDir, 'cuda-libs')).sort(), NAMES);
  t.false(readdirSync(ortBin(join(bundleDir, 'app'))).some((f) => f.startsWith('libonnxruntime_providers_')));

  const app = join(prefix, 'current');
  for (const name of NAMES) t.is(sha256(join(ortBin(app), name)), sha256(join(libs, name)), name);
  t.false(readdirSync(ortBin(app)).some((f) => f.endsWith('.partial')));

  const { stdout } = await run(join(prefix, 'bin/adaptclip-edge'), ['doctor', '--json'], { env: bareEnv(), cwd: '/', maxBuffer: 1 << 22 });
  const report = JSON.parse(stdout) as { onnxruntime: { libraryDir: string; providerLibraries: Record<string, boolean> } };
  t.is(report.onnxruntime.libraryDir, join(prefix, readlinkSync(app), 'node_modules/onnxruntime-node/bin/napi-v6/linux', process.arch));
  t.deepEqual(report.onnxruntime.providerLibraries, Object.fromEntries(NAMES.map((n) => [n, true])));
});

test('bundle.sh refuses a text file named like a provider library with one line naming it, and writes nothing', async (t) => {
  const bad = join(work, 'bad-libs');
  cpSync(libs, bad, { recursive: true });
  writeFileSync(join(bad, 'libonnxruntime_providers_cuda.so'), 'not a library\n');
  const out = join(work, 'bad-dist');
  const err = await t.throwsAsync(run('deploy/bundle.sh', ['--out', out, '--cuda-libs', bad])) as Failure;
  t.not(err.code, 0);
  const lines = err.stderr.trim().split('\n');
  t.is(lines.length, 1, err.stderr);
  t.regex(lines[0]!, new RegExp(`^bundle\\.sh: ${bad}/libonnxruntime_providers_cuda\\.so is not an ELF 64-bit x86-64 shared object .*ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci.*; no bundle was written$`));
  // An ELF file that is not a shared object (a relocatable .o) is refused the same way.
  await run('cc', ['-c', '-o', join(bad, 'libonnxruntime_providers_cuda.so'), join(work, 'libonnxruntime_providers_cuda.so.c')]);
  const obj = await t.throwsAsync(run('deploy/bundle.sh', ['--out', out, '--cuda-libs', bad])) as Failure;
  t.regex(obj.stderr, new RegExp(`^bundle\\.sh: ${bad}/libonnxruntime_providers_cuda\\.so is not an ELF 64-bit x86-64 shared object .*; no bundle was written\n$`));
  // A SHA256SUMS beside the libraries (the collect command writes one) must match them.
  const summed = join(work, 'summed-libs');
  cpSync(libs, summed, { recursive: true });
  writeFileSync(join(summed, 'SHA256SUMS'), NAMES.map((n) => `${sha256(join(libs, n))}  ${n}\n`).join(''));
  appendFileSync(join(summed, NAMES[2]!), '\0');
  const sums = await t.throwsAsync(run('deploy/bundle.sh', ['--out', out, '--cuda-libs', summed])) as Failure;
  t.regex(sums.stderr, new RegExp(`^bundle\\.sh: ${summed}/${NAMES[2]!.replace(/\./g, '\\.')} has sha256 ${sha256(join(summed, NAMES[2]!))}, ${summed}/SHA256SUMS says ${sha256(join(libs, NAMES[2]!))}: .*; no bundle was written\n$`));
  t.false(existsSync(out));
});

test('bundle.sh with a missing --cuda-libs folder or a missing library: one line each, nothing written', async (t) => {
  const out = join(work, 'missing-dist');
  const gone = await t.throwsAsync(run('deploy/bundle.sh', ['--out', out, '--cuda-libs', join(work, 'no-such-dir')])) as Failure;
  t.is(gone.stderr.trim().split('\n').length, 1, gone.stderr);
  t.regex(gone.stderr, new RegExp(`^bundle\\.sh: ${work}/no-such-dir is not a folder; collect them on a connected machine after 'ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci'`));
  const partial = join(work, 'partial-libs');
  mkdirSync(partial);
  copyFileSync(join(libs, NAMES[0]!), join(partial, NAMES[0]!));
  const short = await t.throwsAsync(run('deploy/bundle.sh', ['--out', out, '--cuda-libs', partial])) as Failure;
  t.is(short.stderr.trim().split('\n').length, 1, short.stderr);
  t.regex(short.stderr, new RegExp(`^bundle\\.sh: ${partial}/libonnxruntime_providers_shared\\.so is missing`));
  t.false(existsSync(out));
});

test('install refuses a library changed after bundling with one line, and changes nothing in the prefix', async (t) => {
  // The same bundle (app/ linked, not copied) with one of its libraries altered by a byte.
  const copy = join(work, 'tampered');
  mkdirSync(copy);
  symlinkSync(join(bundleDir, 'app'), join(copy, 'app'));
  for (const f of ['install.sh', 'bundle.json']) copyFileSync(join(bundleDir, f), join(copy, f));
  cpSync(join(bundleDir, 'cuda-libs'), join(copy, 'cuda-libs'), { recursive: true });
  const tampered = join(copy, 'cuda-libs/libonnxruntime_providers_shared.so');
  appendFileSync(tampered, '\0');

  const releases = readdirSync(join(prefix, 'releases')).sort();
  const current = readlinkSync(join(prefix, 'current'));
  const installed = NAMES.map((n) => sha256(join(ortBin(join(prefix, 'current')), n)));
  const err = await t.throwsAsync(run(join(copy, 'install.sh'), ['--prefix', prefix], { env: bareEnv() })) as Failure;
  t.not(err.code, 0);
  const lines = err.stderr.trim().split('\n');
  t.is(lines.length, 1, err.stderr);
  t.regex(lines[0]!, new RegExp(`^install\\.sh: ${tampered} has sha256 ${sha256(tampered)}, .* says ${sha256(join(libs, 'libonnxruntime_providers_shared.so'))}: the file was changed or damaged after it was recorded; .*; nothing was changed$`));
  t.deepEqual(readdirSync(join(prefix, 'releases')).sort(), releases);
  t.is(readlinkSync(join(prefix, 'current')), current);
  t.deepEqual(NAMES.map((n) => sha256(join(ortBin(join(prefix, 'current')), n))), installed);
});
