// OPC UA security against the real server: SignAndEncrypt only, users and roles, PKI trust via rejected/ → trusted/.
import test from 'ava';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataType, MessageSecurityMode, SecurityPolicy, UserTokenType } from 'node-opcua';
import { opcuaConfigSchema } from '../adapters/opcua/config.ts';
import { createOpcUaSink, type OpcUaSink } from '../adapters/opcua/sink.ts';
import { createSqliteStationStore } from '../adapters/opcua/state-store.ts';
import { hashPassword } from '../adapters/opcua/users.ts';
import { openDatabase } from '../agent/store/db.ts';
import { makeClient, Plc, trustRejected } from './helpers/plc-client.ts';
import { TestStation } from './helpers/test-station.ts';

const dir = mkdtempSync(join(tmpdir(), 'opcua-sec-'));
const db = openDatabase(join(dir, 'agent.db'));
const users = [
  { username: 'plc', passwordHash: hashPassword('plc-secret'), role: 'plc' },
  { username: 'viewer', password: 'viewer-pw', role: 'viewer' },
];
const config = opcuaConfigSchema.parse({ port: 0, hostname: '127.0.0.1', dataDir: dir, stations: ['ST1'], users });
const clientPki = join(dir, 'client-pki');
let sink: OpcUaSink;
const started: OpcUaSink[] = [];

async function start(overrides: Record<string, unknown> = {}) {
  const s = createOpcUaSink(opcuaConfigSchema.parse({ ...config, ...overrides }), { store: createSqliteStationStore(db), agentVersion: '0.1.0' });
  const station = new TestStation('ST1', db, [s]);
  await s.start(station);
  station.publishStatus();
  started.push(s);
  return s;
}

test.before(async () => {
  sink = await start();
});
test.after.always(async () => {
  for (const s of started) await s.stop();
  db.close();
});

test.serial('own self-signed certificate under <dataDir>/pki on first start, reused on the next', async (t) => {
  const cert = join(dir, 'pki', 'own', 'certs', 'server_certificate.pem');
  t.true(existsSync(cert));
  t.true(existsSync(join(dir, 'pki', 'own', 'private', 'private_key.pem')));
  const before = readFileSync(cert);
  const again = await start({ port: 0 });
  t.true(readFileSync(cert).equals(before), 'the certificate is not regenerated');
  t.true(again.endpointUrl().startsWith('opc.tcp://127.0.0.1:'));
});

test.serial('an untrusted client certificate is refused and lands in rejected/, then works once moved to trusted/', async (t) => {
  const client = makeClient({ pkiDir: clientPki });
  const err = await t.throwsAsync(client.connect(sink.endpointUrl()));
  t.regex(err!.message, /BadSecurityChecksFailed|rejected/);
  await client.disconnect();
  const rejected = readdirSync(join(dir, 'pki', 'rejected'));
  t.is(rejected.length, 1);
  t.regex(rejected[0]!, /\.pem$/);
  const moved = await trustRejected(sink.pkiDir);
  t.deepEqual(moved, rejected);
  const plc = await Plc.connect(sink.endpointUrl(), { pkiDir: clientPki, user: 'plc', password: 'plc-secret', station: 'ST1' });
  t.is(await plc.read('Status.Ready'), true);
  await plc.close();
});

test.serial('no session can be activated on a None endpoint; only SignAndEncrypt endpoints are offered', async (t) => {
  const client = makeClient({ pkiDir: clientPki, securityMode: MessageSecurityMode.None, securityPolicy: SecurityPolicy.None });
  await client.connect(sink.endpointUrl()); // the restricted discovery channel
  const endpoints = await client.getEndpoints();
  t.true(endpoints.length >= 3);
  t.true(endpoints.every((e) => e.securityMode === MessageSecurityMode.SignAndEncrypt), 'GetEndpoints lists SignAndEncrypt only');
  t.deepEqual([...new Set(endpoints.map((e) => e.securityPolicyUri))].sort(), [SecurityPolicy.Aes128_Sha256_RsaOaep, SecurityPolicy.Aes256_Sha256_RsaPss, SecurityPolicy.Basic256Sha256].sort());
  await t.throwsAsync(client.createSession({ type: UserTokenType.UserName, userName: 'plc', password: 'plc-secret' }));
  await t.throwsAsync(client.createSession());
  await client.disconnect();
  // With discovery disabled there is no None channel at all.
  const closed = await start({ disableDiscovery: true });
  const c2 = makeClient({ pkiDir: clientPki, securityMode: MessageSecurityMode.None, securityPolicy: SecurityPolicy.None });
  await t.throwsAsync(c2.connect(closed.endpointUrl()));
  await c2.disconnect();
});

test.serial('wrong password → BadUserAccessDenied; anonymous refused; the Aes policies work', async (t) => {
  const client = makeClient({ pkiDir: clientPki });
  await client.connect(sink.endpointUrl());
  const wrong = await t.throwsAsync(client.createSession({ type: UserTokenType.UserName, userName: 'plc', password: 'nope' }));
  t.regex(wrong!.message, /BadUserAccessDenied/);
  const unknown = await t.throwsAsync(client.createSession({ type: UserTokenType.UserName, userName: 'mallory', password: 'x' }));
  t.regex(unknown!.message, /BadUserAccessDenied/);
  const anon = await t.throwsAsync(client.createSession());
  // The endpoints do not even advertise an anonymous token policy.
  t.regex(anon!.message, /Bad(IdentityTokenInvalid|IdentityTokenRejected|UserAccessDenied)|Cannot find ANONYMOUS user token policy/);
  await client.disconnect();
  for (const securityPolicy of [SecurityPolicy.Aes128_Sha256_RsaOaep, SecurityPolicy.Aes256_Sha256_RsaPss]) {
    const plc = await Plc.connect(sink.endpointUrl(), { pkiDir: clientPki, securityPolicy, user: 'plc', password: 'plc-secret', station: 'ST1' });
    t.is(await plc.read('Status.Ready'), true);
    await plc.close();
  }
});

test.serial('roles: viewer reads but may not write Control; plc writes Control and Recipe but may not call methods', async (t) => {
  const viewer = await Plc.connect(sink.endpointUrl(), { pkiDir: clientPki, user: 'viewer', password: 'viewer-pw', station: 'ST1' });
  t.is(await viewer.read('Status.Ready'), true);
  t.is((await viewer.write('Control.TriggerSeq', DataType.UInt32, 1)).name, 'BadUserAccessDenied');
  t.is((await viewer.write('Recipe.ChangeSeq', DataType.UInt32, 1)).name, 'BadUserAccessDenied');
  t.is((await viewer.call('Trigger', [{ dataType: DataType.String, value: 'x' }])).statusCode.name, 'BadUserAccessDenied');
  await viewer.close();
  const plc = await Plc.connect(sink.endpointUrl(), { pkiDir: clientPki, user: 'plc', password: 'plc-secret', station: 'ST1' });
  t.true((await plc.write('Control.PartId', DataType.String, 'ROLE-1')).isGood());
  t.true((await plc.write('Recipe.RequestedRecipeId', DataType.Int32, 12)).isGood());
  t.is((await plc.call('ResetCounters', [])).statusCode.name, 'BadUserAccessDenied');
  await plc.close();
});

test.serial('anonymous sessions only with the demo flag; no users and no demo is a config error', async (t) => {
  const demo = await start({ demo: true });
  const anon = await Plc.connect(demo.endpointUrl(), { pkiDir: clientPki, station: 'ST1' });
  t.is(await anon.read('Status.Ready'), true);
  await anon.close();
  const bad = opcuaConfigSchema.safeParse({ dataDir: dir, stations: ['ST1'] });
  t.false(bad.success);
  t.regex(bad.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n'), /users: no users configured: add opcua\.users/);
  const badHash = opcuaConfigSchema.safeParse({ dataDir: dir, stations: ['ST1'], users: [{ username: 'u', passwordHash: 'plain', role: 'plc' }] });
  t.regex(badHash.error!.issues[0]!.message, /passwordHash must look like scrypt/);
});
