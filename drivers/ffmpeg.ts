// The one place that knows how ffmpeg is invoked: the argument list is built here, the process is a plain spawn, so
// the caller chooses its stdio. (fluent-ffmpeg used to compose the list: it is archived upstream and its only way to
// hand back the arguments without running ffmpeg itself is a private method.)
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';

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

/** An entry with exactly one space ("-stream_loop -1") is an option and its value, two arguments; anything else is
 *  one argument. This is how fluent-ffmpeg read option lists, so camera configs written for it keep working. */
function optionArgs(options: string[]): string[] {
  return options.flatMap((option) => {
    const words = option.split(' ');
    return words.length === 2 ? words : [option];
  });
}

/** ffmpeg's own order: global options, input options + `-i input`, the filter graph, each output's options + target. */
export function ffmpegArgs(spec: FfmpegSpec): string[] {
  return [
    ...GLOBAL_OPTIONS,
    ...optionArgs(spec.inputOptions),
    '-i', spec.input,
    ...(spec.complexFilter ? ['-filter_complex', spec.complexFilter] : []),
    ...spec.outputs.flatMap((out) => [...optionArgs(out.options), out.target]),
  ];
}

export function spawnFfmpeg(spec: FfmpegSpec, stdio: StdioOptions): ChildProcess {
  return spawn(FFMPEG_PATH, ffmpegArgs(spec), { stdio });
}
