// Folder replay: the images of a folder in natural sort order, looped or once, at a rate or per software trigger.
import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import sharp from 'sharp';
import { BaseSource } from './base.ts';
import type { FolderCameraConfig } from './config.ts';
import { Pacer } from './pacer.ts';

export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.webp', '.tif', '.tiff', '.gif', '.avif'];
/** Formats the model decodes from the file itself; WebP, GIF and AVIF frames reach it as decoded RGB. */
const MODEL_DECODES = new Set(['.png', '.jpg', '.jpeg', '.tif', '.tiff']);

/** The replayable images of a folder, natural order ("img2" before "img10"). Throws one line when there are none. */
export async function listImages(path: string, cameraId: string): Promise<string[]> {
  let info;
  try {
    info = await stat(path);
  } catch {
    throw new Error(`camera ${cameraId}: folder ${path} does not exist; create it or fix the camera's path`);
  }
  if (!info.isDirectory()) throw new Error(`camera ${cameraId}: ${path} is not a folder; point path at a folder of images`);
  const names = (await readdir(path)).filter((n) => IMAGE_EXTENSIONS.some((e) => n.toLowerCase().endsWith(e)));
  if (names.length === 0) {
    throw new Error(`camera ${cameraId}: folder ${path} holds no images (${IMAGE_EXTENSIONS.join(' ')}); add some or fix the path`);
  }
  names.sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  return names.map((n) => join(path, n));
}

/** Decodes any image sharp reads into packed RGB24 (alpha dropped, grey expanded). */
export async function decodeRgb(file: string | Buffer): Promise<{ rgb: Buffer; width: number; height: number }> {
  const { data, info } = await sharp(file).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels, expected 3`);
  return { rgb: data, width: info.width, height: info.height };
}

export class FolderSource extends BaseSource {
  private files: string[] = [];
  private readonly pacer: Pacer;
  private position = 0;
  private running = false;

  constructor(private readonly config: FolderCameraConfig) {
    super(config.id);
    this.pacer = new Pacer(config.fps, async () => {
      await this.produce();
    });
  }

  /** Rejects with one line when the folder is missing or holds no images. */
  async start(): Promise<void> {
    if (this.running) return;
    this.setState('starting');
    try {
      this.files = await listImages(this.config.path, this.id);
    } catch (err) {
      this.setState('offline', (err as Error).message);
      throw err;
    }
    this.position = 0;
    this.running = true;
    if (this.config.trigger === 'free') this.pacer.start();
    else this.setState('online');
  }

  async stop(): Promise<void> {
    this.running = false;
    this.pacer.stop();
    this.setState('stopped');
  }

  async trigger(triggerId: number): Promise<void> {
    if (!this.running) throw new Error(`camera ${this.id}: not running (not started, or a non-looping folder reached its end)`);
    if (!(await this.produce(triggerId))) {
      if (!this.running) throw new Error(`camera ${this.id}: reached the end of ${this.config.path} (loop is off); restart the camera or set loop: true`);
      throw new Error(`camera ${this.id}: could not replay an image for trigger ${triggerId}: ${this.status().lastError ?? 'unknown'}`);
    }
  }

  /** Emits the next decodable image; undecodable files are counted as bad frames and skipped. */
  private async produce(triggerId?: number): Promise<boolean> {
    for (let attempts = 0; attempts < this.files.length && this.running; attempts++) {
      if (this.position >= this.files.length) {
        if (!this.config.loop) {
          await this.stop();
          return false;
        }
        this.position = 0;
      }
      const file = this.files[this.position++]!;
      let image;
      let bytes: Buffer;
      try {
        bytes = await readFile(file);
        image = await decodeRgb(bytes);
      } catch (err) {
        this.noteBadFrame(`${file}: cannot decode (${(err as Error).message.split('\n')[0]}); replace or remove the file`);
        continue;
      }
      if (!this.running) return false;
      const own = MODEL_DECODES.has(extname(file).toLowerCase()) ? { file: bytes } : {};
      return this.deliver({ ...image, ...own, ...(triggerId === undefined ? {} : { triggerId }) });
    }
    return false;
  }
}
