// The model input must equal Pillow's (the official preprocessing) byte for byte: each image is written here,
// Debian's Pillow computes the reference (Image.open → 'L' merged to RGB → resize((S, S), BICUBIC) → RGB),
// and the runtime's decode + resize must give the same bytes, for every mode the official loader meets.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeImage, resizeForModel } from '../models/image.ts';
import { seededRandom } from '../models/eval/dataset.ts';

interface Case { name: string; width: number; height: number; size: number; mode: string; format: 'png' | 'jpeg' | 'bmp' | 'tiff'; seed: number }

// mode as written → the mode Pillow opens it in (16-bit grey is "I", 16-bit grey+alpha is "RGBA" in Pillow 9.4).
const KINDS: [Case['mode'], Case['format'], string][] = [
  ['RGB', 'png', 'RGB'], ['L', 'png', 'L'], ['LA', 'png', 'LA'], ['RGBA', 'png', 'RGBA'], ['P', 'png', 'P'],
  ['PT', 'png', 'P'], ['1', 'png', '1'], ['I16', 'png', 'I'], ['RGB16', 'png', 'RGB'], ['RGBA16', 'png', 'RGBA'],
  ['LA16', 'png', 'RGBA'], ['RGB', 'jpeg', 'RGB'], ['L', 'jpeg', 'L'], ['RGB', 'bmp', 'RGB'], ['P', 'bmp', 'P'],
  ['L', 'bmp', 'L'], ['1', 'bmp', '1'], ['bmp555', 'bmp', 'RGB'], ['bmpRGBA', 'bmp', 'RGBA'],
  ['RGB', 'tiff', 'RGB'], ['RGBA', 'tiff', 'RGBA'], ['L', 'tiff', 'L'],
];
const EXT = { png: 'png', jpeg: 'jpg', bmp: 'bmp', tiff: 'tif' } as const;

function cases(): Case[] {
  const random = seededRandom(20261201);
  const out: Case[] = [];
  // The extremes: 2600 px down to 0.05×, 16 px up to 8×, and an S×S frame (passed through).
  const fixed: [number, number, number][] = [[2600, 2600, 130], [16, 16, 128], [2600, 1733, 518], [16, 23, 112], [518, 518, 518]];
  KINDS.forEach(([mode, format], k) => {
    for (let i = 0; i < 3; i++) {
      let width: number, height: number, size: number;
      if (i === 0 && k < fixed.length) [width, height, size] = fixed[k]!;
      else {
        // Sides log-uniform in 16 … 1200 (a few at 2600 above keep the run short), scale 0.05× … 8× of the long side.
        width = Math.round(16 * Math.exp(random() * Math.log(1200 / 16)));
        height = Math.round(width * Math.exp((random() - 0.5) * 1.6));
        height = Math.min(2600, Math.max(16, height));
        const scale = 0.05 * Math.exp(random() * Math.log(8 / 0.05));
        size = Math.min(600, Math.max(8, Math.round(Math.max(width, height) * scale)));
      }
      out.push({ name: `${format}-${mode}-${width}x${height}-S${size}`, width, height, size, mode, format, seed: out.length + 1 });
    }
  });
  return out;
}

test('decode + resize equals Pillow BICUBIC byte for byte: every mode, 16 … 2600 px, 0.05× … 8×', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pillow-resize-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const all = cases();
  t.true(all.length >= 60);
  writeFileSync(join(dir, 'spec.json'), JSON.stringify(all));
  execFileSync('/usr/bin/python3', [join(import.meta.dirname, 'peers', 'pillow_resize.py'), join(dir, 'spec.json'), dir], { stdio: ['ignore', 'inherit', 'inherit'] });
  const opened = JSON.parse(readFileSync(join(dir, 'modes.json'), 'utf8')) as Record<string, string>;
  let differing = 0;
  const scales: number[] = [];
  const failures: string[] = [];
  for (const c of all) {
    const pillowMode = KINDS.find(([m, f]) => m === c.mode && f === c.format)![2];
    t.is(opened[c.name], pillowMode, `${c.name}: Pillow opened it as ${opened[c.name]}`);
    const image = await decodeImage(join(dir, `${c.name}.${EXT[c.format]}`));
    const input = resizeForModel(image, c.size);
    const reference = readFileSync(join(dir, `${c.name}.ref`));
    let diff = 0;
    for (let i = 0; i < reference.length; i++) if (input[i] !== reference[i]) diff++;
    if (input.length !== reference.length || diff) failures.push(`${c.name} (${image.mode}): ${diff} bytes differ, ${input.length} vs ${reference.length} bytes`);
    differing += diff;
    scales.push(c.size / c.width, c.size / c.height);
  }
  t.log(`${all.length} images, sides ${Math.min(...all.map((c) => Math.min(c.width, c.height)))}…${Math.max(...all.map((c) => Math.max(c.width, c.height)))} px, ` +
    `scale ${Math.min(...scales).toFixed(3)}×…${Math.max(...scales).toFixed(2)}×, differing bytes: ${differing}`);
  t.deepEqual(failures, []);
  t.is(differing, 0);
  t.true(Math.min(...scales) <= 0.05 && Math.max(...scales) >= 8);
});
