// The models/ runtime behind the pipeline's Detector port. Shot features are stored per shot (one ShotMemory each)
// and joined into one memory at changeover, so adding or removing a shot never re-encodes the others.
import { createDetector, deserializeShotMemory, loadPack, ShotMemory, type EncodedImage, type Pack, type Provider, type TensorRtOptions } from '../../models/index.ts';
import type { Detector, DetectorFactory, DetectorInput, Memory } from './ports.ts';

export interface PackDetectorOptions {
  packDir: string;
  device: 'cpu' | 'cuda' | 'tensorrt';
  deviceId?: number;
  tensorrt?: TensorRtOptions;
  cpuMemArena?: boolean;
  threads?: number;
  warn: (message: string) => void;
  /** Opens the runtime detector; createDetector unless a test wraps it (test/live-resize.test.ts records what it prepares). */
  create?: typeof createDetector;
  /** The pack at packDir, already loaded and verified (run checks it at start): not hashed a second time. */
  pack?: Pack;
  /** Budget for shots' kept encoder outputs (default KEPT_ENCODER_BYTES). */
  keptEncoderBytes?: number;
}

/** The providers tried for a configured device, best first; the CPU is always last. */
export const PROVIDERS_OF_DEVICE: Record<PackDetectorOptions['device'], Provider[]> = {
  tensorrt: ['tensorrt', 'cuda', 'cpu'],
  cuda: ['cuda', 'cpu'],
  cpu: ['cpu'],
};

/** Encoder outputs of shots kept for leave-one-out (≈ 22 MB a shot at ViT-L/14 S=518, kilobytes on small packs). */
export const KEPT_ENCODER_BYTES = 128 * 1024 * 1024;

/** Shots' encoder outputs by their input object, newest last, within a byte budget. */
class KeptEncodings {
  private readonly byInput = new Map<object, { image: EncodedImage; bytes: number }>();
  private bytes = 0;
  constructor(private readonly budget: number) {}
  get(input: object): EncodedImage | undefined {
    const hit = this.byInput.get(input);
    if (!hit) return undefined;
    this.byInput.delete(input);
    this.byInput.set(input, hit);
    return hit.image;
  }
  put(input: object, image: EncodedImage): void {
    const bytes = (image.encoded.global.length + image.encoded.patches.length) * 4;
    if (bytes > this.budget) return;
    const old = this.byInput.get(input);
    if (old) (this.byInput.delete(input), (this.bytes -= old.bytes));
    while (this.bytes + bytes > this.budget) {
      const [key, oldest] = this.byInput.entries().next().value!;
      this.byInput.delete(key);
      this.bytes -= oldest.bytes;
    }
    this.byInput.set(input, { image, bytes });
    this.bytes += bytes;
  }
}

export function packDetectorFactory(opts: PackDetectorOptions): DetectorFactory {
  let pack: Promise<Pack> | null = opts.pack ? Promise.resolve(opts.pack) : null;
  return async () => {
    pack ??= loadPack(opts.packDir).catch((err: unknown) => {
      pack = null;
      throw err;
    });
    const p = await pack;
    const det = await (opts.create ?? createDetector)(p, {
      providers: PROVIDERS_OF_DEVICE[opts.device],
      ...(opts.deviceId !== undefined ? { deviceId: opts.deviceId } : {}),
      ...(opts.device === 'tensorrt' && opts.tensorrt ? { tensorrt: opts.tensorrt } : {}),
      ...(opts.cpuMemArena !== undefined ? { cpuMemArena: opts.cpuMemArena } : {}),
      ...(opts.threads ? { intraOpThreads: opts.threads } : {}),
      logger: { warn: opts.warn },
    });
    // A shot's encoder output is kept when it is encoded or judged, so its leave-one-out against other shots (redone
    // whenever a shot is kept or deleted) runs the heads alone: one encoder pass per shot, not one per change.
    const kept = new KeptEncodings(opts.keptEncoderBytes ?? KEPT_ENCODER_BYTES);
    const keyOf = (img: DetectorInput) => (Buffer.isBuffer(img) ? null : img);
    const detector: Detector = {
      packId: p.id,
      packSha: p.sha256,
      defaultThreshold: p.manifest.defaultThreshold,
      provider: det.provider,
      encodeShot: async (img) => {
        const key = keyOf(img);
        if (!key) return (await det.encodeShots([img])).serialize();
        const image = await det.encodeKeeping(img);
        kept.put(key, image);
        return det.memoryOfEncoded(image).serialize();
      },
      judgeShot: async (img, memory) => {
        const key = keyOf(img);
        let image = key ? kept.get(key) : undefined;
        if (!image) {
          image = await det.encodeKeeping(img);
          if (key) kept.put(key, image);
        }
        return det.inferEncoded(image, (memory as ShotMemory | null) ?? null);
      },
      modelInput: async (img, roi) => ({ width: p.size, height: p.size, rgb: (await det.prepare(img, roi)).input }),
      memoryFrom: (features): Memory => ShotMemory.concat(features.map((f) => deserializeShotMemory(f, p))),
      infer: (images, memory) => det.infer(images, (memory as ShotMemory | null) ?? null),
      dispose: () => det.close(),
    };
    return detector;
  };
}
