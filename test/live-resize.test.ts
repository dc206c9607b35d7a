// Issue 10, live path: a frame a camera of the running daemon captured reaches the model through the official
// preprocessing, Pillow's Image.resize((S, S), BICUBIC), byte for byte. The daemon runs for real (harness, committed
// demo pack, real synthetic and RTSP cameras); two pass-through observers record what happened: every frame each
// camera emitted, and for every frame the runtime prepared, the full-resolution RGB the worker handed over and the
// uint8 S×S×3 encoder input the runtime computed from it. Pillow (/usr/bin/python3) then resizes a lossless PNG of
// the handed-over frame and the two must be equal.
import test from 'ava';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { startHarness, type Harness } from './helpers/harness.ts';
import { packDetectorFactory } from '../agent/pipeline/detector.ts';
import { warmupFrame } from '../agent/pipeline/worker.ts';
import { resolvePath } from '../agent/config/load.ts';
import type { AgentConfig } from '../agent/config/schema.ts';
import { createFrameSource } from '../drivers/index.ts';
import type { CameraConfig } from '../drivers/config.ts';
import { createDetector, type Detector, type ImageInput, type PreparedFrame } from '../models/index.ts';
import { startRtspServer } from './peers/rtsp.ts';
import { until } from './helpers/until.ts';

const run = promisify(execFile);

/** What the runtime was handed (a raw frame from the worker) and the encoder input it prepared from it. */
interface Prepared {
  width: number;
  height: number;
  rgb: Buffer;
  input: Buffer;
  size: number;
}

const WARMUP = Buffer.from(warmupFrame().rgb);

/** A thin pass-through of the real runtime detector: prepare() is the runtime's, its result is only copied aside.
 *  infer() is what the runtime's own infer() is (every frame prepared, then inferPrepared on the batch). */
function recording(det: Detector, seen: Prepared[]): Detector {
  const prepare = async (frame: ImageInput): Promise<PreparedFrame> => {
    const prepared = await det.prepare(frame);
    // The session warm-up's synthetic frame is no camera's: only the frames the worker took from a camera count.
    if (typeof frame === 'object' && !Buffer.isBuffer(frame) && !frame.rgb.equals(WARMUP)) {
      seen.push({ width: frame.width, height: frame.height, rgb: Buffer.from(frame.rgb), input: Buffer.from(prepared.input), size: det.pack.size });
    }
    return prepared;
  };
  return {
    get pack() { return det.pack; },
    get provider() { return det.provider; },
    prepare,
    infer: async (frames, memory) => {
      const prepared: PreparedFrame[] = [];
      for (const f of frames) prepared.push(await prepare(f));
      return det.inferPrepared(prepared, memory);
    },
    inferPrepared: (frames, memory) => det.inferPrepared(frames, memory),
    // The kept-encoder path prepares through the runtime's own prepare: recorded like infer's frames.
    encodeKeeping: async (frame, roi) => {
      await prepare(frame);
      return det.encodeKeeping(frame, roi);
    },
    inferEncoded: (image, memory) => det.inferEncoded(image, memory),
    memoryOfEncoded: (image) => det.memoryOfEncoded(image),
    encodeShots: (images) => det.encodeShots(images),
    leaveOneOutScores: (images) => det.leaveOneOutScores(images),
    registerShots: (images) => det.registerShots(images),
    runEncoder: (batch, count) => det.runEncoder(batch, count),
    runHeads: (encoded, memory) => det.runHeads(encoded, memory),
    recreate: () => det.recreate(),
    close: () => det.close(),
  };
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A daemon with one camera; records the camera's frames (by hash) and what the runtime prepared. */
async function daemonWith(source: Record<string, unknown>): Promise<{ h: Harness; emitted: Map<string, { width: number; height: number }>; seen: Prepared[] }> {
  const emitted = new Map<string, { width: number; height: number }>();
  const seen: Prepared[] = [];
  const h = await startHarness(
    { cameras: [{ station: 'ST1', source }] },
    {
      parts: {
        sourceFactory: (c: CameraConfig) => {
          const camera = createFrameSource(c);
          camera.on('frame', (f) => emitted.set(sha(f.rgb), { width: f.width, height: f.height }));
          return camera;
        },
        detectorFactory: (cfg: AgentConfig) =>
          packDetectorFactory({
            packDir: resolvePath(cfg.model.pack), device: cfg.model.device, ...(cfg.model.threads ? { threads: cfg.model.threads } : {}), warn: () => undefined,
            create: async (pack, options) => recording(await createDetector(pack, options), seen),
          }),
      },
    },
  );
  return { h, emitted, seen };
}

const PILLOW = `
import sys
from PIL import Image
im = Image.open(sys.argv[1])
im.load()
assert im.mode == 'RGB', im.mode
S = int(sys.argv[2])
sys.stdout.buffer.write(im.tobytes())
sys.stdout.buffer.write(im.resize((S, S), Image.BICUBIC).tobytes())
`;

/** Pillow's bytes for this frame: [the PNG decoded (a lossless round trip check), Image.resize((S, S), BICUBIC)]. */
async function pillow(frame: Prepared, dir: string, name: string): Promise<{ decoded: Buffer; resized: Buffer }> {
  const png = join(dir, `${name}.png`);
  await sharp(frame.rgb, { raw: { width: frame.width, height: frame.height, channels: 3 } }).png({ compressionLevel: 1 }).toFile(png);
  const { stdout } = await run('/usr/bin/python3', ['-c', PILLOW, png, String(frame.size)], { encoding: 'buffer', maxBuffer: 64 << 20 });
  const full = frame.width * frame.height * 3;
  return { decoded: stdout.subarray(0, full), resized: stdout.subarray(full) };
}

function differing(a: Buffer, b: Buffer): { count: number; maxAbs: number } {
  let count = 0;
  let maxAbs = 0;
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (d) {
      count++;
      if (d > maxAbs) maxAbs = d;
    }
  }
  return { count: count + Math.abs(a.length - b.length), maxAbs };
}

async function checkLivePath(t: import('ava').ExecutionContext, source: Record<string, unknown>, width: number, height: number, setupMs = 0): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'live-resize-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const { h, emitted, seen } = await daemonWith(source);
  t.teardown(() => h.stop());
  await until('three frames prepared by the runtime', () => seen.length >= 3, 20_000 + setupMs);
  await h.daemon.stop();
  t.true(h.daemon.counters().ST1!.captured >= 3, 'the station captured the frames');
  for (const [i, frame] of seen.slice(0, 3).entries()) {
    const S = frame.size;
    // The worker handed over the camera's own frame at its full resolution, not a driver-scaled S×S copy.
    t.deepEqual([frame.width, frame.height], [width, height], `frame ${i}: the camera's full resolution`);
    t.not(frame.width, S);
    t.is(frame.rgb.length, width * height * 3);
    t.deepEqual(emitted.get(sha(frame.rgb)), { width, height }, `frame ${i}: byte for byte a frame the camera emitted`);
    t.is(frame.input.length, S * S * 3, `frame ${i}: encoder input is ${S}×${S}×3`);
    const { decoded, resized } = await pillow(frame, dir, `frame${i}`);
    t.true(decoded.equals(frame.rgb), `frame ${i}: the PNG round trip is lossless`);
    const diff = differing(frame.input, resized);
    t.log(`frame ${i} ${width}x${height} → ${S}x${S}: ${diff.count} of ${resized.length} bytes differ from Pillow BICUBIC (max |Δ| ${diff.maxAbs})`);
    t.is(diff.count, 0, `frame ${i}: model input vs Pillow Image.resize((${S}, ${S}), BICUBIC): ${diff.count} bytes differ, max |Δ| ${diff.maxAbs}`);
  }
}

test('synthetic camera: the daemon hands the full-resolution frame over and the model input is Pillow BICUBIC of it, byte for byte', async (t) => {
  await checkLivePath(t, { type: 'synthetic', id: 'cam1', fps: 4, width: 320, height: 240, seed: 7 }, 320, 240);
});

test('RTSP camera: the daemon hands the full-resolution frame over and the model input is Pillow BICUBIC of it, byte for byte', async (t) => {
  const peer = await startRtspServer({ width: 352, height: 288, fps: 5 });
  t.teardown(() => peer.kill());
  await checkLivePath(t, { type: 'rtsp', id: 'rtsp1', url: peer.url }, 352, 288, 10_000);
});

test('folder replay: the model decodes each file in the mode Pillow opens it in (RGBA, LA, palette, bilevel, 16-bit grey), byte for byte', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'live-resize-folder-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const images = join(dir, 'images');
  await mkdir(images);
  // Distinct sizes tell the frames apart; the reference is Pillow's Image.open → resize((S, S), BICUBIC) → RGB.
  const modes = ['RGBA', 'LA', 'P', '1', 'I16', 'RGB'];
  const S = (JSON.parse(await readFile('models/packs/demo-tiny/manifest.json', 'utf8')) as { image: { size: number } }).image.size;
  const spec = modes.map((mode, i) => ({ name: `f${i}-${mode}`, width: 200 + 17 * i, height: 150 + 11 * i, size: S, mode, format: 'png', seed: 40 + i }));
  await writeFile(join(dir, 'spec.json'), JSON.stringify(spec));
  await run('/usr/bin/python3', [join(import.meta.dirname, 'peers', 'pillow_resize.py'), join(dir, 'spec.json'), images]);
  const refs = new Map<string, { mode: string; ref: Buffer }>();
  for (const c of spec) {
    refs.set(`${c.width}x${c.height}`, { mode: c.mode, ref: await readFile(join(images, `${c.name}.ref`)) });
    await rm(join(images, `${c.name}.ref`));
  }
  await rm(join(images, 'modes.json'));
  const { h, seen } = await daemonWith({ type: 'folder', id: 'dir1', path: images, fps: 6, loop: false });
  t.teardown(() => h.stop());
  await until('every file prepared by the runtime', () => new Set(seen.map((f) => `${f.width}x${f.height}`)).size >= modes.length, 20_000);
  await h.daemon.stop();
  const checked = new Set<string>();
  for (const frame of seen) {
    const key = `${frame.width}x${frame.height}`;
    const expected = refs.get(key);
    if (!expected || checked.has(key)) continue;
    checked.add(key);
    const diff = differing(frame.input, expected.ref);
    t.log(`${expected.mode} ${key} → ${S}x${S}: ${diff.count} of ${expected.ref.length} bytes differ from Pillow (max |Δ| ${diff.maxAbs})`);
    t.is(diff.count, 0, `${expected.mode} ${key}: model input vs Pillow: ${diff.count} bytes differ, max |Δ| ${diff.maxAbs}`);
  }
  t.is(checked.size, modes.length);
});
