// Camera configuration: one zod schema per driver, joined on `type`. The daemon config embeds cameraConfigSchema.
import { z } from 'zod';

export const DEFECT_KINDS = ['scratch', 'dent', 'missing_feature', 'contamination'] as const;
export type DefectKind = (typeof DEFECT_KINDS)[number];

const cameraId = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'camera id: 1-64 letters, digits, "_", "." or "-"');

/** Fields every driver understands. */
const common = {
  id: cameraId,
};

/**
 * Keys a camera config used to accept and no longer does, with the one-line reason given when a config still has
 * one (the agent config loader and parseCameraConfig both use it instead of "unknown key").
 */
export const REMOVED_CAMERA_KEYS: Readonly<Record<string, string>> = {
  modelSize:
    'removed: the runtime now resizes each full-resolution frame exactly as the official preprocessing does (Pillow bicubic), so no driver-scaled copy is made; remove the key',
};

/** The removal note for a key of a camera config, if it is one that was removed. */
export function removedCameraKey(key: string): string | undefined {
  return Object.hasOwn(REMOVED_CAMERA_KEYS, key) ? REMOVED_CAMERA_KEYS[key] : undefined;
}

/** Supervision knobs of the process-backed drivers (RELIABILITY.md: stall, backoff, stderr tail). */
const supervision = {
  /** No full frame for this long: the child is killed and restarted. */
  stallMs: z.number().int().min(200).max(600_000).default(5000),
  /** Time allowed from spawn to the first frame (probing a stream takes longer than one frame). */
  firstFrameTimeoutMs: z.number().int().min(500).max(600_000).default(10_000),
  backoffInitialMs: z.number().int().min(10).max(60_000).default(1000),
  backoffMaxMs: z.number().int().min(10).max(3_600_000).default(60_000),
  /** Grace between SIGTERM and SIGKILL when a child is stopped or stalled. */
  killGraceMs: z.number().int().min(0).max(5000).default(1000),
  /** stderr lines kept per child for the error report. */
  stderrLines: z.number().int().min(1).max(1000).default(50),
};

/** Latched software trigger of the streaming drivers (drivers/latch.ts): the stream runs, frames go out per trigger. */
const streamTrigger = {
  /** Wait this long after a trigger before a frame may answer it (conveyor travel, camera-to-agent latency). */
  triggerDelayMs: z.number().int().min(0).max(60_000).default(0),
  /** No qualifying frame this long after trigger + delay: the trigger is rejected (the daemon records NO_VERDICT). */
  triggerTimeoutMs: z.number().int().min(50).max(600_000).default(2000),
};

const ffmpegCommon = {
  ...common,
  ...supervision,
  ...streamTrigger,
  /** free: every frame is passed on; software: only the frame answering each trigger. */
  trigger: z.enum(['free', 'software']).default('free'),
  /** Pin the output size (ffmpeg scales); otherwise the stream's own size is used. */
  width: z.number().int().min(1).max(16384).optional(),
  height: z.number().int().min(1).max(16384).optional(),
  /** Output frame rate (ffmpeg drops/duplicates); otherwise the stream's own rate. */
  fps: z.number().positive().max(1000).optional(),
  /** e.g. "cuda", "vaapi"; passed as -hwaccel. */
  hwaccel: z.string().min(1).optional(),
  /** Extra ffmpeg input options, e.g. ["-re"] for a file played at its own rate. */
  inputOptions: z.array(z.string()).default([]),
};

export const rtspCameraSchema = z.strictObject({
  type: z.literal('rtsp'),
  url: z.string().regex(/^rtsps?:\/\//, 'url must start with rtsp:// or rtsps://'),
  transport: z.enum(['tcp', 'udp']).default('tcp'),
  ...ffmpegCommon,
});

export const ffmpegCameraSchema = z.strictObject({
  type: z.literal('ffmpeg'),
  /** Anything ffmpeg opens: http(s) MJPEG, a file, /dev/video0, rtsp://… */
  input: z.string().min(1),
  /** ffmpeg -f for the input, e.g. "v4l2" or "lavfi". */
  format: z.string().min(1).optional(),
  ...ffmpegCommon,
});

export const gigeCameraSchema = z.strictObject({
  type: z.literal('gige'),
  ...common,
  ...supervision,
  /** The camera's IPv4 address. Always explicit: the driver never runs broadcast discovery. */
  ip: z.ipv4({ message: 'ip must be an IPv4 address (GigE cameras are addressed explicitly, never discovered)' }),
  width: z.number().int().min(1).max(16384),
  height: z.number().int().min(1).max(16384),
  pixelFormat: z.enum(['Mono8', 'RGB8', 'BayerRG8', 'BayerGR8', 'BayerGB8', 'BayerBG8']).default('Mono8'),
  fps: z.number().positive().max(1000).default(10),
  /** Exposure time in µs. */
  exposureUs: z.number().positive().optional(),
  /** Gain in dB. */
  gain: z.number().min(0).optional(),
  /** free: free-run; hardware: TriggerMode=On on triggerSource (a line input); software: the camera free-runs and the
   *  agent's latch passes on one frame per trigger (aravissrc holds the control channel, so no GenICam TriggerSoftware). */
  trigger: z.enum(['free', 'hardware', 'software']).default('free'),
  ...streamTrigger,
  triggerSource: z.string().min(1).default('Line1'),
  /** Expected-part window for hardware trigger: no frame for this long is not a stall while idle. */
  idleOk: z.boolean().default(false),
}).refine((c) => c.pixelFormat !== 'RGB8' || c.width % 4 === 0, {
  path: ['width'],
  message: 'RGB8 needs a width that is a multiple of 4 (GStreamer pads RGB rows to 4 bytes); use Mono8/Bayer or a width like 520',
});

export const folderCameraSchema = z.strictObject({
  type: z.literal('folder'),
  ...common,
  path: z.string().min(1),
  loop: z.boolean().default(true),
  /** Frames per second when free-running; ignored when trigger is "software". */
  fps: z.number().positive().max(1000).default(2),
  trigger: z.enum(['free', 'software']).default('free'),
});

export const syntheticCameraSchema = z.strictObject({
  type: z.literal('synthetic'),
  ...common,
  width: z.number().int().min(64).max(8192).default(640),
  height: z.number().int().min(64).max(8192).default(480),
  fps: z.number().positive().max(1000).default(5),
  /** Fraction of parts with a defect, 0..1. */
  defectRate: z.number().min(0).max(1).default(0.2),
  kinds: z.array(z.enum(DEFECT_KINDS)).min(1).default([...DEFECT_KINDS]),
  seed: z.number().int().min(0).max(0xffffffff).default(1),
  trigger: z.enum(['free', 'software']).default('free'),
});

export const cameraConfigSchema = z.discriminatedUnion('type', [
  rtspCameraSchema,
  ffmpegCameraSchema,
  gigeCameraSchema,
  folderCameraSchema,
  syntheticCameraSchema,
]);

export type CameraConfig = z.output<typeof cameraConfigSchema>;
export type CameraConfigInput = z.input<typeof cameraConfigSchema>;
export type RtspCameraConfig = z.output<typeof rtspCameraSchema>;
export type FfmpegCameraConfig = z.output<typeof ffmpegCameraSchema>;
export type GigeCameraConfig = z.output<typeof gigeCameraSchema>;
export type FolderCameraConfig = z.output<typeof folderCameraSchema>;
export type SyntheticCameraConfig = z.output<typeof syntheticCameraSchema>;

/** Parses a camera config; on failure throws one line naming the camera, the key path and what to do. */
export function parseCameraConfig(input: unknown): CameraConfig {
  const result = cameraConfigSchema.safeParse(input);
  if (result.success) return result.data;
  const id = typeof input === 'object' && input !== null && 'id' in input ? String((input as { id: unknown }).id) : '?';
  // A removed key is reported first: its note says what to do, where "unknown key" would not.
  const removed = result.error.issues.flatMap((i) => (i.code === 'unrecognized_keys' && i.path.length === 0 ? i.keys : [])).find((k) => removedCameraKey(k) !== undefined);
  if (removed !== undefined) throw new Error(`camera ${id}: invalid config at ${removed}: ${removedCameraKey(removed)!}`);
  const issue = result.error.issues[0];
  const path = issue?.path.length ? issue.path.join('.') : '(camera)';
  throw new Error(`camera ${id}: invalid config at ${path}: ${issue?.message ?? 'invalid'}; fix the camera entry`);
}
