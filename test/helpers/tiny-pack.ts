// Builds a tiny seeded AdaptCLIP pack plus golden files with the Python exporter, once per option set, into a
// cache under os.tmpdir() keyed by the options and the exporter's sources. Safe when several ava worker
// processes ask at once: one builds (holding a lock folder), the others wait; results appear by atomic rename.
import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PYTHON, REPO_ROOT } from '../../agent/commands/pack.ts';
import { setTimeout as sleep } from 'node:timers/promises';

export interface TinyPackOptions {
  seed?: number;
  size?: number;
  patch?: number;
  width?: number;
  layers?: number;
}

export interface TinyPack {
  packDir: string;
  goldenDir: string;
}

const EXPORT_DIR = join(REPO_ROOT, 'models', 'export');
const CACHE_ROOT = join(tmpdir(), 'adaptclip-tiny-packs');
const STALE_LOCK_MS = 10 * 60 * 1000;

function sourcesDigest(): string {
  const hash = createHash('sha256');
  for (const file of readdirSync(EXPORT_DIR).filter((f) => /\.(py|mjs)$/.test(f)).sort()) {
    hash.update(file).update('\0').update(readFileSync(join(EXPORT_DIR, file))).update('\0');
  }
  return hash.digest('hex');
}

/** The exporter's command-line flags for these options (unset options keep the exporter's defaults). */
export function tinyPackArgs(opts: TinyPackOptions): string[] {
  const args = ['--tiny', '--seed', String(opts.seed ?? 0)];
  if (opts.size !== undefined) args.push('--size', String(opts.size));
  if (opts.patch !== undefined) args.push('--patch', String(opts.patch));
  if (opts.width !== undefined) args.push('--width', String(opts.width));
  if (opts.layers !== undefined) args.push('--layers', String(opts.layers));
  return args;
}

function runExport(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, ['-m', 'models.export', ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`tiny pack export failed (${code}): ${stderr.trim()}`))));
  });
}


export async function tinyPack(opts: TinyPackOptions = {}): Promise<TinyPack> {
  const normalized = { seed: opts.seed ?? 0, size: opts.size, patch: opts.patch, width: opts.width, layers: opts.layers };
  const key = createHash('sha256').update(JSON.stringify(normalized)).update(sourcesDigest()).digest('hex').slice(0, 24);
  const final = join(CACHE_ROOT, key);
  const result = { packDir: join(final, 'pack'), goldenDir: join(final, 'golden') };
  const lock = `${final}.lock`;
  mkdirSync(CACHE_ROOT, { recursive: true });
  for (;;) {
    if (existsSync(join(result.packDir, 'manifest.json'))) return result;
    try {
      mkdirSync(lock);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      // Someone else builds; a lock older than any build means its owner died.
      try {
        if (Date.now() - statSync(lock).mtimeMs > STALE_LOCK_MS) rmSync(lock, { recursive: true, force: true });
      } catch {
        /* the lock went away meanwhile */
      }
      await sleep(250);
      continue;
    }
    try {
      if (existsSync(join(result.packDir, 'manifest.json'))) return result;
      const work = `${final}.tmp-${process.pid}`;
      rmSync(work, { recursive: true, force: true });
      mkdirSync(work);
      await runExport([...tinyPackArgs(opts), '--out', join(work, 'pack'), '--golden', join(work, 'golden')]);
      rmSync(final, { recursive: true, force: true });
      renameSync(work, final);
      return result;
    } finally {
      rmSync(lock, { recursive: true, force: true });
    }
  }
}
