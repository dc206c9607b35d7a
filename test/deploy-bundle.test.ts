// The offline bundle, end to end: build it with deploy/bundle.sh, install it with its install.sh into a temporary
// prefix, and run the installed copy with nothing from this checkout (no repo node_modules on its path).
import test from 'ava';
import { execFile, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, symlinkSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { parse, stringify } from 'yaml';
import { freePort } from './helpers/mosquitto.ts';

const run = promisify(execFile);

const work = mkdtempSync(join(tmpdir(), 'bundle-test-'));
const prefix = join(work, 'prefix');
let bundleDir = '';
let tarball = '';

/** An environment with nothing but Node.js and the base system: no npm, no repo, a fresh HOME. */
const bareEnv = () => ({ PATH: `${dirname(process.execPath)}:/usr/bin:/bin`, HOME: join(work, 'home') });

test.before(async () => {
  // The commands of deploy/README.md "Offline install".
  const built = await run('deploy/bundle.sh', ['--out', join(work, 'dist')], { maxBuffer: 1 << 24 });
  tarball = built.stdout.trim().split('\n').at(-1)!;
  await run('tar', ['-xzf', tarball, '-C', work]);
  bundleDir = join(work, basename(tarball, '.tar.gz'));
  await run(join(bundleDir, 'install.sh'), ['--prefix', prefix], { env: bareEnv() });
});

test.after.always(() => rmSync(work, { recursive: true, force: true }));

test('the bundle holds the app, production node_modules for this platform only, the demo pack and install.sh', (t) => {
  t.regex(tarball, /adaptclip-edge-\d+\.\d+\.\d+-linux-(x64|arm64)-node\d+\.tar\.gz$/);
  const meta = JSON.parse(readFileSync(join(bundleDir, 'bundle.json'), 'utf8'));
  t.is(meta.platform, `${process.platform}-${process.arch}`);
  t.is(meta.nodeAbi, Number(process.versions.modules));
  const app = join(bundleDir, 'app');
  for (const path of ['agent/bin.js', 'agent/cli.ts', 'package.json', 'deploy/adaptclip-edge.service', 'models/packs/demo-tiny/manifest.json',
    'node_modules/better-sqlite3/build/Release/better_sqlite3.node', `node_modules/onnxruntime-node/bin/napi-v6/linux/${process.arch}`, 'node_modules/tsx']) {
    t.true(existsSync(join(app, path)), path);
  }
  // No dev tools, no tests or developer scripts, no other platforms' ONNX Runtime.
  for (const path of ['node_modules/typescript', 'node_modules/ava', 'node_modules/playwright-core', 'test', 'tools', 'node_modules/onnxruntime-node/bin/napi-v6/win32', 'node_modules/onnxruntime-node/bin/napi-v6/darwin']) {
    t.false(existsSync(join(app, path)), path);
  }
});

test('the installed CLI runs with only Node.js on PATH, from the prefix', async (t) => {
  t.is(readlinkSync(join(prefix, 'current')), `releases/${JSON.parse(readFileSync('package.json', 'utf8')).version}`);
  const { stdout } = await run(join(prefix, 'bin/adaptclip-edge'), ['--version'], { env: bareEnv(), cwd: work });
  t.is(stdout.trim(), JSON.parse(readFileSync('package.json', 'utf8')).version);
  const help = await run(join(prefix, 'bin/adaptclip-edge'), ['--help'], { env: bareEnv(), cwd: '/' });
  t.regex(help.stdout, /backup/);
});

test('install --system renders a unit for the prefix that systemd-analyze verify accepts, and keeps an existing config', async (t) => {
  // Its own prefix: re-installing into the shared one would swap files under the agent another test runs from it.
  const systemPrefix = join(work, 'system-prefix');
  const etc = join(work, 'etc');
  const config = join(etc, 'adaptclip-edge/config.yaml');
  const args = ['--prefix', systemPrefix, '--system', '--no-activate', '--unit-dir', join(etc, 'systemd/system'), '--sysusers-dir', join(etc, 'sysusers.d'), '--config-dir', dirname(config)];
  await run(join(bundleDir, 'install.sh'), args, { env: bareEnv() });
  const unit = join(etc, 'systemd/system/adaptclip-edge.service');
  t.regex(readFileSync(unit, 'utf8'), new RegExp(`^ExecStart=${systemPrefix}/bin/adaptclip-edge run --config /etc/adaptclip-edge/config.yaml$`, 'm'));
  // ExecStart is the real installed launcher here, so verify checks the unit as it will run.
  const verify = await run('systemd-analyze', ['verify', unit]).then((r) => r, (e: { code: number; stderr: string; stdout: string }) => e);
  t.deepEqual(verify.stderr.split('\n').filter((l) => l.includes('adaptclip-edge')), []);
  t.true(existsSync(join(etc, 'sysusers.d/adaptclip-edge.conf')));
  t.true(existsSync(config));
  writeFileSync(config, '# edited by the operator\n');
  const again = await run(join(bundleDir, 'install.sh'), args, { env: bareEnv() });
  t.regex(again.stdout, /kept the existing/);
  t.is(readFileSync(config, 'utf8'), '# edited by the operator\n');
});

test('install refuses a bundle built for another Node.js major with one clear line, changing nothing', async (t) => {
  // The same bundle (its app/ linked, not copied), but its bundle.json says another Node.js built it.
  const copy = join(work, 'other-node');
  mkdirSync(copy);
  symlinkSync(join(bundleDir, 'app'), join(copy, 'app'));
  copyFileSync(join(bundleDir, 'install.sh'), join(copy, 'install.sh'));
  copyFileSync(join(bundleDir, 'bundle.json'), join(copy, 'bundle.json'));
  const metaFile = join(copy, 'bundle.json');
  const meta = JSON.parse(readFileSync(metaFile, 'utf8'));
  writeFileSync(metaFile, JSON.stringify({ ...meta, nodeMajor: 18, nodeAbi: 108 }));
  const other = join(work, 'other-prefix');
  const err = await t.throwsAsync(run(join(copy, 'install.sh'), ['--prefix', other], { env: bareEnv() })) as Error & { stderr: string };
  t.is(err.stderr.trim(), `install.sh: this bundle needs Node.js 18 (ABI 108), ${process.execPath} is ${process.version} (ABI ${process.versions.modules}); install Node.js 18 or build the bundle with this Node.js`);
  t.false(existsSync(join(other, 'current')));
  rmSync(copy, { recursive: true, force: true });
});

async function healthz(url: string): Promise<number> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(2000) })).status;
  } catch {
    return 0;
  }
}

test('the installed agent starts on the demo config, /healthz answers, the container health check agrees, backup works live', async (t) => {
  const app = join(prefix, 'current');
  // deploy/demo.yaml as installed, with a temporary data dir and free ports (the guide runs it unchanged).
  const config = parse(readFileSync(join(app, 'deploy/demo.yaml'), 'utf8'));
  config.agent.dataDir = join(work, 'demo-data');
  config.http.host = '127.0.0.1';
  config.http.port = await freePort();
  if (config.opcua) config.opcua.port = await freePort();
  const configFile = join(work, 'demo.yaml');
  writeFileSync(configFile, stringify(config));
  const launcher = join(prefix, 'bin/adaptclip-edge');
  const agent = spawn(launcher, ['run', '--config', configFile], { cwd: app, env: bareEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  agent.stdout.on('data', (d: Buffer) => (log += d.toString()));
  agent.stderr.on('data', (d: Buffer) => (log += d.toString()));
  const exited = new Promise<number | null>((resolve) => agent.once('exit', (code) => resolve(code)));
  t.teardown(() => { if (agent.exitCode === null) agent.kill('SIGKILL'); });

  const url = `http://127.0.0.1:${config.http.port}/healthz`;
  const deadline = Date.now() + 60_000;
  let status = 0;
  while (Date.now() < deadline && agent.exitCode === null && (status = await healthz(url)) !== 200) await new Promise((r) => setTimeout(r, 300));
  t.is(status, 200, `agent log:\n${log.slice(-2000)}`);

  const check = join(app, 'deploy/container/healthcheck.mjs');
  const healthy = await run(process.execPath, [check, url], { env: bareEnv() });
  t.regex(healthy.stdout, /^healthy: .* answered 200/);

  // Backup while it runs: the online backup API copies a consistent store.
  const backupFile = join(work, 'live-backup.tar');
  await run(launcher, ['backup', '--config', configFile, '--out', backupFile], { cwd: app, env: bareEnv() });
  t.true(existsSync(backupFile));

  agent.kill('SIGTERM');
  t.is(await exited, 0);
  const down = await run(process.execPath, [check, url], { env: bareEnv() }).then(() => null, (e: { code: number; stdout: string }) => e);
  t.is(down?.code, 1);
  t.regex(down?.stdout ?? '', /^unhealthy: .* did not answer \(ECONNREFUSED\)/);

  const restored = await run(launcher, ['restore', '--config', configFile, '--from', backupFile], { cwd: app, env: bareEnv() });
  t.regex(restored.stdout, /^restored schema \d+ store to .*demo-data\/agent\.db/);
});
