// The pipeline's view of its neighbours. The daemon wires the real models/ runtime, drivers/ and adapters/ behind these.
import type { NoVerdictReason } from '../../adapters/types.ts';
import type { Inference as RuntimeInference } from '../../models/detector.ts';
import type { RawFrame } from '../../models/image.ts';
import type { InspectionRegion, Rect } from '../../models/regions.ts';

export type { Frame, FrameSource, SourceStatus } from '../../drivers/types.ts';
export type { VerdictRecord, VerdictSink, SinkCommands, StationStatus, Alarm, NoVerdictReason } from '../../adapters/types.ts';

/** The one image type of the agent: packed RGB24 (a camera frame is one as it comes). */
export type Image = RawFrame;

/** What the runtime is given: a decoded RGB frame, or an image file's bytes (a stored shot), which the runtime
 *  decodes in the mode the official loader opens it in (alpha, palette and 16-bit files resize differently). */
export type DetectorInput = Image | Buffer;

/** The runtime's result for one frame, as far as the agent uses it. */
export type Inference = Pick<RuntimeInference, 'score' | 'map' | 'size' | 'mode' | 'branches'>;

/** Opaque few-shot memory built from shot features; only the detector that built it understands it. */
export type Memory = unknown;

export interface Detector {
  readonly packId: string; // name@sha (short)
  readonly packSha: string;
  readonly defaultThreshold: number;
  readonly provider: string; // e.g. "cpu", "cuda"
  /** Features of one normal shot, serialised for the store (keyed there by pack sha). */
  encodeShot(image: DetectorInput): Promise<Buffer>;
  /** The model's S×S RGB input for an image (decode + the official resize): infer and encodeShot take it as is, so a
   *  caller may keep it instead of decoding a full-resolution shot again. */
  modelInput?(image: DetectorInput, roi?: Rect | null): Promise<Image>;
  /** Few-shot memory from serialised shot features; throws when they belong to another pack. */
  memoryFrom(features: Buffer[]): Memory;
  /** As infer for one stored shot (its leave-one-out against the others); the runtime may keep the shot's encoder
   *  output, so the next leave-one-out of it runs the heads alone. Without it, infer is used. */
  judgeShot?(image: DetectorInput, memory: Memory | null): Promise<Inference>;
  /** `warmup`: a session warm-up call on a synthetic frame (fault injection leaves it out of its call counts). */
  infer(images: DetectorInput[], memory: Memory | null, opts?: { warmup?: boolean }): Promise<Inference[]>;
  dispose(): Promise<void>;
}

export type DetectorFactory = () => Promise<Detector>;

/** What a frame is judged with, snapshotted when the frame is captured (changeover never changes it afterwards). */
export interface Reference {
  stationId: string;
  productId: number | null;
  recipeId: number;
  recipeName: string;
  version: number;
  /** 'ready' frames are inspected; 'preparing'/'error' frames become NO_VERDICT{no_reference}. */
  state: 'ready' | 'preparing' | 'error';
  memory: Memory | null;
  shots: number;
  threshold: number;
  thresholdSource: 'override' | 'shots' | 'pack-default';
  detail: string;
  /** The product's inspection region (null: whole frame): frames are cropped to its roi before inference. */
  region?: InspectionRegion | null;
}

/** How a job settles: a verdict from an inference, or a NO_VERDICT with its reason (the northbound `Outcome`,
 *  PASS/FAIL/NO_VERDICT, is decided from it when it is recorded). */
export type Settlement =
  | { kind: 'verdict'; inference: Inference; inferenceMs: number }
  | { kind: 'no_verdict'; reason: NoVerdictReason; detail: string };

/** Something the pipeline cannot do right now (inference recovering, safe mode); HTTP answers 503. */
export class UnavailableError extends Error {
  readonly status = 503;
}
