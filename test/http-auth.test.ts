// Browser logins and roles against a real agent: login, cookie flags, throttle, idle timeout, logout, cross-site
// refusal, the role matrix with its plain 403s (nothing changed on refusal), the token, and audit rows and filters.
import test from 'ava';
import { spawn } from 'node:child_process';
import { hashPassword } from '../adapters/passwords.ts';
import { configSchema } from '../agent/config/schema.ts';
import { startHarness, TEST_TOKEN, type Harness } from './helpers/harness.ts';

const PASSWORDS = { vera: 'viewer-pass-1', otto: 'operator-pass-1', erin: 'engineer-pass-1' };
const USERS = [
  { name: 'vera', passwordHash: hashPassword(PASSWORDS.vera), role: 'viewer' },
  { name: 'otto', passwordHash: hashPassword(PASSWORDS.otto), role: 'operator' },
  { name: 'erin', passwordHash: hashPassword(PASSWORDS.erin), role: 'engineer' },
];

interface Reply<T = any> { status: number; body: T; headers: Headers }

/** A browser-like client: keeps the session cookie, sends Origin on writes (as a browser does for its own page). */
function browser(h: Harness, origin = h.url) {
  let cookie = '';
  const call = async <T = any>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply<T>> => {
    const res = await fetch(h.url + path, {
      method,
      headers: {
        ...(cookie ? { cookie } : {}),
        ...(method === 'GET' ? {} : { origin }),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const set = res.headers.get('set-cookie');
    if (set) cookie = set.split(';')[0]!;
    const type = res.headers.get('content-type') ?? '';
    return { status: res.status, body: (type.includes('json') ? await res.json() : await res.text()) as T, headers: res.headers };
  };
  return {
    call,
    login: (name: keyof typeof PASSWORDS, password = PASSWORDS[name]) => call('POST', '/auth/login', { name, password }),
    get cookie() { return cookie; },
    set cookie(v: string) { cookie = v; },
  };
}

const withUsers = (session: Record<string, unknown> = {}) => startHarness({ http: { users: USERS, session } });

test('the config refuses a bad user entry in plain words', (t) => {
  const parse = (users: unknown) => configSchema.safeParse({ model: { pack: 'x' }, http: { users } });
  const bad = parse([{ name: 'a', passwordHash: 'secret', role: 'operator' }]);
  t.false(bad.success);
  t.regex(JSON.stringify(bad.error?.issues), /hash-password/);
  t.false(parse([{ name: 'api-token', passwordHash: USERS[0]!.passwordHash, role: 'viewer' }]).success);
  t.false(parse([USERS[0], USERS[0]]).success);
  t.false(parse([{ ...USERS[0], role: 'admin' }]).success);
  const ok = configSchema.parse({ model: { pack: 'x' }, http: { users: USERS } });
  t.is(ok.http.session.idleTimeoutMin, 30);
  t.false(ok.http.session.cookieSecure);
});

test('login: wrong password refused, right one sets an httpOnly SameSite=Strict cookie; logout ends it', async (t) => {
  const h = await withUsers();
  t.teardown(() => h.stop());
  const b = browser(h);
  const before = await b.call('GET', '/auth/session');
  t.deepEqual(before.body, { loginsEnabled: true, user: null, idleTimeoutMin: 30 });

  const wrong = await b.login('otto', 'not-it');
  t.is(wrong.status, 401);
  t.is(wrong.body.error, 'wrong user name or password');
  t.is(b.cookie, '', 'no session for a failed login');
  const unknown = await b.call('POST', '/auth/login', { name: 'nobody', password: 'x' });
  t.is(unknown.status, 401);
  t.is(unknown.body.error, wrong.body.error, 'an unknown user is answered exactly like a wrong password');

  const ok = await b.login('otto');
  t.is(ok.status, 200);
  t.deepEqual(ok.body.user, { name: 'otto', role: 'operator' });
  const setCookie = ok.headers.get('set-cookie') ?? '';
  t.regex(setCookie, /^adaptclip_session=/);
  t.regex(setCookie, /HttpOnly/i);
  t.regex(setCookie, /SameSite=Strict/i);
  t.notRegex(setCookie, /Secure/i, 'no Secure flag on plain HTTP (http.session.cookieSecure defaults to false)');
  t.false(JSON.stringify(ok.body).includes(PASSWORDS.otto), 'the password is never echoed');
  t.false(JSON.stringify(ok.body).includes(b.cookie.split('=')[1]!), 'the session id is never in a body');
  t.deepEqual((await b.call('GET', '/auth/session')).body.user, { name: 'otto', role: 'operator' });
  t.is((await b.call('POST', '/api/stations/ST1/activate', { productId: null })).status, 200, 'an operator may change over');

  const kept = b.cookie;
  t.is((await b.call('POST', '/auth/logout')).status, 200);
  b.cookie = kept; // the old cookie replayed after logout is worth nothing
  t.is((await b.call('GET', '/auth/session')).body.user, null);
  const after = await b.call('POST', '/api/stations/ST1/trigger', {});
  t.is(after.status, 401);
  t.regex(after.body.error, /need a login/);
});

test('failed logins are throttled per user name and per client address; the wait is said and a correct login works after it', async (t) => {
  const h = await withUsers();
  t.teardown(() => h.stop());
  const b = browser(h);
  for (let i = 0; i < 3; i++) t.is((await b.login('erin', 'guess')).status, 401);
  const refused = await b.login('erin');
  t.is(refused.status, 429, 'even the right password waits once the throttle is on');
  t.regex(refused.body.error, /too many failed logins.*wait \d+ s/);
  t.truthy(refused.headers.get('retry-after'));
  t.is(b.cookie, '');
  // The same address trying another user name is held back too (the address key).
  t.is((await b.login('otto')).status, 429);
  const waitS = Number(refused.headers.get('retry-after'));
  await new Promise((r) => setTimeout(r, waitS * 1000 + 100));
  const ok = await b.login('erin');
  t.is(ok.status, 200, 'after the wait the correct password works (and clears the count)');
});

// Serial: ava runs serial tests before the concurrent ones, so no other agent starting in this process stalls the clock.
test.serial('an idle login ends after http.session.idleTimeoutMin; activity keeps it, background refreshes do not', async (t) => {
  const h = await withUsers({ idleTimeoutMin: 0.05 }); // 3 s
  t.teardown(() => h.stop());
  const active = browser(h);
  const idle = browser(h);
  await active.login('otto');
  await idle.login('otto');
  for (let i = 0; i < 5; i++) {
    await new Promise((r) => setTimeout(r, 1000));
    t.is((await active.call('GET', '/auth/session')).body.user?.name, 'otto', 'a user doing things stays logged in');
    await idle.call('GET', '/api/stations', undefined, { 'x-background': '1' });
  }
  const ended = await idle.call('POST', '/api/stations/ST1/trigger', {});
  t.is(ended.status, 401, 'only background refreshes for longer than the timeout: logged out');
  t.regex(ended.body.error, /session ended after 0\.05 min without activity; log in again/);
  t.is((await active.call('POST', '/api/stations/ST1/activate', { productId: null })).status, 200);
});

test('a cookie-authenticated write from another site is refused and changes nothing; a token client needs no Origin', async (t) => {
  const h = await withUsers();
  t.teardown(() => h.stop());
  const b = browser(h);
  await b.login('erin');
  const foreign = browser(h, 'http://evil.example');
  foreign.cookie = b.cookie;
  const refused = await foreign.call('POST', '/api/products', { name: 'Injected' });
  t.is(refused.status, 403);
  t.regex(refused.body.error, /cross-site request refused.*behind a reverse proxy, set http\.publicUrl/);
  const foreignLogin = await browser(h, 'http://evil.example').login('erin');
  t.is(foreignLogin.status, 403, 'another site cannot log this browser in (login CSRF)');
  t.regex(foreignLogin.body.error, /cross-site request refused/);
  const noOrigin = await fetch(`${h.url}/api/products`, { method: 'POST', headers: { cookie: b.cookie, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'NoOrigin' }) });
  t.is(noOrigin.status, 403, 'neither Origin nor Referer: refused');
  t.deepEqual((await h.api<any[]>('GET', '/api/products')).body.map((p) => p.name), [], 'nothing was created');
  t.is((await b.call('POST', '/api/products', { name: 'Own page' })).status, 201);
  t.is((await h.api('POST', '/api/products', { name: 'By token' })).status, 201, 'the bearer token still works, no Origin needed');
});

test('behind a reverse proxy: pages under http.publicUrl are the agent\'s own even when the Host header is the agent\'s', async (t) => {
  const h = await startHarness({ http: { users: USERS, publicUrl: 'https://qa-line4.plant.example' } });
  t.teardown(() => h.stop());
  // The proxy forwards to 127.0.0.1:<port> (that is the Host the agent sees); the browser's Origin is the public name.
  const viaProxy = browser(h, 'https://qa-line4.plant.example');
  t.is((await viaProxy.login('erin')).status, 200);
  t.is((await viaProxy.call('POST', '/api/products', { name: 'Via proxy' })).status, 201);
  const otherScheme = browser(h, 'http://qa-line4.plant.example');
  otherScheme.cookie = viaProxy.cookie;
  const refused = await otherScheme.call('POST', '/api/products', { name: 'Plain http' });
  t.is(refused.status, 403, 'the origin is scheme and host: plain http under the same name is another origin');
  t.regex(refused.body.error, /cross-site request refused.*own pages are at https:\/\/qa-line4\.plant\.example \(http\.publicUrl\)/);
  t.deepEqual((await h.api<any[]>('GET', '/api/products')).body.map((p) => p.name), ['Via proxy']);
});

test('roles: viewer reads, operator runs the line, engineer changes products; refusals say why and change nothing; audit names the user', async (t) => {
  const h = await withUsers();
  t.teardown(() => h.stop());
  const [vera, otto, erin] = [browser(h), browser(h), browser(h)];
  await vera.login('vera');
  await otto.login('otto');
  await erin.login('erin');

  const created = await erin.call('POST', '/api/products', { name: 'Bracket-7', threshold: 0.5 });
  t.is(created.status, 201);
  const id = created.body.id as number;

  // viewer
  t.is((await vera.call('GET', '/api/products')).status, 200);
  const vTrig = await vera.call('POST', '/api/stations/ST1/trigger', {});
  t.is(vTrig.status, 403);
  t.is(vTrig.body.error, 'your role viewer may not trigger inspections; ask an operator or an engineer');
  const vAct = await vera.call('POST', '/api/stations/ST1/activate', { productId: id });
  t.is(vAct.status, 403);
  t.is(vAct.body.error, 'your role viewer may not change the active product (changeover); ask an operator or an engineer');

  const vReset = await vera.call('POST', '/api/stations/ST1/counters/reset', {});
  t.is(vReset.status, 403);
  t.is(vReset.body.error, 'your role viewer may not start a new shift (reset the counters); ask an operator or an engineer');

  // operator
  t.is((await otto.call('POST', '/api/stations/ST1/counters/reset', {})).status, 200, 'an operator starts a new shift');
  const oRegion = await otto.call('PUT', `/api/products/${id}/region`, { roi: null });
  t.is(oRegion.status, 403);
  t.is(oRegion.body.error, 'your role operator may not change inspection regions; ask an engineer');
  const oPatch = await otto.call('PATCH', `/api/products/${id}`, { threshold: 0.9 });
  t.is(oPatch.status, 403);
  t.is(oPatch.body.error, 'your role operator may not change thresholds or rename products; ask an engineer');
  const oDel = await otto.call('DELETE', `/api/products/${id}`);
  t.is(oDel.status, 403);
  t.is(oDel.body.error, 'your role operator may not delete products; ask an engineer');
  const oCreate = await otto.call('POST', '/api/products', { name: 'Other' });
  t.is(oCreate.status, 403);
  t.is(oCreate.body.error, 'your role operator may not create products; ask an engineer');
  const unchanged = (await h.api<any>('GET', `/api/products/${id}`)).body;
  t.is(unchanged.threshold, 0.5, 'refused PATCH changed nothing');
  t.is(unchanged.name, 'Bracket-7');
  t.is((await h.api<any[]>('GET', '/api/products')).body.length, 1, 'refused create/delete changed nothing');
  const oAct = await otto.call('POST', '/api/stations/ST1/activate', { productId: null });
  t.is(oAct.status, 200, `operator may change over: ${JSON.stringify(oAct.body)}`);

  // engineer
  t.is((await erin.call('PATCH', `/api/products/${id}`, { threshold: 0.7 })).status, 200);
  t.is((await erin.call('DELETE', `/api/products/${id}`)).status, 200);
  // token: engineer rights, audited as api-token
  const byToken = await h.api<any>('POST', '/api/products', { name: 'Tokened' });
  t.is(byToken.status, 201);

  const audit = (await h.api<any[]>('GET', '/api/audit')).body;
  const find = (action: string) => audit.find((a) => a.action === action);
  t.is(find('product.update')?.actor, 'api:erin@127.0.0.1');
  t.is(find('product.delete')?.actor, 'api:erin@127.0.0.1');
  t.is(find('station.activate')?.actor, 'api:otto@127.0.0.1');
  t.is(audit.find((a) => a.action === 'product.create' && a.detail.name === 'Tokened')?.actor, 'api:api-token@127.0.0.1');
  t.false(audit.some((a) => a.actor.includes('vera')), 'refused actions are not in the log');

  // filters
  const ofErin = (await h.api<any[]>('GET', '/api/audit?user=erin')).body;
  t.deepEqual([...new Set(ofErin.map((a) => a.actor))], ['api:erin@127.0.0.1']);
  t.deepEqual(ofErin.map((a) => a.action).sort(), ['product.create', 'product.delete', 'product.update']);
  t.deepEqual((await h.api<any[]>('GET', '/api/audit?user=api-token')).body.map((a) => a.detail.name), ['Tokened']);
  const products = (await h.api<any[]>('GET', '/api/audit?action=product')).body;
  t.true(products.length === 4 && products.every((a) => a.action.startsWith('product.')));
  t.is((await h.api<any[]>('GET', '/api/audit?action=product.delete&user=erin')).body.length, 1);
  const now = Date.now();
  t.is((await h.api<any[]>(`GET`, `/api/audit?from=${now + 60_000}`)).body.length, 0);
  t.is((await h.api<any[]>('GET', `/api/audit?user=erin&from=${new Date(now - 60_000).toISOString()}&to=${now + 1000}`)).body.length, 3);
  const badTime = await h.api<any>('GET', '/api/audit?from=yesterday');
  t.is(badTime.status, 400);
  t.regex(badTime.body.error, /from must be epoch milliseconds or an ISO date\/time/);
  const swapped = await h.api<any>('GET', `/api/audit?from=${now}&to=${now - 1000}`);
  t.is(swapped.status, 400);
  t.regex(swapped.body.error, /is after "to".*swap them/);
  t.is((await h.api<any>('GET', '/api/audit?action=DROP TABLE')).status, 400);
});

test('without http.users nothing changes: the token guards writes and a login is refused', async (t) => {
  const h = await startHarness();
  t.teardown(() => h.stop());
  const login = await fetch(`${h.url}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'x', password: 'y' }) });
  t.is(login.status, 403);
  t.regex(((await login.json()) as { error: string }).error, /logins are not configured/);
  const noToken = await fetch(`${h.url}/api/products`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":"A"}' });
  t.is(noToken.status, 401);
  t.is(((await noToken.json()) as { error: string }).error, 'writes need the header "Authorization: Bearer <http.token>"');
  const wrong = await h.api('POST', '/api/products', { name: 'A' }, { authorization: 'Bearer wrong-token-xx' });
  t.is(wrong.status, 401);
  t.is((await h.api('POST', '/api/products', { name: 'A' }, { authorization: `Bearer ${TEST_TOKEN}` })).status, 201);
});

test('`adaptclip-edge hash-password` reads the password from stdin and prints a hash a login accepts', async (t) => {
  const hashOf = (input: string) => new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'agent/cli.ts', 'hash-password'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('close', (code) => resolve({ code, out, err }));
    child.stdin.end(input);
  });
  const made = await hashOf('a-new-pass-42\n');
  t.is(made.code, 0, made.err);
  t.regex(made.out, /^scrypt\$[0-9a-f]{32}\$[0-9a-f]{64}\n$/);
  t.false(made.out.includes('a-new-pass-42'));
  const short = await hashOf('short');
  t.is(short.code, 1);
  t.regex(short.err, /at least 8 characters/);

  const h = await startHarness({ http: { users: [{ name: 'nina', passwordHash: made.out.trim(), role: 'viewer' }] } });
  t.teardown(() => h.stop());
  t.is((await browser(h).call('POST', '/auth/login', { name: 'nina', password: 'a-new-pass-42' })).status, 200);
});
