// The daemon as people start it: the demo config through the CLI (as `npm start` does), safe mode, SIGTERM.
import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { waitFor } from '../agent/harness.ts';
import { freePort } from './helpers/mosquitto.ts';

function run(config: string, t: { teardown: (fn: () => void) => void }): { child: ChildProcess; out: () => string } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'agent/cli.ts', 'run', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  t.teardown(() => {
    if (child.pid && child.exitCode === null && child.signalCode === null) process.kill(child.pid, 'SIGKILL');
  });
  return { child, out: () => out };
}

function tempDir(t: { teardown: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'agent-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('the demo config (as npm start runs it) prints where everything is, shows verdicts within 10 s, and SIGTERM exits in ≤ 10 s', async (t) => {
  const dir = tempDir(t);
  const port = await freePort();
  // deploy/demo.yaml itself, moved only to a free port and a temp data folder (tests run in parallel).
  const demo = parse(readFileSync('deploy/demo.yaml', 'utf8')) as Record<string, Record<string, unknown>>;
  demo.http!.port = port;
  demo.agent!.dataDir = join(dir, 'data');
  if (demo.opcua) demo.opcua.port = await freePort();
  const config = join(dir, 'demo.yaml');
  writeFileSync(config, stringify(demo));
  const started = Date.now();
  const { child, out } = run(config, t);
  const url = `http://127.0.0.1:${port}`;
  const first = await waitFor(async () => {
    try {
      const st = (await (await fetch(`${url}/api/stations`)).json()) as { latest: { outcome: string } | null }[];
      return st[0]?.latest;
    } catch {
      return null;
    }
  }, 10_000, 'a verdict in the UI API');
  t.true(Date.now() - started < 10_000, `first verdict after ${Date.now() - started} ms`);
  t.regex(first.outcome, /^(PASS|FAIL)$/);
  await waitFor(() => out().includes('stations'), 2000, 'the banner');
  t.regex(out(), new RegExp(`web UI\\s+http://localhost:${port}/`));
  t.regex(out(), /OPC UA\s+opc\.tcp:\/\/\S+:\d+/);
  t.regex(out(), new RegExp(`data\\s+${join(dir, 'data').replaceAll('/', '\\/')}`));
  const html = await (await fetch(`${url}/`)).text();
  t.regex(html, /<title>adaptclip-edge<\/title>/);
  // SIGHUP: an invalid file is refused and changes nothing; a changed camera is restarted alone.
  writeFileSync(config, stringify(demo).replace('fps: 2', 'fps: 2\n      bogus: 1'));
  process.kill(child.pid!, 'SIGHUP');
  await waitFor(() => out().includes('reload refused'), 5000, 'the refused reload');
  (demo.cameras as unknown as { source: { fps: number } }[])[0]!.source.fps = 3;
  writeFileSync(config, stringify(demo));
  process.kill(child.pid!, 'SIGHUP');
  await waitFor(() => out().includes('"msg":"config reloaded"'), 5000, 'the reload');
  t.regex(out(), /"restarted":\["ST1"\]/);
  const t0 = Date.now();
  const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  process.kill(child.pid!, 'SIGTERM');
  const code = await exit;
  t.is(code, 0, out().slice(-2000));
  t.true(Date.now() - t0 <= 10_000, `exit took ${Date.now() - t0} ms`);
  // The stop log proves every frame was settled: captured equals the sum of outcomes, nothing pending.
  const stopLine = out().split('\n').find((l) => l.includes('"msg":"stopped"'));
  t.truthy(stopLine, out().slice(-2000));
  const counters = (JSON.parse(stopLine!) as { counters: Record<string, { captured: number; pending: number; outcomes: Record<string, number> }> }).counters;
  for (const c of Object.values(counters)) {
    t.is(c.pending, 0);
    t.is(c.captured, Object.values(c.outcomes).reduce((a, b) => a + b, 0));
  }
});

test('an invalid config starts SAFE MODE: API up, no cameras, health names the problem with file:line', async (t) => {
  const dir = tempDir(t);
  const port = await freePort();
  const config = join(dir, 'bad.yaml');
  writeFileSync(config, `agent:\n  dataDir: ${join(dir, 'data')}\nmodel:\n  pack: x\n  maxBach: 3\nhttp:\n  port: ${port}\n  host: 127.0.0.1\n`);
  const { child, out } = run(config, t);
  const url = `http://127.0.0.1:${port}`;
  const res = await waitFor(async () => {
    try {
      return await fetch(`${url}/healthz`);
    } catch {
      return null;
    }
  }, 15_000, 'the API in safe mode');
  t.is(res.status, 503);
  const h = (await res.json()) as { safeMode: boolean; components: { config: { ok: boolean; reason: string } } };
  t.true(h.safeMode);
  t.false(h.components.config.ok);
  t.true(h.components.config.reason.includes(`${config}:5: model.maxBach: unknown key`), h.components.config.reason);
  t.deepEqual(await (await fetch(`${url}/api/stations`)).json(), []);
  const write = await fetch(`${url}/api/products`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":"x"}' });
  t.is(write.status, 403);
  t.regex(((await write.json()) as { error: string }).error, /writes are disabled: set http\.token/);
  t.regex(out(), /SAFE MODE/);
  const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  process.kill(child.pid!, 'SIGTERM');
  t.is(await exit, 0);
});
