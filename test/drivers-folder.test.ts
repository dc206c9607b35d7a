import test from 'ava';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { createFrameSource } from '../drivers/index.ts';
import type { Frame, SourceState } from '../drivers/types.ts';
import { framePng } from '../agent/http/products.ts';

/** A folder with images of three sizes, a corrupt one and a non-image, named so that only natural order is right. */
async function makeFolder(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'drivers-folder-'));
  const solid = (w: number, h: number, v: number) => sharp({ create: { width: w, height: h, channels: 3, background: { r: v, g: v, b: v } } });
  await solid(40, 30, 10).png().toFile(join(dir, 'img1.png'));
  await solid(40, 30, 20).jpeg({ quality: 100 }).toFile(join(dir, 'img2.jpg'));
  await solid(64, 48, 100).png().toFile(join(dir, 'img10.png'));
  await sharp({ create: { width: 8, height: 6, channels: 4, background: { r: 200, g: 200, b: 200, alpha: 0.5 } } }).png().toFile(join(dir, 'img11.png'));
  await writeFile(join(dir, 'img3.png'), 'not a png at all');
  await writeFile(join(dir, 'notes.txt'), 'ignored');
  return dir;
}

function collect(source: ReturnType<typeof createFrameSource>) {
  const frames: Frame[] = [];
  const states: SourceState[] = [];
  source.on('frame', (f) => frames.push(f));
  source.on('state', (s) => states.push(s));
  return { frames, states };
}

test('folder replay plays images once in natural order at their own sizes, skips and reports a corrupt file, then stops', async (t) => {
  const dir = await makeFolder();
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const source = createFrameSource({ type: 'folder', id: 'f1', path: dir, loop: false, fps: 50 });
  const { frames, states } = collect(source);
  const stopped = new Promise<void>((resolve) => source.on('state', (s) => s === 'stopped' && resolve()));
  await source.start();
  await stopped;
  t.deepEqual(frames.map((f) => [f.width, f.height, f.rgb[0]]), [[40, 30, 10], [40, 30, 20], [64, 48, 100], [8, 6, frames[3]?.rgb[0]]]);
  for (const f of frames) {
    t.is(f.rgb.length, f.width * f.height * 3);
    t.false('model' in f, 'no driver-scaled model copy: the runtime resizes the full frame');
  }
  t.deepEqual(states, ['starting', 'online', 'stopped']);
  const status = source.status();
  t.is(status.badFrames, 1);
  t.regex(status.lastError ?? '', /img3\.png: cannot decode/);
});

test('folder replay loops when asked', async (t) => {
  const dir = await makeFolder();
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const source = createFrameSource({ type: 'folder', id: 'f2', path: dir, loop: true, fps: 40 });
  const { frames } = collect(source);
  await source.start();
  await new Promise((r) => setTimeout(r, 500));
  await source.stop();
  t.true(frames.length >= 8, `${frames.length} frames`);
  t.deepEqual(frames.slice(0, 8).map((f) => f.rgb[0]), [10, 20, 100, frames[3]!.rgb[0], 10, 20, 100, frames[3]!.rgb[0]]);
});

test('folder replay on trigger emits one image per trigger and refuses after a non-looping end', async (t) => {
  const dir = await makeFolder();
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const source = createFrameSource({ type: 'folder', id: 'f3', path: dir, loop: false, trigger: 'software' });
  const { frames } = collect(source);
  await source.start();
  for (const seq of [1, 2, 3, 4]) await source.trigger!(seq);
  t.deepEqual(frames.map((f) => f.triggerId), [1, 2, 3, 4]);
  await t.throwsAsync(source.trigger!(5), { message: /camera f3: .*(end|not running)/ });
});

test('a missing or empty folder fails start with one line saying what to do', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'drivers-empty-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const missing = createFrameSource({ type: 'folder', id: 'f4', path: join(dir, 'nope') });
  await t.throwsAsync(missing.start(), { message: /^camera f4: folder .*nope does not exist; create it or fix the camera's path$/ });
  t.is(missing.status().state, 'offline');
  const empty = createFrameSource({ type: 'folder', id: 'f5', path: dir });
  await t.throwsAsync(empty.start(), { message: /^camera f5: folder .* holds no images .*; add some or fix the path$/ });
});

test('replayed PNG and TIFF frames carry their file for the model (and a kept shot is that PNG); WebP frames do not', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'drivers-folder-file-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const pixels = Buffer.alloc(12 * 9 * 4);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 29) & 255;
  const rgba = sharp(pixels, { raw: { width: 12, height: 9, channels: 4 } });
  await rgba.clone().png().toFile(join(dir, 'a1.png'));
  await rgba.clone().removeAlpha().tiff().toFile(join(dir, 'a2.tif'));
  await rgba.clone().webp({ lossless: true }).toFile(join(dir, 'a3.webp'));
  const source = createFrameSource({ type: 'folder', id: 'f5', path: dir, loop: false, fps: 50 });
  const { frames } = collect(source);
  const stopped = new Promise<void>((resolve) => source.on('state', (s) => s === 'stopped' && resolve()));
  await source.start();
  await stopped;
  t.is(frames.length, 3);
  t.true(frames[0]!.file?.equals(await readFile(join(dir, 'a1.png'))));
  t.true(frames[1]!.file?.equals(await readFile(join(dir, 'a2.tif'))));
  t.is(frames[2]!.file, undefined);
  t.true((await framePng(frames[0]!)).equals(frames[0]!.file!), 'a shot kept from a replayed PNG is the file as it is');
  const fromTiff = await sharp(await framePng(frames[1]!)).raw().toBuffer();
  t.true(fromTiff.equals(frames[1]!.rgb), 'a replayed TIFF is kept as a PNG of the same pixels');
  t.is((await sharp(await framePng(frames[2]!)).metadata()).channels, 3, 'a WebP frame is kept as its RGB');
});
