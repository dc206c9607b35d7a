// The one entry point the daemon uses: a validated camera config in, a FrameSource out.
import { parseCameraConfig, type CameraConfig, type CameraConfigInput } from './config.ts';
import { FfmpegSource } from './ffmpeg-source.ts';
import { FolderSource } from './folder.ts';
import { GigeSource } from './gige.ts';
import { SyntheticSource } from './synthetic.ts';
import type { FrameSource } from './types.ts';

export { cameraConfigSchema, parseCameraConfig, DEFECT_KINDS } from './config.ts';
export type { CameraConfig, CameraConfigInput, DefectKind } from './config.ts';
export type { Frame, FrameSource, SourceState, SourceStatus } from './types.ts';

/** Builds the driver for a camera config (parsed here when given raw); throws one line on a bad config. */
export function createFrameSource(config: CameraConfig | CameraConfigInput): FrameSource {
  const parsed: CameraConfig = parseCameraConfig(config);
  switch (parsed.type) {
    case 'synthetic':
      return new SyntheticSource(parsed);
    case 'folder':
      return new FolderSource(parsed);
    case 'rtsp':
    case 'ffmpeg':
      return new FfmpegSource(parsed);
    case 'gige':
      return new GigeSource(parsed);
  }
}
