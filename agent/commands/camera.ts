// `adaptclip-edge camera probe`: what an integrator runs first on site. Opens one camera for N seconds and prints
// frames received, fps, frame size and state changes as JSON. Exit code 0 only when frames arrived.
import { InvalidArgumentError, type Command } from 'commander';
import { createFrameSource, parseCameraConfig, type CameraConfigInput } from '../../drivers/index.ts';
import { scrubCredentials } from '../../drivers/stderr-tail.ts';

export interface ProbeOptions {
  url?: string;
  gige?: string;
  seconds: number;
  width?: number;
  height?: number;
  pixelFormat?: string;
  fps?: number;
}

export interface ProbeReport {
  camera: string;
  seconds: number;
  framesReceived: number;
  fps: number;
  frameSizes: string[];
  firstFrameMs: number | null;
  states: { state: string; atMs: number; error?: string }[];
  badFrames: number;
  restarts: number;
  lastError?: string;
  stderrTail: string[];
}

function probeConfig(opts: ProbeOptions): CameraConfigInput {
  if ((opts.url === undefined) === (opts.gige === undefined)) throw new Error('camera probe: give exactly one of --url URL or --gige IP');
  if (opts.gige !== undefined) {
    if (opts.width === undefined || opts.height === undefined) throw new Error('camera probe: --gige needs --width and --height (the camera\'s native size)');
    return { type: 'gige', id: 'probe', ip: opts.gige, width: opts.width, height: opts.height, ...(opts.pixelFormat ? { pixelFormat: opts.pixelFormat } : {}), ...(opts.fps ? { fps: opts.fps } : {}) } as CameraConfigInput;
  }
  const url = opts.url!;
  const size = opts.width !== undefined && opts.height !== undefined ? { width: opts.width, height: opts.height } : {};
  return /^rtsps?:\/\//.test(url) ? { type: 'rtsp', id: 'probe', url, ...size } : { type: 'ffmpeg', id: 'probe', input: url, ...size };
}

export async function probeCamera(opts: ProbeOptions): Promise<ProbeReport> {
  const config = parseCameraConfig(probeConfig(opts));
  const source = createFrameSource(config);
  const t0 = Date.now();
  const sizes = new Set<string>();
  const states: ProbeReport['states'] = [];
  let frames = 0;
  let firstAt: number | undefined;
  source.on('frame', (f) => {
    frames++;
    firstAt ??= Date.now();
    sizes.add(`${f.width}x${f.height}`);
  });
  source.on('state', (state, status) => states.push({ state, atMs: Date.now() - t0, ...(state === 'offline' && status.lastError ? { error: status.lastError } : {}) }));
  await source.start();
  await new Promise((r) => setTimeout(r, opts.seconds * 1000));
  const status = source.status();
  await source.stop();
  const window = firstAt === undefined ? 0 : (Date.now() - firstAt) / 1000;
  return {
    camera: config.type === 'gige' ? `gige:${config.ip}` : scrubCredentials(config.type === 'rtsp' ? config.url : config.type === 'ffmpeg' ? config.input : config.type),
    seconds: opts.seconds,
    framesReceived: frames,
    fps: window > 0 ? Math.round((frames / window) * 100) / 100 : 0,
    frameSizes: [...sizes],
    firstFrameMs: firstAt === undefined ? null : firstAt - t0,
    states,
    badFrames: status.badFrames,
    restarts: status.restarts,
    ...(status.lastError ? { lastError: status.lastError } : {}),
    stderrTail: status.stderrTail.slice(-10),
  };
}

const positive = (name: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive number`);
  return n;
};

export function registerCameraCommands(program: Command): void {
  const camera = program.command('camera').description('cameras: probe a stream or a GigE camera before configuring it');
  camera
    .command('probe')
    .description('open one camera for a few seconds; print frames, fps, frame size and state changes as JSON')
    .option('--url <url>', 'rtsp://, http(s):// MJPEG, a file or /dev/videoN (anything ffmpeg opens)')
    .option('--gige <ip>', 'GigE Vision camera by IPv4 address (never discovered by broadcast)')
    .option('--seconds <n>', 'how long to listen', positive('--seconds'), 5)
    .option('--width <px>', 'GigE: native width; URL: scale to this width', positive('--width'))
    .option('--height <px>', 'GigE: native height; URL: scale to this height', positive('--height'))
    .option('--pixel-format <fmt>', 'GigE: Mono8, RGB8, BayerRG8, BayerGR8, BayerGB8, BayerBG8')
    .option('--fps <n>', 'GigE: frame rate to request', positive('--fps'))
    .action(async (opts: ProbeOptions) => {
      const report = await probeCamera(opts);
      process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      if (report.framesReceived === 0) {
        console.error(`camera probe: no frame from ${report.camera} in ${opts.seconds} s${report.lastError ? `: ${report.lastError}` : ''}; check the address, network and credentials`);
        process.exitCode = 2;
      }
    });
}
