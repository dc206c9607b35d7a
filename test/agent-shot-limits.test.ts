// Shot uploads are bounded in pixels (http.maxUploadPixels, checked on the header before decoding: 413, nothing
// stored), and large allowed uploads give their memory back: RSS returns to within 10 % of its level after 20.
// Measured in a child process (test/helpers/shot-rss.ts, run with --expose-gc and the glibc setting the shipped
// systemd unit sets), so this test's own heap does not blur the figures.
import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { startHarness } from './helpers/harness.ts';
import { realParts } from '../agent/parts.ts';
import type { Detector, DetectorInput } from '../agent/pipeline/ports.ts';

const run = promisify(execFile);

/** The Environment= lines of the shipped systemd unit (the daemon runs with them on a line PC). */
function unitEnvironment(): Record<string, string> {
  const unit = readFileSync(new URL('../deploy/adaptclip-edge.service', import.meta.url), 'utf8');
  return Object.fromEntries([...unit.matchAll(/^Environment=([A-Z_]+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]));
}

async function png(width: number, height: number, path: string): Promise<number> {
  // A horizontal gradient: compresses to a small file, decodes to width × height × 3 bytes like any photo.
  const row = Buffer.alloc(width * 3);
  for (let x = 0; x < width; x++) row.fill(x & 255, x * 3, x * 3 + 3);
  const bytes = await sharp(row, { raw: { width, height: 1, channels: 3 } }).resize(width, height, { kernel: 'nearest' }).png().toBuffer();
  writeFileSync(path, bytes);
  return bytes.length;
}

test('a 39.7 MP shot gets 413 naming http.maxUploadPixels and nothing is stored; RSS returns to its level after 20 uploads of 20 MP', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'shot-rss-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const files = { small: join(dir, 'small.png'), large: join(dir, 'large.png'), huge: join(dir, 'huge.png') };
  await png(640, 480, files.small);
  const largeBytes = await png(5000, 4000, files.large); // 20 MP, under the 25 MP default
  const hugeBytes = await png(6300, 6300, files.huge); // 39.7 MP, the image
  t.true(hugeBytes < 10 * 1024 * 1024, 'the huge image is well under http.maxUploadMb: only the pixel limit can refuse it');
  const { stdout } = await run(process.execPath, ['--expose-gc', '--import', 'tsx', 'test/helpers/shot-rss.ts', files.small, files.large, files.huge, '20'], {
    env: { ...process.env, ...unitEnvironment() }, maxBuffer: 1 << 20, timeout: 240_000,
  });
  const r = JSON.parse(stdout.trim().split('\n').pop()!) as {
    startMb: number; first: number; levelMb: number; statuses: number[]; ms: number[]; afterEach: number[];
    beforeHugeMb: number; afterHugeMb: number; refused: { status: number; error: string }; hugeShots: number;
  };
  t.log(`large PNG ${(largeBytes / 1024).toFixed(0)} KiB; RSS at start ${r.startMb} MB, level after one small shot ${r.levelMb} MB, after each 20 MP upload: ${r.afterEach.join(' ')} MB; upload ms: ${r.ms.join(' ')}`);
  t.is(r.first, 201);
  t.deepEqual(r.statuses, r.statuses.map(() => 201), 'every 20 MP shot is accepted');
  const last = r.afterEach.at(-1)!;
  t.true(last <= r.levelMb * 1.1, `RSS ${last} MB after 20 large uploads, level ${r.levelMb} MB (+${(((last / r.levelMb) - 1) * 100).toFixed(1)} %, at most 10 %)`);
  // The session warm-up already started the resize threads: the level right after start-up is the same level.
  t.true(last <= r.startMb * 1.1, `RSS ${last} MB after 20 large uploads, ${r.startMb} MB after start-up`);
  t.is(r.refused.status, 413);
  t.regex(r.refused.error, /6300×6300 is 39\.7 megapixels, over the 25\.0 megapixel limit \(http\.maxUploadPixels\)/);
  t.is(r.hugeShots, 0, 'the refused shot is not stored');
  // Refused on its header: decoding it would have taken 119 MB (6300 × 6300 × 3).
  t.true(r.afterHugeMb - r.beforeHugeMb < 40, `RSS ${r.beforeHugeMb} → ${r.afterHugeMb} MB around the refused upload`);
});

test('adding a shot decodes only the new shot: leave-one-out judges the others from their kept model inputs', async (t) => {
  // Every encoded image (PNG bytes) handed to the real runtime is a full-resolution decode; count them.
  let decodes = 0;
  const counted = (d: Detector): Detector => {
    const count = (img: DetectorInput) => void (Buffer.isBuffer(img) && decodes++);
    return {
      get packId() { return d.packId; },
      get packSha() { return d.packSha; },
      get defaultThreshold() { return d.defaultThreshold; },
      get provider() { return d.provider; },
      encodeShot: (img) => (count(img), d.encodeShot(img)),
      ...(d.modelInput ? { modelInput: (img: DetectorInput) => (count(img), d.modelInput!(img)) } : {}),
      memoryFrom: (f) => d.memoryFrom(f),
      dispose: () => d.dispose(),
      infer: (images, memory, opts) => (images.forEach(count), d.infer(images, memory, opts)),
    };
  };
  const h = await startHarness({ cameras: [] }, {
    parts: { detectorFactory: (cfg) => { const f = realParts().detectorFactory(cfg); return async () => counted(await f()); } },
  });
  t.teardown(() => h.stop());
  const product = await h.api<{ id: number }>('POST', '/api/products', { name: 'loo' });
  const perUpload: number[] = [];
  const scores: (number | null)[][] = [];
  for (let i = 0; i < 4; i++) {
    const png = await sharp({ create: { width: 1280, height: 1024, channels: 3, background: { r: 90 + 10 * i, g: 120, b: 140 } } }).png().toBuffer();
    const before = decodes;
    const res = await h.api<{ shots: { shots: { looScore: number | null }[] } }>('POST', `/api/products/${product.body.id}/shots`, png);
    t.is(res.status, 201);
    perUpload.push(decodes - before);
    scores.push(res.body.shots.shots.map((s) => s.looScore));
  }
  t.deepEqual(perUpload, [1, 1, 1, 1], 'one decode per upload (the new shot), however many shots the product has');
  t.true(scores[3]!.every((s) => typeof s === 'number'), 'every shot has its leave-one-out score');
});
