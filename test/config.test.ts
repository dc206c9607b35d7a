import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ConfigError, parseConfig } from '../agent/config/load.ts';
import { parseCameraConfig } from '../drivers/config.ts';

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
  t.true(lines.includes('demo.yaml:8: cameras[0].fsp: unknown key; expected one of: station, queue, keepMasks, source (value: 3)'), err.message);
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
  for (const file of ['deploy/demo.yaml', 'deploy/line.yaml']) {
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
