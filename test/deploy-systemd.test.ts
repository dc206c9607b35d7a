import test from 'ava';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { freePort } from './helpers/mosquitto.ts';
import { createSystemdNotifier, startWatchdog, watchdogPeriodMs } from '../agent/systemd.ts';

const run = promisify(execFile);
const UNIT = 'deploy/adaptclip-edge.service';

/** Runs `systemd-analyze verify` on a copy of the unit whose ExecStart binary exists here; returns its stderr lines about the unit. */
async function verifyUnit(unitText: string): Promise<{ code: number; complaints: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'unit-'));
  try {
    const file = join(dir, 'adaptclip-edge.service');
    writeFileSync(file, unitText);
    const result = await run('systemd-analyze', ['verify', file]).then(
      (r) => ({ code: 0, stderr: r.stderr }),
      (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
    );
    const complaints = result.stderr.split('\n').filter((line) => line.includes('adaptclip-edge.service'));
    return { code: result.code, complaints };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function withExistingExecStart(unitText: string): string {
  // Same arguments, but the launcher is this machine's node, so verify checks everything else about the unit.
  return unitText.replace(/^ExecStart=\S+/m, `ExecStart=${process.execPath}`);
}

function directives(unitText: string): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const line of unitText.split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (m) map.set(m[1]!, [...(map.get(m[1]!) ?? []), m[2]!]);
  }
  return map;
}

test('systemd-analyze verify accepts the unit without a single warning about it', async (t) => {
  const { code, complaints } = await verifyUnit(withExistingExecStart(readFileSync(UNIT, 'utf8')));
  t.deepEqual(complaints, []);
  t.is(code, 0);
});

test('the verify check fails on a broken unit (so the test above can fail)', async (t) => {
  const broken = withExistingExecStart(readFileSync(UNIT, 'utf8')).replace('Type=notify', 'Type=notfy').replace('[Install]', 'ProtectSystm=strict\n[Install]');
  const { complaints } = await verifyUnit(broken);
  t.true(complaints.some((l) => /service type/i.test(l)), complaints.join('\n'));
  t.true(complaints.some((l) => /Unknown key/i.test(l) && /ProtectSystm/.test(l)), complaints.join('\n'));
});

test('the unit runs as a dedicated user with watchdog, restart limits, journald and device access kept', (t) => {
  const d = directives(readFileSync(UNIT, 'utf8'));
  const one = (key: string) => d.get(key)?.at(-1);
  t.is(one('Type'), 'notify');
  t.is(one('NotifyAccess'), 'all'); // systemd-notify is a child of the daemon
  t.regex(one('WatchdogSec') ?? '', /^\d+s$/);
  t.is(one('Restart'), 'always');
  t.truthy(one('StartLimitIntervalSec'));
  t.true(Number(one('StartLimitBurst')) >= 3);
  t.is(one('User'), 'adaptclip-edge');
  t.is(one('StateDirectory'), 'adaptclip-edge');
  t.is(one('ConfigurationDirectory'), 'adaptclip-edge');
  t.regex(one('ExecStart') ?? '', / run --config \/etc\/adaptclip-edge\/config\.yaml$/);
  t.is(one('StandardOutput'), 'journal');
  t.is(one('ProtectSystem'), 'strict');
  t.is(one('NoNewPrivileges'), 'yes');
  // Cameras and GPUs live in /dev: none of these may hide them.
  t.false(d.has('PrivateDevices'));
  t.false(d.has('DevicePolicy'));
  t.false(d.has('MemoryDenyWriteExecute')); // V8's JIT
  t.regex(one('SupplementaryGroups') ?? '', /\bvideo\b/);
  t.regex(one('RestrictAddressFamilies') ?? '', /AF_INET6?\b/);
});

// A real sd_notify listener: a unix datagram socket that closes the BARRIER fds systemd-notify sends, as PID 1 does.
const LISTENER = `
import socket, sys, os, array
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(sys.argv[1])
print("listening", flush=True)
while True:
    msg, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(64))
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds = array.array("i"); fds.frombytes(data[: len(data) - len(data) % 4])
            for fd in fds: os.close(fd)
    text = msg.decode()
    if text != "BARRIER=1": print(text.replace("\\n", "|"), flush=True)
`;

async function startListener(t: { teardown(fn: () => void): void }): Promise<{ socket: string; messages: string[]; next(): Promise<string>; skipAll(): void }> {
  const dir = mkdtempSync(join(tmpdir(), 'notify-'));
  const socket = join(dir, 'notify.sock');
  const child: ChildProcess = spawn('/usr/bin/python3', ['-c', LISTENER, socket], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => {
    child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  });
  const messages: string[] = [];
  const waiters: ((line: string) => void)[] = [];
  const lines = createInterface({ input: child.stdout! });
  await new Promise<void>((resolve) => lines.once('line', () => resolve()));
  lines.on('line', (line) => {
    messages.push(line);
    waiters.shift()?.(line);
  });
  let read = 0;
  const next = () =>
    new Promise<string>((resolve) => {
      if (read < messages.length) resolve(messages[read++]!);
      else waiters.push((line) => { read++; resolve(line); });
    });
  // Pending waiters only exist when everything was read, so skipping just moves the read position.
  const skipAll = () => { read = messages.length; };
  return { socket, messages, next, skipAll };
}

test('ready, watchdog and stopping reach a real notify socket through systemd-notify', async (t) => {
  const listener = await startListener(t);
  const errors: Error[] = [];
  const notifier = createSystemdNotifier({ env: { NOTIFY_SOCKET: listener.socket, WATCHDOG_USEC: '30000000' }, pid: 4242, onError: (e) => errors.push(e) });
  t.true(notifier.enabled);
  t.is(notifier.watchdogMs, 30000);
  await notifier.ready('2 cameras online\nmodel demo-tiny');
  t.is(await listener.next(), 'READY=1|MAINPID=4242|STATUS=2 cameras online model demo-tiny');
  await notifier.watchdog(false); // a dead pipeline sends nothing
  await notifier.watchdog(true);
  t.is(await listener.next(), 'WATCHDOG=1');
  await notifier.stopping('SIGTERM');
  t.is(await listener.next(), 'STOPPING=1|STATUS=SIGTERM');
  t.deepEqual(listener.messages, ['READY=1|MAINPID=4242|STATUS=2 cameras online model demo-tiny', 'WATCHDOG=1', 'STOPPING=1|STATUS=SIGTERM']);
  t.deepEqual(errors, []);
});

test('the watchdog timer pings at half the period while healthy and stops when the pipeline dies', async (t) => {
  const listener = await startListener(t);
  const notifier = createSystemdNotifier({ env: { NOTIFY_SOCKET: listener.socket, WATCHDOG_USEC: '400000' } });
  let healthy = true;
  const stop = startWatchdog(notifier, () => healthy);
  t.teardown(stop);
  t.is(await listener.next(), 'WATCHDOG=1');
  t.is(await listener.next(), 'WATCHDOG=1');
  healthy = false;
  await new Promise((r) => setTimeout(r, 250)); // let a ping already in flight land
  const count = listener.messages.length;
  await new Promise((r) => setTimeout(r, 900)); // > 4 periods of 200 ms
  t.is(listener.messages.length, count, 'no pings while unhealthy');
  healthy = true;
  t.is(await listener.next(), 'WATCHDOG=1');
});

test('without NOTIFY_SOCKET nothing is spawned and nothing fails', async (t) => {
  const errors: Error[] = [];
  const notifier = createSystemdNotifier({ env: {}, notifyBin: '/nonexistent/systemd-notify', onError: (e) => errors.push(e) });
  t.false(notifier.enabled);
  t.is(notifier.watchdogMs, null);
  await notifier.ready();
  await notifier.watchdog(true);
  await notifier.stopping();
  t.deepEqual(errors, []);
  t.notThrows(startWatchdog(notifier, () => true));
});

test('a failing systemd-notify is reported once per call, naming the message, and does not throw', async (t) => {
  const errors: Error[] = [];
  const notifier = createSystemdNotifier({ env: { NOTIFY_SOCKET: '/nonexistent/notify.sock' }, onError: (e) => errors.push(e) });
  await notifier.ready();
  t.is(errors.length, 1);
  t.regex(errors[0]!.message, /^systemd-notify READY=1 MAINPID=\d+ failed: /);
});

test('WATCHDOG_USEC is honoured only for the process WATCHDOG_PID names', (t) => {
  t.is(watchdogPeriodMs({ WATCHDOG_USEC: '20000000' }, 7), 20000);
  t.is(watchdogPeriodMs({ WATCHDOG_USEC: '20000000', WATCHDOG_PID: '7' }, 7), 20000);
  t.is(watchdogPeriodMs({ WATCHDOG_USEC: '20000000', WATCHDOG_PID: '8' }, 7), null);
  t.is(watchdogPeriodMs({ WATCHDOG_USEC: 'x' }, 7), null);
  t.is(watchdogPeriodMs({}, 7), null);
});

test('the daemon says READY, feeds the watchdog, stops feeding once its inference is dead, and says STOPPING', async (t) => {
  const listener = await startListener(t);
  const dir = mkdtempSync(join(tmpdir(), 'watchdog-daemon-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const pack = join(dir, 'pack');
  cpSync('models/packs/demo-tiny', pack, { recursive: true });
  // The 6th inference call hangs past inferTimeoutMs, so the worker recreates its session from the pack, which is
  // gone by then: inference stays dead (state "failed", retrying) and systemd must be left to restart the daemon.
  writeFileSync(join(dir, 'config.yaml'), [
    'agent:', `  dataDir: ${join(dir, 'data')}`, 'model:', `  pack: ${pack}`, '  inferTimeoutMs: 300',
    'cameras:', '  - station: ST1', '    source: { type: synthetic, id: cam1, fps: 5, width: 64, height: 64 }',
    'http:', '  host: 127.0.0.1', `  port: ${await freePort()}`, 'faults: { hangAfterCalls: 5, hangCalls: 1000, hangMs: 5000 }', '',
  ].join('\n'));
  const daemon = spawn(process.execPath, ['agent/bin.js', 'run', '--config', join(dir, 'config.yaml')], {
    env: { ...process.env, NOTIFY_SOCKET: listener.socket, WATCHDOG_USEC: '600000' }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = ''; // pino writes to stdout, which journald keeps
  daemon.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  daemon.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const exited = new Promise<number | null>((resolve) => daemon.once('exit', (code) => resolve(code)));
  t.teardown(() => { if (daemon.exitCode === null) daemon.kill('SIGKILL'); });

  t.regex(await listener.next(), new RegExp(`^READY=1\\|MAINPID=${daemon.pid}\\|STATUS=running, 1 station`));
  rmSync(pack, { recursive: true, force: true });
  t.is(await listener.next(), 'WATCHDOG=1');
  // Wait until the pings stop, then make sure they stay stopped for several watchdog periods.
  const deadline = Date.now() + 20_000;
  let lastCount = -1;
  while (Date.now() < deadline) {
    lastCount = listener.messages.length;
    await new Promise((r) => setTimeout(r, 1500));
    if (listener.messages.length === lastCount) break;
  }
  t.is(listener.messages.length, lastCount, `pings never stopped; daemon log: ${log.slice(-500)}`);
  await new Promise((r) => setTimeout(r, 1500));
  t.is(listener.messages.length, lastCount, 'no ping while inference is dead');
  t.true(listener.messages.filter((m) => m === 'WATCHDOG=1').length >= 2);
  t.regex(log, /cannot create the inference session/); // the reason the pings stopped, in the journal

  listener.skipAll();
  daemon.kill('SIGTERM');
  t.is(await listener.next(), 'STOPPING=1|STATUS=stopping on SIGTERM');
  t.is(await exited, 0);
});
