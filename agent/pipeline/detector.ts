// The models/ runtime behind the pipeline's Detector port. Shot features are stored per shot (one ShotMemory each)
// and joined into one memory at changeover, so adding or removing a shot never re-encodes the others.
import { createDetector, deserializeShotMemory, loadPack, ShotMemory, type Pack, type Provider, type TensorRtOptions } from '../../models/index.ts';
import type { Detector, DetectorFactory, Memory } from './ports.ts';

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
}

/** The providers tried for a configured device, best first; the CPU is always last. */
export const PROVIDERS_OF_DEVICE: Record<PackDetectorOptions['device'], Provider[]> = {
  tensorrt: ['tensorrt', 'cuda', 'cpu'],
  cuda: ['cuda', 'cpu'],
  cpu: ['cpu'],
};

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
    const detector: Detector = {
      packId: p.id,
      packSha: p.sha256,
      defaultThreshold: p.manifest.defaultThreshold,
      provider: det.provider,
      encodeShot: async (img) => (await det.encodeShots([img])).serialize(),
      modelInput: async (img, roi) => ({ width: p.size, height: p.size, rgb: (await det.prepare(img, roi)).input }),
      memoryFrom: (features): Memory => ShotMemory.concat(features.map((f) => deserializeShotMemory(f, p))),
      infer: (images, memory) => det.infer(images, (memory as ShotMemory | null) ?? null),
      dispose: () => det.close(),
    };
    return detector;
  };
}
