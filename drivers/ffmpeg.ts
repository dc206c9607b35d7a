// The one place that knows how ffmpeg is invoked. fluent-ffmpeg composes the argument list (it is archived upstream,
// so it is used for nothing else); the process itself is a plain spawn, so the caller chooses its stdio.
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import ffmpeg from 'fluent-ffmpeg';

export const FFMPEG_PATH = process.env.ADAPTCLIP_FFMPEG ?? 'ffmpeg';

export interface FfmpegOutput {
  target: string; // e.g. pipe:1
  options: string[];
}

export interface FfmpegSpec {
  input: string;
  inputOptions: string[];
  complexFilter?: string;
  outputs: FfmpegOutput[];
}

/** Verbose logging is on purpose: it carries the filter-graph lines that reveal a mid-stream resolution change. */
const GLOBAL_OPTIONS = ['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'verbose'];

export function ffmpegArgs(spec: FfmpegSpec): string[] {
  const command = ffmpeg().input(spec.input).inputOptions(spec.inputOptions).addOptions(GLOBAL_OPTIONS);
  if (spec.complexFilter) command.complexFilter(spec.complexFilter);
  for (const out of spec.outputs) command.output(out.target).outputOptions(out.options);
  // _getArguments is fluent-ffmpeg's own argument builder (stable: the package is archived).
  const args = (command as unknown as { _getArguments(): string[] })._getArguments();
  return args.filter((a) => a !== '-y'); // pipes only; nothing to overwrite
}

export function spawnFfmpeg(spec: FfmpegSpec, stdio: StdioOptions): ChildProcess {
  return spawn(FFMPEG_PATH, ffmpegArgs(spec), { stdio });
}
