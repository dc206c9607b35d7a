// Static checks of the container files (no container engine on the CI machine): what they copy exists, they run
// as a non-root user with data/config/packs volumes, the GPU one installs the CUDA provider at build time, and the
// health check is a script this repository has (deploy-bundle.test.ts runs it against a live agent).
import test from 'ava';
import { existsSync, readFileSync } from 'node:fs';
import { loadConfig } from '../agent/config/load.ts';

interface Instruction { op: string; args: string }

function parse(file: string): Instruction[] {
  const text = readFileSync(file, 'utf8').replace(/\\\n/g, ' ');
  return text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'))
    .map((l) => { const [op, ...rest] = l.split(/\s+/); return { op: op!.toUpperCase(), args: rest.join(' ') }; });
}

const APP = '/opt/adaptclip-edge/app/';

for (const kind of ['gpu', 'cpu'] as const) {
  const file = `deploy/Containerfile.${kind}`;

  test(`${file}: every COPY from the build context names a path that exists`, (t) => {
    const ins = parse(file);
    const copies = ins.filter((i) => i.op === 'COPY' && !i.args.startsWith('--from'));
    t.true(copies.length >= 5);
    // A COPY source may be an ARG (the GPU image's CUDA_LIBS): its default must exist.
    const args = new Map(ins.filter((i) => i.op === 'ARG' && i.args.includes('=')).map((i) => i.args.split('=', 2) as [string, string]));
    for (const { args: copyArgs } of copies) {
      const sources = copyArgs.split(/\s+/).slice(0, -1).map((src) => src.replace(/\$\{(\w+)\}/g, (_, name: string) => args.get(name) ?? `<no default for ${name}>`));
      for (const src of sources) t.true(existsSync(src), `${file}: COPY ${src}`);
    }
    t.true(existsSync(`${file}.dockerignore`));
    const ignore = readFileSync(`${file}.dockerignore`, 'utf8');
    for (const pattern of ['**/node_modules', '.git', 'test', 'tools', '!models/packs/demo-tiny']) t.true(ignore.split('\n').includes(pattern), pattern);
  });

  test(`${file}: non-root, volumes for data/config/packs, HEALTHCHECK on /healthz, entrypoint present in the app`, (t) => {
    const ins = parse(file);
    const users = ins.filter((i) => i.op === 'USER').map((i) => i.args);
    t.deepEqual(users, ['adaptclip-edge']);
    const lastStage = ins.slice(ins.map((i) => i.op).lastIndexOf('FROM'));
    t.true(lastStage.findIndex((i) => i.op === 'USER') < lastStage.findIndex((i) => i.op === 'ENTRYPOINT'));
    const volumes = JSON.parse(ins.find((i) => i.op === 'VOLUME')!.args) as string[];
    t.deepEqual(volumes, ['/var/lib/adaptclip-edge', '/etc/adaptclip-edge', '/packs']);
    // The health check script and the CLI launcher exist where the image puts the app.
    const health = ins.find((i) => i.op === 'HEALTHCHECK')!.args;
    const healthArgv = JSON.parse(health.slice(health.indexOf('CMD') + 3)) as string[];
    t.is(healthArgv[0], 'node');
    t.true(healthArgv[1]!.startsWith(APP) && existsSync(healthArgv[1]!.slice(APP.length)), healthArgv[1]);
    t.regex(readFileSync(healthArgv[1]!.slice(APP.length), 'utf8'), /\/healthz/);
    const entry = JSON.parse(ins.find((i) => i.op === 'ENTRYPOINT')!.args) as string[];
    const script = entry.find((a) => a.startsWith(APP))!;
    t.true(existsSync(script.slice(APP.length)), script);
    const cmd = JSON.parse(ins.find((i) => i.op === 'CMD')!.args) as string[];
    t.deepEqual(cmd, ['run', '--config', '/etc/adaptclip-edge/config.yaml']);
    t.true(ins.some((i) => i.op === 'COPY' && i.args === 'deploy/container/config.yaml /etc/adaptclip-edge/config.yaml'));
  });
}

test('the GPU image is CUDA 12 + cuDNN and installs onnxruntime-node with its CUDA provider at build time', (t) => {
  const ins = parse('deploy/Containerfile.gpu');
  const cudaImage = ins.find((i) => i.op === 'ARG' && i.args.startsWith('CUDA_IMAGE='))!.args;
  t.regex(cudaImage, /^CUDA_IMAGE=nvidia\/cuda:12\.\d+\.\d+-cudnn-runtime-/);
  const install = ins.find((i) => i.op === 'RUN' && i.args.includes('npm ci'))!.args;
  t.regex(install, /ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci --omit=dev/);
  t.regex(install, /test -f node_modules\/onnxruntime-node\/bin\/napi-v6\/linux\/x64\/libonnxruntime_providers_cuda\.so/);
  // Or it takes them from CUDA_LIBS (default: a committed folder with no libraries) through deploy/cuda-libs.sh.
  t.true(ins.some((i) => i.op === 'ARG' && i.args === 'CUDA_LIBS=deploy/container/cuda-libs'));
  t.true(ins.some((i) => i.op === 'COPY' && i.args === '${CUDA_LIBS}/ /tmp/cuda-libs/'));
  t.true(ins.findIndex((i) => i.op === 'COPY' && i.args === 'deploy/cuda-libs.sh ./deploy/cuda-libs.sh') < ins.indexOf(ins.find((i) => i.op === 'RUN' && i.args.includes('npm ci'))!));
  t.regex(install, /then npm ci --omit=dev && deploy\/cuda-libs\.sh install \/tmp\/cuda-libs node_modules\/onnxruntime-node;/);
  // The CPU image never asks for CUDA.
  t.notRegex(readFileSync('deploy/Containerfile.cpu', 'utf8'), /cuda12|nvidia\/cuda/);
});

test('the images\' default config is valid for the daemon and agrees with the volumes, ports and health check', (t) => {
  const { config } = loadConfig('deploy/container/config.yaml');
  t.is(config.agent.dataDir, '/var/lib/adaptclip-edge'); // the data VOLUME
  t.true(config.model.pack.startsWith(APP));
  t.true(existsSync(`${config.model.pack.slice(APP.length)}/manifest.json`), config.model.pack);
  t.is(config.http.host, '0.0.0.0');
  for (const kind of ['gpu', 'cpu']) {
    const ins = parse(`deploy/Containerfile.${kind}`);
    const expose = ins.find((i) => i.op === 'EXPOSE')!.args.split(/\s+/).map(Number);
    t.true(expose.includes(config.http.port));
    t.true(expose.includes(config.opcua!.port));
    t.regex(ins.find((i) => i.op === 'ENV')!.args, new RegExp(`ADAPTCLIP_HEALTH_URL=http://127\\.0\\.0\\.1:${config.http.port}/healthz`));
  }
  t.regex(readFileSync('deploy/container/healthcheck.mjs', 'utf8'), new RegExp(`http://127\\.0\\.0\\.1:${config.http.port}/healthz`));
});
