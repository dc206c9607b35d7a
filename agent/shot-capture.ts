// Guided shot capture: a frozen camera frame or an uploaded file is judged against the product's current shots and
// held in memory as a candidate (bounded count, TTL) until the operator keeps it as a shot or discards it.
import { randomUUID } from 'node:crypto';
import { judgeFrame, overlayPng } from '../models/verdict.ts';
import type { CandidateView, CapturePort, NewCandidate, ReferenceSetView } from './http/api.ts';
import { HttpError } from './http/common.ts';
import type { ImageJudgement } from './pipeline/changeover.ts';
import type { Shot, Store } from './store/store.ts';

export const CANDIDATE_LIMIT = 12;
export const CANDIDATE_TTL_MS = 10 * 60_000;

interface Held {
  view: CandidateView;
  png: Buffer;
  overlay: Buffer;
}

/** The candidates waiting for a decision, oldest first; expired ones are dropped whenever the list is touched. */
export class ShotCandidates {
  private readonly held = new Map<string, Held>();

  constructor(readonly limit = CANDIDATE_LIMIT, readonly ttlMs = CANDIDATE_TTL_MS, private readonly now: () => number = Date.now) {}

  /** Room for one more, or a 409 that says what to do. */
  requireRoom(): void {
    this.sweep();
    if (this.held.size >= this.limit) {
      throw new HttpError(409, `${this.held.size} candidate shots are waiting (the limit is ${this.limit}); keep or discard some first, or wait: each expires ${Math.round(this.ttlMs / 60_000)} min after it was taken`);
    }
  }

  add(view: Omit<CandidateView, 'id' | 'createdAt' | 'expiresAt' | 'imageUrl' | 'overlayUrl'>, png: Buffer, overlay: Buffer): CandidateView {
    this.requireRoom();
    const id = randomUUID();
    const createdAt = this.now();
    const full: CandidateView = { id, ...view, createdAt, expiresAt: createdAt + this.ttlMs, imageUrl: `/api/candidates/${id}/image.png`, overlayUrl: `/api/candidates/${id}/overlay.png` };
    this.held.set(id, { view: full, png, overlay });
    return full;
  }

  get(id: string): Held {
    this.sweep();
    const h = this.held.get(id);
    if (!h) throw new HttpError(404, `candidate ${id} does not exist: it was kept, discarded or expired (after ${Math.round(this.ttlMs / 60_000)} min); freeze or upload the image again`);
    return h;
  }

  delete(id: string): boolean {
    return this.held.delete(id);
  }

  list(productId: number): CandidateView[] {
    this.sweep();
    return [...this.held.values()].filter((h) => h.view.productId === productId).map((h) => h.view);
  }

  get size(): number {
    this.sweep();
    return this.held.size;
  }

  private sweep(): void {
    const now = this.now();
    for (const [id, h] of this.held) if (h.view.expiresAt <= now) this.held.delete(id);
  }
}

export interface ShotCaptureDeps {
  store: Pick<Store, 'requireProduct' | 'addShot' | 'currentReferenceSet'>;
  changeover: { judgeImage(productId: number, image: Buffer): Promise<ImageJudgement>; refreshProduct(productId: number): Promise<void> };
  candidates?: ShotCandidates;
}

/** The score of a candidate in words. */
export function candidateSummary(j: { score: number; threshold: number; mode: 'few-shot' | 'zero-shot'; shots: number; regions: number }): string {
  const against = j.mode === 'few-shot' ? `the product's ${j.shots} good shot${j.shots > 1 ? 's' : ''}` : 'the model alone (zero-shot: the product has no shots yet)';
  if (j.score >= j.threshold) return `Looks defective or unlike ${against}: score ${j.score.toFixed(3)} is at or above the threshold ${j.threshold.toFixed(3)}. Keep it only if the part is good.`;
  if (j.regions > 0) return `Passes (score ${j.score.toFixed(3)} < threshold ${j.threshold.toFixed(3)}) judged against ${against}, but ${j.regions} region${j.regions > 1 ? 's score' : ' scores'} above the threshold: look at the overlay before keeping it.`;
  return `Looks like a good part judged against ${against}: score ${j.score.toFixed(3)}, below the threshold ${j.threshold.toFixed(3)}.`;
}

export function createShotCapture(deps: ShotCaptureDeps): CapturePort & { readonly held: ShotCandidates } {
  const held = deps.candidates ?? new ShotCandidates();
  const setView = (productId: number): ReferenceSetView => ({ ...deps.store.currentReferenceSet(productId)!, current: true });
  return {
    held,
    hold: async (productId: number, image: NewCandidate): Promise<CandidateView> => {
      deps.store.requireProduct(productId);
      held.requireRoom(); // before the inference: a refusal costs nothing
      // The PNG is what a kept shot is judged from, so the candidate is judged from it too.
      const j = await deps.changeover.judgeImage(productId, image.png);
      // Judged as a live frame of the product would be: the map covers its region, ignore areas and min-area apply.
      const region = j.region ?? undefined;
      const fusion = region && j.inference.branches ? { fusion: { mode: j.inference.mode, branches: j.inference.branches } } : {};
      const verdict = judgeFrame(j.inference.score, j.inference.map, j.inference.size, image, { threshold: j.threshold.threshold, ...(region ? { region } : {}), ...fusion });
      const overlay = await overlayPng({ width: image.width, height: image.height, data: image.rgb }, verdict, region ? { region } : {});
      const mode = j.shots ? 'few-shot' as const : 'zero-shot' as const;
      return held.add({
        productId, source: image.source, width: image.width, height: image.height, mode, shots: j.shots, referenceSet: j.referenceSet,
        score: verdict.score, threshold: j.threshold.threshold, thresholdSource: j.threshold.source, verdict: verdict.verdict,
        defects: { count: verdict.defects.count, areaPct: verdict.defects.areaPct },
        summary: candidateSummary({ score: verdict.score, threshold: j.threshold.threshold, mode, shots: j.shots, regions: verdict.defects.count }),
      }, image.png, overlay);
    },
    candidates: (productId) => {
      deps.store.requireProduct(productId);
      return held.list(productId);
    },
    candidateImage: (id, kind) => {
      const h = held.get(id);
      return kind === 'image' ? h.png : h.overlay;
    },
    keep: async (id, actor): Promise<{ shot: Shot; referenceSet: ReferenceSetView }> => {
      const h = held.get(id);
      const shot = deps.store.addShot(h.view.productId, { png: h.png, width: h.view.width, height: h.view.height, source: h.view.source }, actor);
      held.delete(id);
      await deps.changeover.refreshProduct(h.view.productId);
      return { shot, referenceSet: setView(h.view.productId) };
    },
    discard: (id) => {
      held.get(id);
      held.delete(id);
    },
  };
}
