// Southbound contract: every camera driver is a FrameSource. The agent pipeline only sees this.
import type { EventEmitter } from 'node:events';

export type SourceState = 'starting' | 'online' | 'offline' | 'stopped';

export interface Frame {
  cameraId: string;
  seq: number; // per source, strictly increasing from 1, never reused within a process
  capturedAt: number; // epoch ms when the full, size-validated frame was read
  /** Process-backed sources: epoch ms when the frame's first byte reached the agent (the software-trigger rule uses it). */
  firstByteAt?: number;
  width: number;
  height: number;
  /** Packed RGB24, width*height*3 bytes, at the camera's own resolution. This is what the model is fed: the runtime
   *  resizes it to S×S itself (Pillow-exact bicubic); drivers never scale a copy for the model. */
  rgb: Buffer;
  /** Optional ground truth from the synthetic line: 0/255 mask, width*height bytes. */
  groundTruth?: { defect: boolean; kind?: string; mask?: Buffer };
  /** The trigger id the frame answers (software trigger); never the PLC's TriggerSeq, which the station keeps. */
  triggerId?: number;
  /** Folder replay of PNG, JPEG and TIFF files: the file's bytes. The model decodes them in the file's own mode (the
   *  official loader opens the file, not an RGB copy: alpha, palette and 16-bit grey resize differently); `rgb` is
   *  what people see. */
  file?: Buffer;
}

export interface SourceStatus {
  state: SourceState;
  since: number;
  framesDelivered: number;
  badFrames: number; // short or mis-sized data that was discarded
  restarts: number;
  reconnectsLastHour: number;
  lastError?: string;
  stderrTail: string[]; // last lines of the child process, credentials scrubbed
}

export interface FrameSourceEvents {
  frame: [Frame];
  state: [SourceState, SourceStatus];
  error: [Error];
}

export interface FrameSource extends EventEmitter<FrameSourceEvents> {
  readonly id: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  status(): SourceStatus;
  /** Software trigger: resolves when the triggered frame has been emitted; rejects when the source cannot
   *  (streaming sources: no qualifying frame within triggerTimeoutMs, see drivers/latch.ts). */
  trigger?(triggerId: number): Promise<void>;
}
