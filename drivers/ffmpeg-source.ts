// RTSP and any other ffmpeg input (http MJPEG, files, /dev/video*): ffmpeg decodes (and scales, when the output size
// is pinned) and writes raw RGB24 to fd 1; PipelineSource supervises it. There is no model-size copy: the runtime
// resizes the full frame itself, exactly as the model's preprocessing does.
import type { FfmpegCameraConfig, RtspCameraConfig } from './config.ts';
import { spawnFfmpeg, type FfmpegSpec } from './ffmpeg.ts';
import { softwareTriggerOf } from './latch.ts';
import { PipelineSource, type Pipeline } from './pipeline-source.ts';
import { scrubCredentials } from './stderr-tail.ts';

const RAW_OUT = ['-an', '-sn', '-dn', '-pix_fmt', 'rgb24', '-f', 'rawvideo', '-fps_mode', 'passthrough'];

/** The video filter chain and outputs shared by every ffmpeg-tailed source. */
export function rawOutputs(opts: { width?: number | undefined; height?: number | undefined; fps?: number | undefined; prefilters?: string[] }): Pick<FfmpegSpec, 'complexFilter' | 'outputs'> {
  const input = '[0:v:0]';
  const steps: string[] = [...(opts.prefilters ?? [])];
  if (opts.fps !== undefined) steps.push(`fps=${opts.fps}`);
  if (opts.width !== undefined && opts.height !== undefined) steps.push(`scale=${opts.width}:${opts.height}:flags=bicubic`);
  const chain = steps.length ? steps.join(',') : 'null';
  return { complexFilter: `${input}${chain}[full]`, outputs: [{ target: 'pipe:1', options: ['-map', '[full]', ...RAW_OUT] }] };
}

export function ffmpegInputOptions(config: RtspCameraConfig | FfmpegCameraConfig): string[] {
  const options: string[] = [];
  if (config.hwaccel) options.push('-hwaccel', config.hwaccel);
  if (config.type === 'rtsp') {
    // -timeout is in µs for RTSP (-stimeout is gone, -rw_timeout is refused); small probing for a fast first frame.
    options.push('-rtsp_transport', config.transport, '-timeout', String(config.stallMs * 1000));
  } else if (config.format) {
    options.push('-f', config.format);
  }
  // ffmpeg's default probing waits for 5 s of stream; 1 s is plenty for one video stream. inputOptions come last, so they win.
  options.push('-analyzeduration', '1000000', '-probesize', '1000000');
  return [...options, ...config.inputOptions];
}

export class FfmpegSource extends PipelineSource {
  constructor(private readonly config: RtspCameraConfig | FfmpegCameraConfig) {
    super(config.id, {
      ...config,
      ...(config.width !== undefined && config.height !== undefined ? { pinned: { width: config.width, height: config.height } } : {}),
      softwareTrigger: softwareTriggerOf(config),
    });
    if ((config.width === undefined) !== (config.height === undefined)) {
      throw new Error(`camera ${config.id}: set both width and height, or neither (then the stream's own size is used)`);
    }
  }

  protected describe(): string {
    return `camera ${this.id} (${scrubCredentials(this.config.type === 'rtsp' ? this.config.url : this.config.input)})`;
  }

  protected spawnPipeline(): Pipeline {
    const config = this.config;
    const spec: FfmpegSpec = {
      input: config.type === 'rtsp' ? config.url : config.input,
      inputOptions: ffmpegInputOptions(config),
      ...rawOutputs(config),
    };
    const child = spawnFfmpeg(spec, ['ignore', 'pipe', 'pipe']);
    return { processes: [{ name: 'ffmpeg', child }], frames: child.stdout! };
  }
}
