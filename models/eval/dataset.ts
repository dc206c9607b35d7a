// MVTec AD layout: <class>/train/good/*, <class>/test/<type>/*, <class>/ground_truth/<type>/<stem>_mask.png.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, extname, join } from 'node:path';

const IMAGE_EXT = new Set(['.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff']);

export interface TestImage {
  path: string;
  /** Defect type folder; "good" for normal parts. */
  type: string;
  anomalous: boolean;
  /** Ground-truth mask; null for good parts (all normal). */
  maskPath: string | null;
}

export interface EvalClass {
  name: string;
  train: string[];
  test: TestImage[];
}

const images = (dir: string) =>
  readdirSync(dir)
    .filter((f) => IMAGE_EXT.has(extname(f).toLowerCase()))
    .sort()
    .map((f) => join(dir, f));

const isDir = (p: string) => existsSync(p) && statSync(p).isDirectory();

/** Reads the classes under root (all, or the named ones). Throws one clear line on a broken layout. */
export function readMvtec(root: string, only?: string[]): EvalClass[] {
  if (!isDir(root)) throw new Error(`--data ${root}: not a folder; give the root of an MVTec AD style dataset`);
  const names = readdirSync(root).filter((n) => isDir(join(root, n, 'test'))).sort();
  const picked = only?.length ? only : names;
  if (picked.length === 0) throw new Error(`--data ${root}: no class folders with a test/ folder inside (MVTec AD layout: <class>/train/good, <class>/test/<type>)`);
  return picked.map((name) => {
    const dir = join(root, name);
    if (!isDir(join(dir, 'test'))) throw new Error(`--data ${root}: class "${name}" has no test/ folder`);
    const trainDir = join(dir, 'train', 'good');
    const train = isDir(trainDir) ? images(trainDir) : [];
    const test: TestImage[] = [];
    for (const type of readdirSync(join(dir, 'test')).filter((t) => isDir(join(dir, 'test', t))).sort()) {
      for (const path of images(join(dir, 'test', type))) {
        if (type === 'good') {
          test.push({ path, type, anomalous: false, maskPath: null });
          continue;
        }
        const maskPath = join(dir, 'ground_truth', type, `${basename(path, extname(path))}_mask.png`);
        if (!existsSync(maskPath)) throw new Error(`--data: ${path} has no ground-truth mask ${maskPath}; add it (0 = normal, 255 = defect)`);
        test.push({ path, type, anomalous: true, maskPath });
      }
    }
    if (!test.some((t) => t.anomalous) || !test.some((t) => !t.anomalous)) {
      throw new Error(`--data: class "${name}" needs both test/good and at least one defect folder under test/`);
    }
    return { name, train, test };
  });
}

/** Deterministic pseudo-random numbers (mulberry32), so a seed always draws the same shots. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** K distinct items drawn with a seeded Fisher–Yates shuffle. */
export function drawShots(train: readonly string[], k: number, seed: number): string[] {
  if (k > train.length) throw new Error(`--shots ${k}: only ${train.length} images in train/good`);
  const pool = [...train];
  const rand = seededRandom(seed);
  for (let i = pool.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  return pool.slice(0, k);
}
