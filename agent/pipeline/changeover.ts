// Product changeover: which reference each station judges with. Activation prepares everything first (features,
// leave-one-out threshold, memory), then commits product + reference version in one transaction and swaps the
// in-memory reference in one assignment; frames already captured keep the reference they were captured with.
import { calibrateThreshold, type ThresholdChoice } from '../../models/verdict.ts';
import { roiKey, type InspectionRegion, type Rect } from '../../models/regions.ts';
import sharp from 'sharp';
import type { LooResult, Store } from '../store/store.ts';
import type { Detector, DetectorInput, Inference, Memory, Reference } from './ports.ts';

export interface ActivationReport {
  reference: Reference;
  ms: number;
  encodedShots: number;
}

export interface ShotScore {
  shotId: number;
  looScore: number | null;
}

/** A shot judged against the product's other shots: its score and fused S×S map (null below 2 shots). */
export interface ShotReview extends ShotScore {
  map: Float32Array | null;
  mapSize: number;
}

/** An image judged against a product's current reference (few-shot with its shots, zero-shot without). */
export interface ImageJudgement {
  inference: Inference;
  threshold: ThresholdChoice;
  shots: number;
  referenceSet: number;
  /** The product's region: the inference's map covers its roi (judgeFrame takes it as `region`). */
  region: InspectionRegion | null;
}

export class Changeover {
  private readonly refs = new Map<string, Reference>();
  private readonly locks = new Map<string, Promise<unknown>>();
  /** Joined few-shot memories by (pack, shot set): switching back to a product reuses its memory as is. */
  private readonly memories = new Map<string, Memory>();
  private static readonly MEMORY_CACHE = 8;
  /** Model inputs (S×S RGB) of shots by (pack, shot id): leave-one-out re-judges every shot of a product when one is
   *  added, and decoding each full-resolution shot again made every upload slower than the last. Shots never change. */
  private readonly inputs = new Map<string, DetectorInput>();
  private static readonly INPUT_CACHE = 32;

  constructor(private readonly store: Store, private readonly detector: () => Detector) {}

  current(stationId: string): Reference {
    return this.refs.get(stationId) ?? {
      stationId, productId: null, recipeId: 0, recipeName: '', version: 0, state: 'preparing', memory: null, shots: 0,
      threshold: 1, thresholdSource: 'pack-default', detail: 'starting up',
    };
  }

  /** Restores each station's active product from the store (features are recomputed when the pack changed). */
  async restore(stationIds: string[]): Promise<void> {
    this.store.dropFeaturesExcept(this.detector().packSha);
    for (const id of stationIds) {
      const st = this.store.ensureStation(id);
      try {
        await this.withLock(id, () => this.prepare(id, st.activeProductId, st.referenceVersion));
      } catch (err) {
        this.set({ ...this.current(id), state: 'error', detail: `cannot restore the reference: ${(err as Error).message}` });
      }
    }
  }

  /** Atomic changeover for one station. Concurrent calls for a station run one after the other, in call order. */
  activate(stationId: string, productId: number | null, actor: string): Promise<ActivationReport> {
    return this.withLock(stationId, async () => {
      const t0 = performance.now();
      const prepared = await this.prepareParts(productId);
      const st = this.store.activate(stationId, productId, actor, prepared.product ? prepared.setVersion : undefined);
      const reference = this.set(this.referenceOf(stationId, prepared, st.referenceVersion));
      return { reference, ms: performance.now() - t0, encodedShots: prepared.encoded };
    });
  }

  /** After a product's shots or threshold changed: every station running it gets a new reference version. */
  async refreshProduct(productId: number): Promise<void> {
    const stations = [...this.refs.values()].filter((r) => r.productId === productId).map((r) => r.stationId);
    for (const id of stations) {
      await this.withLock(id, async () => {
        if (this.current(id).productId !== productId) return; // another changeover got there first
        const prepared = await this.prepareParts(productId);
        const st = this.store.bumpReference(id, 'system', prepared.setVersion);
        this.set(this.referenceOf(id, prepared, st.referenceVersion));
      });
    }
  }

  /** Features of every shot for the current pack (computing missing ones) and their leave-one-out scores. */
  async shotScores(productId: number): Promise<ShotScore[]> {
    const prepared = await this.prepareParts(productId);
    return prepared.shots.map((s) => ({ shotId: s.id, looScore: s.looScore }));
  }

  /** Every shot's leave-one-out score and map, with the threshold the product is judged with. */
  async shotReview(productId: number): Promise<{ threshold: ThresholdChoice; referenceSet: number; shots: ShotReview[] }> {
    const prepared = await this.prepareParts(productId);
    const shots = prepared.shots.map((s) => ({ shotId: s.id, looScore: s.looScore, map: s.looMap, mapSize: s.looMap ? Math.round(Math.sqrt(s.looMap.length)) : 0 }));
    return { threshold: prepared.threshold, referenceSet: prepared.setVersion, shots };
  }

  /** Judges one image against the product's current reference, as the line would judge it (nothing is recorded). */
  async judgeImage(productId: number, image: DetectorInput): Promise<ImageJudgement> {
    const prepared = await this.prepareParts(productId);
    const detector = this.detector();
    const input = prepared.region?.roi ? await this.cropped(detector, image, prepared.region.roi) : image;
    const [inference] = await detector.infer([input], prepared.memory);
    return { inference: inference!, threshold: prepared.threshold, shots: prepared.shots.length, referenceSet: prepared.setVersion, region: prepared.region };
  }

  private async prepare(stationId: string, productId: number | null, version: number): Promise<void> {
    const prepared = await this.prepareParts(productId);
    this.set(this.referenceOf(stationId, prepared, version));
  }

  private async prepareParts(productId: number | null) {
    const detector = this.detector();
    const product = productId === null ? null : this.store.requireProduct(productId);
    const shots = product ? this.store.listShots(product.id) : [];
    const setVersion = product ? this.store.currentReferenceSet(product.id)?.version ?? 0 : 0;
    // Shots are cropped to the region like frames: their features are keyed by the crop and recomputed when it changes.
    const region: InspectionRegion | null = product ? this.store.productRegion(product.id) : null;
    const roi = region?.roi ?? null;
    const crop = roiKey(roi);
    let encoded = 0;
    const feats: { id: number; features: Buffer; looScore: number | null; looMap: Float32Array | null }[] = [];
    for (const shot of shots) {
      let f = this.store.shotFeatures(shot.id, detector.packSha, crop);
      if (!f) {
        const input = await this.shotInput(detector, shot.id, roi);
        if (!input) continue; // deleted meanwhile
        // The stored file itself: the runtime decodes it as the official loader opens it (once: its input is kept).
        const features = await detector.encodeShot(input);
        this.store.putShotFeatures(shot.id, detector.packSha, features, crop);
        f = { features, looScore: null };
        encoded++;
      }
      feats.push({ id: shot.id, features: f.features, looScore: null, looMap: null });
    }
    if (feats.length >= 2) {
      // Leave-one-out: each shot judged against the others tells how far normal parts score. A result is kept per
      // (pack, the other shots' ids): after a shot is kept, deleted or a set restored, only stale ones are redone.
      const fresh = new Map<number, LooResult>();
      for (const f of feats) {
        const others = feats.filter((o) => o !== f);
        const key = others.map((o) => o.id).join(',');
        let loo = this.store.looResult(f.id, detector.packSha);
        if (loo?.others !== key) {
          const input = await this.shotInput(detector, f.id, roi);
          if (!input) continue; // deleted meanwhile
          const memory = detector.memoryFrom(others.map((o) => o.features));
          const res = detector.judgeShot ? await detector.judgeShot(input, memory) : (await detector.infer([input], memory))[0];
          loo = { others: key, score: res!.score, map: Buffer.from(new Float32Array(res!.map).buffer) };
          fresh.set(f.id, loo);
        }
        f.looScore = loo.score;
        f.looMap = loo.map ? new Float32Array(loo.map.buffer.slice(loo.map.byteOffset, loo.map.byteOffset + loo.map.byteLength)) : null;
      }
      if (fresh.size) this.store.setLooResults(detector.packSha, fresh);
    }
    const looScores = feats.map((f) => f.looScore).filter((s): s is number => s !== null);
    const choice = calibrateThreshold(looScores, detector.defaultThreshold, product?.threshold ?? undefined);
    const memory = feats.length ? this.memoryOf(detector, feats, crop) : null;
    return { product, shots: feats, memory, threshold: choice, encoded, setVersion, region };
  }

  /** A shot as the model sees it: its S×S input when the detector can give one (kept for the next time), else the
   *  stored PNG; undefined when the shot was deleted meanwhile. */
  private async shotInput(detector: Detector, shotId: number, roi: Rect | null = null): Promise<DetectorInput | undefined> {
    const key = `${detector.packSha}:${roiKey(roi)}:${shotId}`;
    const kept = this.inputs.get(key);
    if (kept) return kept;
    const png = this.store.shotPng(shotId);
    if (!png) return png;
    if (!detector.modelInput) return roi ? this.cropped(detector, png, roi) : png;
    const input = await detector.modelInput(png, roi);
    if (this.inputs.size >= Changeover.INPUT_CACHE) this.inputs.delete(this.inputs.keys().next().value!);
    this.inputs.set(key, input);
    return input;
  }

  /** An image cut to `roi` before the model's resize: the runtime's own prepare where the detector offers it, else the
   *  decoded frame with its roi (the runtime crops a raw frame's roi itself). */
  private async cropped(detector: Detector, image: DetectorInput, roi: Rect): Promise<DetectorInput> {
    if (detector.modelInput) return detector.modelInput(image, roi);
    if (!Buffer.isBuffer(image)) return { ...image, roi };
    const { data, info } = await sharp(image).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
    return { rgb: data, width: info.width, height: info.height, roi };
  }

  private memoryOf(detector: Detector, feats: { id: number; features: Buffer }[], crop: string): Memory {
    const key = `${detector.packSha}:${crop}:${feats.map((f) => f.id).join(',')}`;
    let memory = this.memories.get(key);
    if (memory === undefined) {
      memory = detector.memoryFrom(feats.map((f) => f.features));
      if (this.memories.size >= Changeover.MEMORY_CACHE) this.memories.delete(this.memories.keys().next().value!);
    } else {
      this.memories.delete(key); // re-insert: most recently used last
    }
    this.memories.set(key, memory);
    return memory;
  }

  private referenceOf(stationId: string, p: Awaited<ReturnType<Changeover['prepareParts']>>, version: number): Reference {
    return {
      stationId,
      productId: p.product?.id ?? null,
      recipeId: p.product?.recipeId ?? 0,
      recipeName: p.product?.name ?? '',
      version,
      state: 'ready',
      memory: p.memory,
      shots: p.shots.length,
      threshold: p.threshold.threshold,
      thresholdSource: p.threshold.source,
      region: p.region,
      detail: p.shots.length ? `few-shot with ${p.shots.length} normal shot${p.shots.length > 1 ? 's' : ''}` : 'zero-shot: no normal shots registered',
    };
  }

  private set(ref: Reference): Reference {
    this.refs.set(ref.stationId, ref);
    return ref;
  }

  private withLock<T>(stationId: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(stationId) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    this.locks.set(stationId, run.catch(() => undefined));
    return run;
  }
}
