// What the guided shot capture, the shot-quality advisor and the reference sets answer (agent/http/api.ts's
// CapturePort, ShotAdvicePort and ReferenceSetPort speak these).
import type { ReferenceSet } from '../store/store.ts';

/** A frame or upload held in memory (bounded, with a TTL) until it is kept as a shot or discarded. */
export interface CandidateView {
  id: string;
  productId: number;
  /** 'upload' or the camera id it was frozen from. */
  source: string;
  width: number;
  height: number;
  createdAt: number;
  expiresAt: number;
  /** Judged against the product's current shots (few-shot) or zero-shot without shots. */
  mode: 'few-shot' | 'zero-shot';
  shots: number;
  /** The product's reference set it was judged against. */
  referenceSet: number;
  score: number;
  threshold: number;
  thresholdSource: 'override' | 'shots' | 'pack-default';
  verdict: 'pass' | 'fail';
  defects: { count: number; areaPct: number };
  /** What the score means for this candidate, in words. */
  summary: string;
  imageUrl: string;
  overlayUrl: string;
}

/** An image to judge: the PNG a kept shot stores, and its pixels. */
export interface NewCandidate {
  png: Buffer;
  width: number;
  height: number;
  /** 'upload' or the camera id it was frozen from. */
  source: string;
  /** Packed RGB24 of the image at its own size (for the overlay). */
  rgb: Buffer;
}

export interface ShotAdvice {
  shotId: number;
  looScore: number | null;
  /** Highest value of the shot's map judged against the other shots. */
  peak: number | null;
  flagged: boolean;
  /** Why it is flagged, in words (empty when it is not). */
  reasons: string[];
  /** The score in words. */
  words: string;
  /** Where it looks unlike the others: the shot blended with its leave-one-out map (null below 2 shots). */
  overlayUrl: string | null;
}

export interface ShotAdviceReport {
  productId: number;
  threshold: number;
  thresholdSource: 'override' | 'shots' | 'pack-default';
  referenceSet: number;
  /** What a leave-one-out score is, in words. */
  explanation: string;
  /** When a shot is flagged, in words. */
  rule: string;
  flagged: number[];
  shots: ShotAdvice[];
}

export interface ReferenceSetView extends ReferenceSet {
  current: boolean;
}
