// GigE Vision through aravis: `gst-launch-1.0 -q aravissrc camera-name=<ip> ! caps ! fdsink fd=1` piped straight
// (fd to fd, no copy in Node) into the same ffmpeg raw tail as RTSP. The camera is always addressed by its IP:
// this driver never runs broadcast discovery.
import { spawn } from 'node:child_process';
import type { GigeCameraConfig } from './config.ts';
import { spawnFfmpeg } from './ffmpeg.ts';
import { rawOutputs } from './ffmpeg-source.ts';
import { softwareTriggerOf } from './latch.ts';
import { PipelineSource, type Pipeline } from './pipeline-source.ts';

export const GST_LAUNCH = process.env.ADAPTCLIP_GST_LAUNCH ?? 'gst-launch-1.0';

const FORMATS: Record<GigeCameraConfig['pixelFormat'], { caps: string; ffmpeg: string; bytesPerPixel: number }> = {
  Mono8: { caps: 'video/x-raw,format=GRAY8', ffmpeg: 'gray', bytesPerPixel: 1 },
  RGB8: { caps: 'video/x-raw,format=RGB', ffmpeg: 'rgb24', bytesPerPixel: 3 },
  BayerRG8: { caps: 'video/x-bayer,format=rggb', ffmpeg: 'bayer_rggb8', bytesPerPixel: 1 },
  BayerGR8: { caps: 'video/x-bayer,format=grbg', ffmpeg: 'bayer_grbg8', bytesPerPixel: 1 },
  BayerGB8: { caps: 'video/x-bayer,format=gbrg', ffmpeg: 'bayer_gbrg8', bytesPerPixel: 1 },
  BayerBG8: { caps: 'video/x-bayer,format=bggr', ffmpeg: 'bayer_bggr8', bytesPerPixel: 1 },
};

function fraction(fps: number): string {
  const den = Number.isInteger(fps) ? 1 : 1000;
  return `${Math.round(fps * den)}/${den}`;
}

/** gst-launch arguments; the caps pin the native size right after aravissrc (otherwise the camera crops). */
export function gstArgs(config: GigeCameraConfig): string[] {
  const format = FORMATS[config.pixelFormat];
  // software: the camera free-runs and the agent's latch picks the frame (drivers/latch.ts).
  const features = config.trigger === 'hardware' ? `TriggerMode=On TriggerSource=${config.triggerSource}` : 'TriggerMode=Off';
  const source = ['aravissrc', `camera-name=${config.ip}`, `features="${features}"`];
  if (config.exposureUs !== undefined) source.push('exposure-auto=off', `exposure=${config.exposureUs}`);
  if (config.gain !== undefined) source.push('gain-auto=off', `gain=${config.gain}`);
  const caps = `${format.caps},width=${config.width},height=${config.height},framerate=${fraction(config.fps)}`;
  // -q: without it gst-launch writes status text to stdout and corrupts the frames.
  return ['-q', ...source, '!', caps, '!', 'fdsink', 'fd=1', 'sync=false'];
}

export class GigeSource extends PipelineSource {
  constructor(private readonly config: GigeCameraConfig) {
    super(config.id, { ...config, pinned: { width: config.width, height: config.height }, idleOk: config.trigger === 'hardware' && config.idleOk, softwareTrigger: softwareTriggerOf(config) });
  }

  protected describe(): string {
    return `camera ${this.id} (GigE ${this.config.ip})`;
  }

  protected spawnPipeline(): Pipeline {
    const { config } = this;
    const format = FORMATS[config.pixelFormat];
    // GStreamer pads each row to a multiple of 4 bytes; ffmpeg reads the padded rows and crops them off.
    const strideBytes = Math.ceil((config.width * format.bytesPerPixel) / 4) * 4;
    const strideWidth = strideBytes / format.bytesPerPixel;
    const gst = spawn(GST_LAUNCH, gstArgs(config), { stdio: ['ignore', 'pipe', 'pipe'] });
    const ffmpeg = spawnFfmpeg(
      {
        input: 'pipe:0',
        inputOptions: ['-f', 'rawvideo', '-pix_fmt', format.ffmpeg, '-video_size', `${strideWidth}x${config.height}`, '-framerate', String(config.fps)],
        ...rawOutputs({ prefilters: strideWidth === config.width ? [] : [`crop=${config.width}:${config.height}:0:0`] }),
      },
      [gst.stdout ?? 'ignore', 'pipe', 'pipe'],
    );
    // ffmpeg holds its own copy of the pipe; ours would only compete for the data.
    gst.stdout?.destroy();
    return {
      processes: [
        { name: 'gst-launch', child: gst },
        { name: 'ffmpeg', child: ffmpeg },
      ],
      frames: ffmpeg.stdout!,
    };
  }
}
