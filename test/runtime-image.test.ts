import test from 'ava';
import sharp from 'sharp';
import { mkdtempSync, writeFileSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeImage, pngKeepingMode, resizeForModel } from '../models/image.ts';
import { ImageError } from '../models/errors.ts';
import { encodeRgb, pattern, pngWithHeader, python } from './fixtures/runtime/images.ts';

const dir = mkdtempSync(join(tmpdir(), 'runtime-image-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

test('PNG, TIFF and raw frames decode to the exact RGB pixels; JPEG close to them', async (t) => {
  const rgb = pattern(21, 13);
  for (const format of ['png', 'tiff'] as const) {
    const img = await decodeImage(await encodeRgb(rgb, 21, 13, format));
    t.deepEqual([img.width, img.height], [21, 13]);
    t.true(img.data.equals(rgb), format);
  }
  const jpeg = await decodeImage(await encodeRgb(rgb, 21, 13, 'jpeg'));
  const meanErr = rgb.reduce((s, v, i) => s + Math.abs(v - jpeg.data[i]!), 0) / rgb.length;
  t.true(meanErr < 12, `jpeg mean error ${meanErr}`);
  const raw = await decodeImage({ rgb, width: 21, height: 13 });
  t.is(raw.data, rgb);
});

test('grey, RGBA and 16-bit PNGs become 8-bit RGB', async (t) => {
  const grey = Buffer.from([0, 50, 100, 150, 200, 255]);
  const g = await decodeImage(await sharp(grey, { raw: { width: 3, height: 2, channels: 1 } }).png().toBuffer());
  t.deepEqual([...g.data], [...grey].flatMap((v) => [v, v, v]));
  const rgba = Buffer.from([10, 20, 30, 0, 40, 50, 60, 255]);
  const a = await decodeImage(await sharp(rgba, { raw: { width: 2, height: 1, channels: 4 } }).png().toBuffer());
  t.deepEqual([...a.data], [10, 20, 30, 40, 50, 60]);
  const wide = new Uint16Array([0, 257 * 100, 65535, 257 * 7, 257 * 200, 257 * 33]);
  const png16 = await sharp(wide, { raw: { width: 2, height: 1, channels: 3 } }).toColourspace('rgb16').png().toBuffer();
  t.is((await sharp(png16).metadata()).depth, 'ushort');
  const w = await decodeImage(png16);
  t.deepEqual([...w.data], [0, 100, 255, 7, 200, 33]);
});

test('BMP written by Pillow (24-bit, 8-bit palette, 1-bit, 32-bit, top-down) decodes exactly', async (t) => {
  python(
    `import sys, numpy as np
from PIL import Image
out = sys.argv[1]
a = np.zeros((5, 7, 3), np.uint8)
for y in range(5):
    for x in range(7):
        a[y, x] = ((x * 37) % 256, (y * 51) % 256, ((x + y) * 19) % 256)
Image.fromarray(a).save(out + '/rgb24.bmp')
Image.fromarray(a).convert('P', palette=Image.ADAPTIVE, colors=16).save(out + '/pal8.bmp')
Image.fromarray(a).convert('P', palette=Image.ADAPTIVE, colors=16).convert('RGB').save(out + '/pal8.png')
Image.fromarray((a[:, :, 0] > 100).astype(np.uint8) * 255).convert('1').save(out + '/mono.bmp')
Image.fromarray(a).convert('RGBA').save(out + '/rgba.bmp')
np.save(out + '/ref.npy', a)
open(out + '/ref.raw', 'wb').write(a.tobytes())
open(out + '/mono.raw', 'wb').write(((a[:, :, 0] > 100).astype(np.uint8) * 255).tobytes())
`,
    [dir],
  );
  const ref = readFileSync(join(dir, 'ref.raw'));
  const rgb24 = await decodeImage(join(dir, 'rgb24.bmp'));
  t.deepEqual([rgb24.width, rgb24.height], [7, 5]);
  t.true(rgb24.data.equals(ref));
  t.true((await decodeImage(join(dir, 'rgba.bmp'))).data.equals(ref));
  const pal = await decodeImage(join(dir, 'pal8.bmp'));
  t.true(pal.data.equals((await decodeImage(join(dir, 'pal8.png'))).data));
  const mono = await decodeImage(join(dir, 'mono.bmp'));
  t.deepEqual([...mono.data], [...readFileSync(join(dir, 'mono.raw'))].flatMap((v) => [v, v, v]));
  // Top-down: negative height, rows stored first to last.
  const bottomUp = readFileSync(join(dir, 'rgb24.bmp'));
  const offset = bottomUp.readUInt32LE(10);
  const stride = Math.ceil((7 * 24) / 32) * 4;
  const topDown = Buffer.from(bottomUp);
  topDown.writeInt32LE(-5, 22);
  for (let y = 0; y < 5; y++) bottomUp.copy(topDown, offset + y * stride, offset + (4 - y) * stride, offset + (5 - y) * stride);
  t.true((await decodeImage(topDown)).data.equals(ref));
});

test('resize gives S×S×3 with aspect not kept; an S×S frame passes untouched (exactness: pillow-resize.test.ts)', (t) => {
  const rgb = pattern(40, 20);
  const out = resizeForModel({ data: rgb, width: 40, height: 20 }, 16);
  t.is(out.length, 16 * 16 * 3);
  const square = pattern(16, 16);
  t.is(resizeForModel({ data: square, width: 16, height: 16 }, 16), square);
});

const badInputs: [string, () => Promise<Buffer | string> | Buffer | string, RegExp][] = [
  ['a text file', () => { const p = join(dir, 'notes.png'); writeFileSync(p, 'this is not an image\n'); return p; }, /notes\.png: not a readable image \(PNG, JPEG, BMP or TIFF expected\)/],
  ['a missing file', () => join(dir, 'absent.png'), /absent\.png: cannot read the file \(ENOENT\)/],
  ['an empty file', () => Buffer.alloc(0), /the file is empty/],
  ['a truncated PNG', async () => (await encodeRgb(pattern(64, 64), 64, 64, 'png')).subarray(0, 300), /truncated or corrupt image data/],
  ['a truncated JPEG', async () => (await encodeRgb(pattern(64, 64), 64, 64, 'jpeg')).subarray(0, 400), /truncated or corrupt image data/],
  ['a truncated BMP', () => { const b = Buffer.alloc(54 + 10); b.write('BM'); b.writeUInt32LE(54, 10); b.writeUInt32LE(40, 14); b.writeInt32LE(8, 18); b.writeInt32LE(8, 22); b.writeUInt16LE(24, 28); return b; }, /truncated BMP pixel data/],
  ['a 0×0 PNG', () => pngWithHeader(0, 0), /0×0 pixels; a frame needs at least 1×1/],
  ['a 100-megapixel PNG', () => pngWithHeader(10_000, 10_000), /10000×10000 is 100\.0 megapixels, over the limit of 64\.0; scale it down first/],
  ['a GIF', () => sharp({ create: { width: 2, height: 2, channels: 3, background: 'red' } }).gif().toBuffer(), /gif is not supported; use PNG, JPEG, BMP or TIFF/],
];

for (const [what, make, expected] of badInputs) {
  test(`${what} is refused with one clear line`, async (t) => {
    const err = await t.throwsAsync(decodeImage(await make()), { instanceOf: ImageError });
    t.regex(err!.message, expected);
    t.false(err!.message.includes('\n'));
  });
}

test('raw frames: 0×0, 100 megapixels and a short buffer are refused', async (t) => {
  await t.throwsAsync(decodeImage({ rgb: Buffer.alloc(0), width: 0, height: 0 }), { instanceOf: ImageError, message: /0×0 pixels; a frame needs at least 1×1/ });
  await t.throwsAsync(decodeImage({ rgb: Buffer.alloc(3), width: 10_000, height: 10_000 }), { instanceOf: ImageError, message: /100\.0 megapixels/ });
  await t.throwsAsync(decodeImage({ rgb: Buffer.alloc(10), width: 2, height: 2 }), { instanceOf: ImageError, message: /10 bytes, packed RGB24 needs 12/ });
});

test('an upload kept as PNG gives the same model input as the file sent (PNG as is; JPEG, TIFF grey/alpha re-encoded in their mode)', async (t) => {
  const rgb = pattern(45, 31);
  const grey = Buffer.from(rgb.filter((_, i) => i % 3 === 0));
  const rgba = Buffer.alloc(45 * 31 * 4);
  for (let p = 0; p < 45 * 31; p++) { rgb.copy(rgba, p * 4, p * 3, p * 3 + 3); rgba[p * 4 + 3] = (p * 13) & 255; }
  const files: [string, Buffer][] = [
    ['RGBA PNG', await sharp(rgba, { raw: { width: 45, height: 31, channels: 4 } }).png().toBuffer()],
    ['grey JPEG', await sharp(grey, { raw: { width: 45, height: 31, channels: 1 } }).jpeg().toBuffer()],
    ['RGB JPEG', await encodeRgb(rgb, 45, 31, 'jpeg')],
    ['RGBA TIFF', await sharp(rgba, { raw: { width: 45, height: 31, channels: 4 } }).tiff().toBuffer()],
  ];
  for (const [what, file] of files) {
    const image = await decodeImage(file);
    const kept = await pngKeepingMode(file, image);
    const again = await decodeImage(kept);
    t.is(again.mode, image.mode, what);
    t.true(resizeForModel(again, 16).equals(resizeForModel(image, 16)), what);
  }
  t.is(await pngKeepingMode(files[0]![1], await decodeImage(files[0]![1])), files[0]![1]);
});
