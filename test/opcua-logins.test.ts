// OPC UA login abuse against the real server and a real node-opcua client: a wrong password costs the same whether
// the user exists or not (no user enumeration by timing); failed logins are logged (rate-limited, never the
// password), counted in /metrics and slowed down; opcua.host restricts the listening address.
import test from 'ava';
import { mkdtempSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { UserTokenType } from 'node-opcua';
import { opcuaConfigSchema } from '../adapters/opcua/config.ts';
import { createOpcUaSink, type OpcUaSink, type OpcUaSinkDeps } from '../adapters/opcua/sink.ts';
import { createSqliteStationStore } from '../adapters/opcua/state-store.ts';
import { createUserManager, hashPassword, type LoginFailure } from '../adapters/opcua/users.ts';
import { openDatabase } from '../agent/store/db.ts';
import { makeClient, Plc, trustRejected } from './helpers/plc-client.ts';
import { TestStation } from './helpers/test-station.ts';
import { startHarness } from './helpers/harness.ts';
import { connectPlc } from './helpers/plc.ts';
import { freePort } from './helpers/mosquitto.ts';

const dir = mkdtempSync(join(tmpdir(), 'opcua-logins-'));
const db = openDatabase(join(dir, 'agent.db'));
const PLC_PW = 'Plc-Secret-Pw-77';
const users = [
  { username: 'plc', passwordHash: hashPassword(PLC_PW), role: 'plc' },
  { username: 'viewer', password: 'Viewer-Clear-Pw-5', role: 'viewer' },
];
const base = { port: 0, hostname: '127.0.0.1', dataDir: dir, stations: ['ST1'], users };
const clientPki = join(dir, 'client-pki');
const started: OpcUaSink[] = [];
let trusted = false;

async function start(overrides: Record<string, unknown> = {}, deps: Partial<OpcUaSinkDeps> = {}) {
  const s = createOpcUaSink(opcuaConfigSchema.parse({ ...base, ...overrides }), { store: createSqliteStationStore(db), agentVersion: '0.1.0', ...deps });
  const station = new TestStation('ST1', db, [s]);
  started.push(s);
  await s.start(station);
  station.publishStatus();
  if (!trusted) {
    // The integrator's first step: the client certificate lands in rejected/ and is trusted.
    const probe = makeClient({ pkiDir: clientPki });
    await probe.connect(s.endpointUrl()).catch(() => {});
    await probe.disconnect();
    await trustRejected(s.pkiDir);
    trusted = true;
  }
  return s;
}

test.after.always(async () => {
  for (const s of started) await s.stop().catch(() => {});
  db.close();
});

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

test.serial('a wrong password takes as long for an unknown user as for a known one (medians within 20 %)', async (t) => {
  // Throttling off here (it would delay both kinds alike and only slow the test down); no log either (every
  // unknown name would be a new line, the known one is rate-limited: an asymmetry the test would measure).
  const sink = await start({ loginThrottle: { afterFailures: 1_000_000 } }, { log: { info: () => {}, warn: () => {} } });
  const plc = await Plc.connect(sink.endpointUrl(), { pkiDir: clientPki, user: 'plc', password: PLC_PW, station: 'ST1' });
  t.teardown(() => plc.close());
  // Each attempt is one ActivateSession on the open session (session.changeUser): the real client and server path
  // (encrypted password token, the server's user check), without the secure-channel and CreateSession set-up
  // (RSA handshakes, tens of ms of noise on a loaded machine) that is the same for both kinds anyway.
  const attempt = async (userName: string, password: string) => {
    const t0 = performance.now();
    const status = await plc.session.changeUser({ type: UserTokenType.UserName, userName, password });
    const ms = performance.now() - t0;
    t.false(status.isGood(), `${userName} must be refused`);
    return ms;
  };
  const known: number[] = [];
  const unknown: number[] = [];
  for (let i = 0; i < 42; i++) {
    // Interleaved, alternating which kind goes first, so load changes hit both kinds alike; 2 warm-up rounds.
    const k = () => attempt('plc', `wrong-${i}`);
    const u = () => attempt(`nobody-${i}`, `wrong-${i}`);
    const [a, b] = i % 2 ? [await u(), await k()].reverse() : [await k(), await u()];
    if (i < 2) continue;
    known.push(a!);
    unknown.push(b!);
  }
  const mk = median(known);
  const mu = median(unknown);
  t.log(`median ActivateSession with a wrong password over ${known.length} attempts each: known user ${mk.toFixed(1)} ms, unknown user ${mu.toFixed(1)} ms (ratio ${(Math.max(mk, mu) / Math.min(mk, mu)).toFixed(2)})`);
  t.true(Math.max(mk, mu) <= 1.2 * Math.min(mk, mu), `medians differ by more than 20 %: known ${mk.toFixed(1)} ms, unknown ${mu.toFixed(1)} ms`);
  // The session still works with the right identity afterwards; a clear-text (demo) password is checked the same way.
  t.true((await plc.session.changeUser({ type: UserTokenType.UserName, userName: 'plc', password: PLC_PW })).isGood());
  t.true((await plc.session.changeUser({ type: UserTokenType.UserName, userName: 'viewer', password: 'Viewer-Clear-Pw-5' })).isGood());
  t.false((await plc.session.changeUser({ type: UserTokenType.UserName, userName: 'viewer', password: 'Viewer-Clear-Pw-' })).isGood());
});

test.serial('failed logins are logged (rate-limited, no password), reported, and slowed down; a correct login after the delay works', async (t) => {
  const lines: string[] = [];
  const failures: LoginFailure[] = [];
  const sink = await start({}, { log: { info: () => {}, warn: (m) => lines.push(m) }, onLoginFailure: (f) => failures.push(f), loginLog: { perWindow: 3, windowMs: 60_000 } });
  const url = sink.endpointUrl();
  const login = async (user: string, password: string) => {
    const t0 = performance.now();
    const plc = await Plc.connect(url, { pkiDir: clientPki, user, password, station: 'ST1' }).catch((err: Error) => err);
    return { plc, ms: performance.now() - t0 };
  };
  const wrong: { ms: number }[] = [];
  for (let i = 0; i < 5; i++) {
    const r = await login('plc', `Wrong-Pw-${i}`);
    t.true(r.plc instanceof Error, `wrong password ${i} refused`);
    wrong.push(r);
  }
  // Default throttle: after 3 failures each attempt waits 0.5 s, doubling (cap 8 s).
  t.deepEqual(failures.map((f) => f.delayedMs), [0, 0, 0, 500, 1000]);
  t.true(wrong[3]!.ms >= 500 && wrong[4]!.ms >= 1000, `throttled attempts took ${wrong[3]!.ms.toFixed(0)} and ${wrong[4]!.ms.toFixed(0)} ms`);
  t.true(failures.every((f) => f.username === 'plc' && f.reason === 'bad_password' && /^127\.0\.0\.1:\d+$/.test(f.client)), JSON.stringify(failures));
  // The right password still gets in, after the 2 s the 6th attempt waits; then the count starts over.
  const ok = await login('plc', PLC_PW);
  t.false(ok.plc instanceof Error, `correct login refused: ${(ok.plc as Error).message}`);
  t.true(ok.ms >= 2000, `the correct login waited the throttle delay (${ok.ms.toFixed(0)} ms)`);
  t.is(await (ok.plc as Plc).read('Status.Ready'), true);
  await (ok.plc as Plc).close();
  t.true((await login('plc', 'Wrong-Again')).plc instanceof Error);
  t.is(failures.at(-1)!.delayedMs, 0, 'a success reset the throttle');
  t.true((await login('ghost', 'Whatever-1')).plc instanceof Error);
  t.like(failures.at(-1), { username: 'ghost', reason: 'unknown_user' });

  // Logged: the first 3 per user and client in the window, one by one; the rest in one summary line (at the
  // window's end, here at the server's stop).
  const plcLines = lines.filter((l) => l.includes('login failed for user "plc"'));
  t.is(plcLines.length, 3, lines.join('\n'));
  t.regex(plcLines[0]!, /^opcua: login failed for user "plc" from 127\.0\.0\.1:\d+: wrong password$/);
  t.true(lines.some((l) => /^opcua: login failed for user "ghost" from 127\.0\.0\.1:\d+: unknown user$/.test(l)), lines.join('\n'));
  await sink.stop();
  t.true(lines.some((l) => /^opcua: 3 more failed login\(s\) for user "plc" from 127\.0\.0\.1 in 60 s, not logged one by one$/.test(l)), lines.join('\n'));
  for (const pw of [PLC_PW, 'Wrong-Pw-0', 'Wrong-Pw-4', 'Wrong-Again', 'Whatever-1']) t.false(lines.some((l) => l.includes(pw)), `password ${pw} in the log`);
});

test.serial('throttle: per client address and per user name, capped, reset by a quiet period', async (t) => {
  const failures: LoginFailure[] = [];
  const users = createUserManager([{ username: 'plc', password: 'Right-Pw-1', role: 'plc' }], false, {
    throttle: { afterFailures: 2, initialDelayMs: 100, maxDelayMs: 400, resetAfterMs: 1000 }, onFailure: (f) => failures.push(f),
  });
  const from = (address: string) => ({ address, port: 1234 });
  for (let i = 0; i < 6; i++) t.false(await users.login('plc', `no-${i}`, from('10.0.0.1')));
  t.deepEqual(failures.map((f) => f.delayedMs), [0, 0, 100, 200, 400, 400], 'doubling from the 2nd failure on, capped at 400');
  // The user name is throttled from another address too, and the address for another user name.
  t.false(await users.login('plc', 'no', from('10.0.0.2')));
  t.false(await users.login('someone', 'no', from('10.0.0.1')));
  t.deepEqual(failures.slice(6).map((f) => f.delayedMs), [400, 400]);
  // An unrelated user from an unrelated address is not slowed down.
  t.false(await users.login('other', 'no', from('10.0.0.3')));
  t.is(failures.at(-1)!.delayedMs, 0);
  // A quiet period (resetAfterMs without a failure) starts over.
  await new Promise((r) => setTimeout(r, 1100));
  t.false(await users.login('plc', 'no', from('10.0.0.1')));
  t.is(failures.at(-1)!.delayedMs, 0);
  t.true(await users.login('plc', 'Right-Pw-1', from('10.0.0.1')), 'a clear-text (demo) password is checked like a hash');
});

test.serial('a client spraying user names cannot flood the log: 10 lines per window in all, then one summary', async (t) => {
  const lines: string[] = [];
  const users = createUserManager([], false, { throttle: { afterFailures: 1_000_000, initialDelayMs: 0, maxDelayMs: 0, resetAfterMs: 60_000 }, log: { warn: (m) => lines.push(m) }, logPerWindow: 1, logWindowMs: 60_000 });
  for (let i = 0; i < 30; i++) t.false(await users.login(`spray-${i}`, 'pw', { address: '10.1.2.3', port: 40000 + i }));
  t.is(lines.length, 10, lines.join('\n'));
  t.regex(lines[9]!, /^opcua: login failed for user "spray-9" from 10\.1\.2\.3:40009: unknown user$/);
  users.close();
  t.deepEqual(lines.slice(10), ['opcua: 20 more failed login(s) for various users and clients in 60 s, not logged one by one']);
});

test.serial('opcua.host: 127.0.0.1 listens there only (127.0.0.2 refused); the default listens on all interfaces', async (t) => {
  const tcp = (host: string, port: number) => new Promise<boolean>((resolve) => {
    const s = createConnection({ host, port });
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => { s.destroy(); resolve(false); });
  });
  const portOf = (url: string) => Number(/:(\d+)$/.exec(url)![1]);
  const everywhere = await start({ loginThrottle: { afterFailures: 1_000_000 } });
  t.true(await tcp('127.0.0.2', portOf(everywhere.endpointUrl())), 'without opcua.host the server also answers on 127.0.0.2');
  const local = await start({ host: '127.0.0.1' });
  const port = portOf(local.endpointUrl());
  t.true(await tcp('127.0.0.1', port));
  t.false(await tcp('127.0.0.2', port), 'with opcua.host 127.0.0.1 nothing answers on 127.0.0.2');
  const plc = await Plc.connect(local.endpointUrl(), { pkiDir: clientPki, user: 'plc', password: PLC_PW, station: 'ST1' });
  t.is(await plc.read('Status.Ready'), true);
  await plc.close();
  // An address this machine does not have (TEST-NET-1): the start fails with one line naming it.
  await t.throwsAsync(start({ host: '192.0.2.1' }), { message: /^opcua: cannot listen on 192\.0\.2\.1 port 0: .*EADDRNOTAVAIL.* \(opcua\.host must be an address of this machine\)$/ });
  // Validated: an IP address or a host name, one clear line otherwise.
  for (const host of ['0.0.0.0', '::1', '192.168.10.5', 'vision-line3.plant-a.local']) t.true(opcuaConfigSchema.safeParse({ ...base, host }).success, host);
  for (const host of ['', '999.1.1.1', 'eth0 ', 'http://x', '10.0.0.1:4840']) {
    const r = opcuaConfigSchema.safeParse({ ...base, host });
    t.false(r.success, host);
    t.deepEqual(r.error!.issues[0]!.path, ['host']);
    t.regex(r.error!.issues[0]!.message, /^must be an IP address of this machine/);
  }
});

test.serial('the daemon counts failed OPC UA logins in /metrics', async (t) => {
  const clientPki2 = join(dir, 'client-pki-daemon');
  const h = await startHarness({
    agent: { id: 'lg', logLevel: 'silent' },
    opcua: { port: await freePort(), hostname: '127.0.0.1', users: [{ username: 'plc', password: 'plc-pw', role: 'plc' }] },
  });
  t.teardown(() => h.stop());
  await t.throwsAsync(connectPlc(h, clientPki2, { user: 'plc', password: 'not-it' }));
  await t.throwsAsync(connectPlc(h, clientPki2, { user: 'plc', password: 'not-it-either', trust: false }));
  await t.throwsAsync(connectPlc(h, clientPki2, { user: 'intruder', password: 'x', trust: false }));
  const plc = await connectPlc(h, clientPki2, { user: 'plc', password: 'plc-pw', trust: false });
  await plc.close();
  const metrics = await (await fetch(`${h.url}/metrics`)).text();
  // One reason for unknown users and wrong passwords: /metrics is open, it must not tell which user names exist.
  t.regex(metrics, /^adaptclip_opcua_login_failures_total\{reason="bad_credentials"\} 3$/m);
  t.notRegex(metrics, /unknown_user|bad_password/);
});
