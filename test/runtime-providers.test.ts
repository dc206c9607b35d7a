// Provider fallback in order (tensorrt → cuda → cpu): one warning line per provider that did not open, naming the
// next one; the TensorRT settings reach ORT as its ORT_TENSORRT_* variables.
import test from 'ava';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { createDetector, loadPack } from '../models/index.ts';
import { tensorRtEnvironment } from '../models/detector.ts';
import { DEMO_PACK } from './helpers/harness.ts';

const ortDir = dirname(createRequire(import.meta.url).resolve('onnxruntime-node/package.json'));
const gpuLibs = ['napi-v6', 'napi-v3'].some((n) => existsSync(join(ortDir, 'bin', n, 'linux', 'x64', 'libonnxruntime_providers_cuda.so')));

test('tensorrt, cuda, cpu: each unavailable provider is one line naming the next; the sessions run on cpu', async (t) => {
  if (gpuLibs) return t.pass('this machine has the GPU provider libraries; the fallback is not exercised here');
  const warnings: string[] = [];
  const detector = await createDetector(await loadPack(DEMO_PACK), {
    providers: ['tensorrt', 'cuda', 'cpu'], deviceId: 0, tensorrt: { fp16: true, engineCacheDir: '/tmp/adaptclip-trt-cache-test' }, logger: { warn: (m) => warnings.push(m) },
  });
  t.teardown(() => detector.close());
  t.is(detector.provider, 'cpu');
  t.is(warnings.length, 2, warnings.join('\n'));
  t.regex(warnings[0]!, /^adaptclip runtime: tensorrt provider unavailable \(.+\); trying cuda$/);
  t.regex(warnings[1]!, /^adaptclip runtime: cuda provider unavailable \(.+\); running on cpu$/);
  t.false(warnings.some((w) => w.includes('\n')));
  t.is(process.env.ORT_TENSORRT_CACHE_PATH, '/tmp/adaptclip-trt-cache-test');
  const [r] = await detector.infer([{ rgb: Buffer.alloc(64 * 48 * 3, 128), width: 64, height: 48 }]);
  t.true(Number.isFinite(r!.score));
});

test('tensorRtEnvironment: fp16 on by default, the engine cache only with a folder, the workspace in bytes', (t) => {
  t.deepEqual(tensorRtEnvironment({}), { ORT_TENSORRT_FP16_ENABLE: '1' });
  t.deepEqual(tensorRtEnvironment({ fp16: false, engineCacheDir: '/var/lib/adaptclip/trt', workspaceBytes: 2 ** 31 }), {
    ORT_TENSORRT_FP16_ENABLE: '0', ORT_TENSORRT_ENGINE_CACHE_ENABLE: '1', ORT_TENSORRT_CACHE_PATH: '/var/lib/adaptclip/trt', ORT_TENSORRT_MAX_WORKSPACE_SIZE: '2147483648',
  });
});
