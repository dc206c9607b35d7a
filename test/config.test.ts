import test from 'ava';
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ConfigError, parseConfig, safeSettings } from '../agent/config/load.ts';
import { parseCameraConfig } from '../drivers/config.ts';
import { deviceOptions } from '../agent/parts.ts';
import { PROVIDERS_OF_DEVICE } from '../agent/pipeline/detector.ts';

const run = promisify(execFile);
const CLI = ['--import', 'tsx', 'agent/cli.ts'];

const BAD = `agent:
  id: demo
model:
  pack: models/packs/demo-tiny
  maxBatch: "four"
cameras:
  - station: ST1
    fsp: 3
    source:
      type: synthetic
      id: cam1
      colour: red
  - station: ST1
    source: { type: webcam, id: cam2 }
http:
  port: 99999
`;

test('every problem names file:line, the key path, the value and what is expected', (t) => {
  const err = t.throws(() => parseConfig(BAD, 'demo.yaml'), { instanceOf: ConfigError }) as ConfigError;
  const lines = err.message.split('\n');
  t.true(lines.includes('demo.yaml:5: model.maxBatch: expected number (value: "four")'), err.message);
  t.true(lines.includes('demo.yaml:8: cameras[0].fsp: unknown key; expected one of: station, queue, keepMasks, keepImages, imageQuality, imageMaxSide, source (value: 3)'), err.message);
  t.true(lines.includes('demo.yaml:12: cameras[0].source.colour: unknown key; expected one of: type, id, width, height, fps, defectRate, kinds, seed, trigger (value: "red")'), err.message);
  t.truthy(lines.find((l) => l.startsWith('demo.yaml:14: cameras[1].source.type:') && l.includes('"webcam"') && l.includes('synthetic')), err.message);
  t.truthy(lines.find((l) => l.startsWith('demo.yaml:16: http.port:') && l.includes('65535') && l.includes('99999')), err.message);
});

test('a camera source that still has the removed modelSize key gets one line saying why and to remove it', (t) => {
  const yaml = `model: {pack: x}
cameras:
  - station: ST1
    source:
      type: rtsp
      id: cam1
      url: rtsp://10.0.0.5/s1
      modelSize: 518
  - station: ST2
    source: {type: synthetic, id: cam2, modelSize: 224, colour: red}
`;
  const err = t.throws(() => parseConfig(yaml, 'line.yaml'), { instanceOf: ConfigError }) as ConfigError;
  const removed = 'removed: the runtime now resizes each full-resolution frame exactly as the official preprocessing does (Pillow bicubic), so no driver-scaled copy is made; remove the key';
  t.deepEqual(err.message.split('\n'), [
    `line.yaml:8: cameras[0].source.modelSize: ${removed} (value: 518)`,
    `line.yaml:10: cameras[1].source.modelSize: ${removed} (value: 224)`,
    'line.yaml:10: cameras[1].source.colour: unknown key; expected one of: type, id, width, height, fps, defectRate, kinds, seed, trigger (value: "red")',
  ]);
  // The drivers' own parser (createFrameSource, camera probe) says the same.
  t.throws(() => parseCameraConfig({ type: 'folder', id: 'f1', path: '/data', modelSize: 224 }), { message: `camera f1: invalid config at modelSize: ${removed}` });
});

test('a missing required section, YAML syntax errors and duplicate ids are reported with lines', (t) => {
  t.regex(t.throws(() => parseConfig('agent:\n  id: x\n', 'a.yaml'))!.message, /^a\.yaml:1: model: required object is missing$/m);
  t.regex(t.throws(() => parseConfig('model:\n  pack: x\n  pack: y\n', 'b.yaml'))!.message, /^b\.yaml:3: \(root\): YAML syntax: /m);
  const dup = 'model: {pack: x}\ncameras:\n  - station: A\n    source: {type: synthetic, id: c}\n  - station: A\n    source: {type: synthetic, id: c}\n';
  const msg = t.throws(() => parseConfig(dup, 'c.yaml'))!.message;
  t.regex(msg, /^c\.yaml:6: cameras\[1\]\.source\.id: duplicate camera id/m);
  t.regex(msg, /^c\.yaml:5: cameras\[1\]\.station: station already used/m);
});

test('the shipped configs are valid and --validate-config exits 0', async (t) => {
  // line.yaml's pack lives on the line PC (/opt/...): --validate-config checks the pack, so the demo pack stands in.
  const dir = mkdtempSync(join(tmpdir(), 'config-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const line = join(dir, 'line.yaml');
  const text = readFileSync('deploy/line.yaml', 'utf8');
  t.regex(text, /^ {2}pack: \/opt\/\S+$/m);
  writeFileSync(line, text.replace(/^ {2}pack: \/opt\/\S+$/m, `  pack: ${join(process.cwd(), 'models/packs/demo-tiny')}`));
  for (const file of ['deploy/demo.yaml', line]) {
    const { stdout } = await run(process.execPath, [...CLI, 'run', '--config', file, '--validate-config']);
    t.regex(stdout, /is valid/);
  }
});

test('--validate-config on an invalid file exits non-zero and prints the problems; a missing file is one line', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'config-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'bad.yaml');
  writeFileSync(file, BAD);
  const err = (await t.throwsAsync(run(process.execPath, [...CLI, 'run', '--config', file, '--validate-config']))) as unknown as { code: number; stderr: string };
  t.is(err.code, 2);
  t.true(err.stderr.includes(`${file}:8: cameras[0].fsp: unknown key`), err.stderr);
  const missing = (await t.throwsAsync(run(process.execPath, [...CLI, 'run', '--config', join(dir, 'nope.yaml'), '--validate-config']))) as unknown as { code: number; stderr: string };
  t.is(missing.code, 2);
  t.regex(missing.stderr, /cannot read config .*nope\.yaml: ENOENT; pass an existing file with --config/);
});

// Secrets a broken config may hold; none of them may ever be printed.
const SECRETS = ['Plc-Clear-Pass-99', 'Mistyped-Pass-77', 'Tok-7', 'Typo-Token-5555', 'Nested-Pass-31', 'scrypt$00aa$11bb'];
const SECRET_YAML = `model: {pack: models/packs/demo-tiny}
cameras:
  - station: ST1
    source: {type: synthetic, id: cam1}
opcua:
  users:
    - {username: plc, role: plc, password: Plc-Clear-Pass-99, passwordHash: scrypt$00aa$11bb}
    - {username: op, role: operator, pasword: Mistyped-Pass-77}
opcuaa:
  users: [{username: x, password: Nested-Pass-31}]
http:
  token: Tok-7
  tokn: Typo-Token-5555
`;

test('--validate-config never prints a secret: bad password, mistyped password key, bad token show (value: ***), each key once', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'config-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'secrets.yaml');
  writeFileSync(file, SECRET_YAML);
  const err = (await t.throwsAsync(run(process.execPath, [...CLI, 'run', '--config', file, '--validate-config']))) as unknown as { code: number; stdout: string; stderr: string };
  t.is(err.code, 2);
  const lines = err.stderr.split('\n');
  for (const want of [
    `${file}:7: opcua.users[0]: give exactly one of passwordHash or password (value: ***)`,
    `${file}:8: opcua.users[1].pasword: unknown key; expected one of: username, passwordHash, password, role (value: ***)`,
    `${file}:8: opcua.users[1]: give exactly one of passwordHash or password (value: ***)`,
    `${file}:9: opcuaa: unknown key; expected one of: agent, model, cameras, store, http, opcua, mqtt, faults, shifts (value: ***)`,
    `${file}:12: http.token: at least 8 characters (value: ***)`,
    `${file}:13: http.tokn: unknown key; expected one of: host, port, token, tokenEnv, openReads, maxUploadMb, maxUploadPixels, publicUrl, users, session (value: ***)`,
  ]) t.true(lines.includes(want), `missing: ${want}\n${err.stderr}`);
  for (const secret of SECRETS) t.false((err.stdout + err.stderr).includes(secret), `${secret} printed:\n${err.stderr}`);
  // Harmless values are still shown.
  const plain = t.throws(() => parseConfig('model: {pack: x, maxBatch: "four"}\n', 'p.yaml'))!.message;
  t.is(plain, 'p.yaml:1: model.maxBatch: expected number (value: "four")');
});

test('every problem in one pass: field errors and the cross-field checks (duplicate ids, a user without a password, no users) together', (t) => {
  const yaml = `model: {pack: x, maxBatch: "four"}
cameras:
  - station: A
    source: {type: synthetic, id: c}
  - station: A
    source: {type: synthetic, id: c, fps: "fast"}
opcua:
  port: "x"
  users:
    - {username: plc, role: boss}
mqtt:
  url: mqtt://127.0.0.1:1883
  qos: 7
`;
  const err = t.throws(() => parseConfig(yaml, 'all.yaml'), { instanceOf: ConfigError }) as ConfigError;
  const lines = err.message.split('\n');
  for (const want of [
    'all.yaml:1: model.maxBatch: expected number (value: "four")',
    'all.yaml:6: cameras[1].source.fps: expected number (value: "fast")',
    'all.yaml:6: cameras[1].source.id: duplicate camera id (also cameras[0]); give each camera its own id (value: "c")',
    'all.yaml:5: cameras[1].station: station already used by cameras[0]; one camera per station (value: "A")',
    'all.yaml:8: opcua.port: expected number (value: "x")',
    'all.yaml:10: opcua.users[0]: give exactly one of passwordHash or password (value: ***)',
  ]) t.true(lines.includes(want), `missing: ${want}\n${err.message}`);
  t.is(lines.length, new Set(lines).size, 'no line twice');
  t.truthy(lines.find((l) => l.startsWith('all.yaml:13: mqtt.qos:')), err.message);
  // "no users" is a cross-field rule of the opcua section: reported next to another opcua error.
  const noUsers = t.throws(() => parseConfig('model: {pack: x}\nopcua: {port: "y"}\n', 'u.yaml'))!.message.split('\n');
  t.deepEqual(noUsers, ['u.yaml:2: opcua.port: expected number (value: "y")', 'u.yaml:2: opcua.users: no users configured: add opcua.users (or set opcua.demo: true for anonymous access)']);
  // The cross-field rules read what they get defensively: a section or entry of the wrong type is one line, no crash.
  t.is(t.throws(() => parseConfig('model: {pack: x}\nopcua: null\ncameras: [null]\n', 'n.yaml'))!.message, 'n.yaml:3: cameras[0]: expected object (value: null)\nn.yaml:2: opcua: expected object (value: null)');
  t.deepEqual(t.throws(() => parseConfig('model: {pack: x}\nopcua: {users: [null]}\n', 'n.yaml'))!.message.split('\n'), ['n.yaml:2: opcua.users[0]: expected object (value: ***)']);
});

test('--validate-config checks the pack: a missing or corrupt pack exits 2 with one line naming the problem', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'config-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const pack = join(dir, 'pack');
  cpSync('models/packs/demo-tiny', pack, { recursive: true });
  const valid = join(dir, 'ok.yaml');
  writeFileSync(valid, `model: {pack: ${pack}}\n`);
  t.regex((await run(process.execPath, [...CLI, 'run', '--config', valid, '--validate-config'])).stdout, /is valid/);
  const manifest = JSON.parse(readFileSync(join(pack, 'manifest.json'), 'utf8')) as { files: { zeroShot: { path: string } } };
  const onnx = join(pack, manifest.files.zeroShot.path);
  const bytes = readFileSync(onnx);
  bytes[bytes.length >> 1]! ^= 0xff; // same size, one byte changed: only the sha256 can tell
  writeFileSync(onnx, bytes);
  const cases: [string, RegExp][] = [
    [pack, new RegExp(`^adaptclip-edge: .*ok\\.yaml: model\\.pack: pack ${pack}: ${manifest.files.zeroShot.path} sha256 [0-9a-f]{12}… differs from manifest\\.json .*re-export the pack$`)],
    [join(dir, 'nope'), /^adaptclip-edge: .*ok\.yaml: model\.pack: pack .*nope: cannot read manifest\.json \(ENOENT\); give a pack directory/],
  ];
  for (const [dirOf, want] of cases) {
    writeFileSync(valid, `model: {pack: ${dirOf}}\n`);
    const err = (await t.throwsAsync(run(process.execPath, [...CLI, 'run', '--config', valid, '--validate-config']))) as unknown as { code: number; stdout: string; stderr: string };
    t.is(err.code, 2);
    t.is(err.stdout, '');
    const lines = err.stderr.split('\n').filter((l) => l.trim() && !l.startsWith('npm warn'));
    t.is(lines.length, 1, err.stderr);
    t.regex(lines[0]!, want);
  }
});

test('safe mode takes only valid http values and never opens reads the file did not open', (t) => {
  // An unreadable file or http section: reads closed, loopback only.
  t.deepEqual(safeSettings(undefined), { host: '127.0.0.1', openReads: false });
  t.deepEqual(safeSettings({ http: ['port', 80] }), { host: '127.0.0.1', openReads: false });
  t.deepEqual(safeSettings({ http: null }), { host: '127.0.0.1', openReads: false });
  // No http section: the file asked for the defaults.
  t.deepEqual(safeSettings({ model: 5 }), { host: '0.0.0.0', openReads: true });
  // Valid parts are kept; an invalid or misspelled openReads, or any other problem in the section, closes reads.
  t.deepEqual(safeSettings({ agent: { dataDir: '/d' }, http: { host: '10.0.0.5', port: 9000, token: 'Long-Token-123', openReads: false } }), { dataDir: '/d', host: '10.0.0.5', port: 9000, token: 'Long-Token-123', openReads: false });
  t.is(safeSettings({ http: { openReads: 'no' } }).openReads, false);
  t.is(safeSettings({ http: { openRead: false } }).openReads, false);
  t.is(safeSettings({ http: { port: 'x' } }).openReads, false);
  t.is(safeSettings({ http: { port: 9000, openReads: true, token: 'short' } }).openReads, true);
  t.deepEqual(safeSettings({ http: { host: 5, tokenEnv: 'EDGE_TOKEN', token: 'short' } }), { host: '127.0.0.1', tokenEnv: 'EDGE_TOKEN', openReads: false });
});

test('model.device tensorrt with its options; the engine cache defaults to the data folder; a wrong device names the choices', (t) => {
  const base = (model: string) => `agent:\n  id: gpu-box\n  dataDir: /var/lib/adaptclip\nmodel:\n  pack: models/packs/demo-tiny\n${model}cameras:\n  - station: ST1\n    source: { type: synthetic, id: cam1 }\n`;
  const cfg = parseConfig(base('  device: tensorrt\n  deviceId: 1\n  tensorrt: { workspaceMb: 2048 }\n'), 'gpu.yaml');
  t.like(cfg.model, { device: 'tensorrt', deviceId: 1, cpuMemArena: true, tensorrt: { fp16: true, workspaceMb: 2048 } });
  t.like(deviceOptions(cfg), { device: 'tensorrt', deviceId: 1, tensorrt: { fp16: true, engineCacheDir: '/var/lib/adaptclip/tensorrt-cache', workspaceBytes: 2048 * 1024 * 1024 } });
  t.deepEqual(PROVIDERS_OF_DEVICE[cfg.model.device], ['tensorrt', 'cuda', 'cpu']);
  const err = t.throws(() => parseConfig(base('  device: gpu\n'), 'gpu.yaml'), { instanceOf: ConfigError }) as ConfigError;
  t.regex(err.message, /gpu\.yaml:6: model\.device: .*cpu.*cuda.*tensorrt.*\(value: "gpu"\)/);
  const bad = t.throws(() => parseConfig(base('  tensorrt: { fp16: true, cache: x }\n'), 'gpu.yaml'), { instanceOf: ConfigError }) as ConfigError;
  t.regex(bad.message, /model\.tensorrt\.cache: unknown key; expected one of: fp16, engineCacheDir, workspaceMb/);
});
