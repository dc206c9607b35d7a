// The ffmpeg argument list the drivers build (drivers/ffmpeg.ts), and that a real ffmpeg runs it.
import test from 'ava';
import { rtspCameraSchema } from '../drivers/config.ts';
import { ffmpegArgs, spawnFfmpeg } from '../drivers/ffmpeg.ts';
import { ffmpegInputOptions, rawOutputs } from '../drivers/ffmpeg-source.ts';

const GLOBAL = ['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'verbose'];
const RAW_OUT = ['-map', '[full]', '-an', '-sn', '-dn', '-pix_fmt', 'rgb24', '-f', 'rawvideo', '-fps_mode', 'passthrough', 'pipe:1'];

test('an RTSP camera: global options, input options, -i url, the filter graph, the raw output on fd 1', (t) => {
  const cfg = rtspCameraSchema.parse({ type: 'rtsp', id: 'c', url: 'rtsp://10.0.0.9/s', width: 640, height: 480, fps: 5, hwaccel: 'cuda', inputOptions: ['-re'] });
  t.deepEqual(ffmpegArgs({ input: cfg.url, inputOptions: ffmpegInputOptions(cfg), ...rawOutputs(cfg) }), [
    ...GLOBAL,
    '-hwaccel', 'cuda', '-rtsp_transport', 'tcp', '-timeout', String(cfg.stallMs * 1000), '-analyzeduration', '1000000', '-probesize', '1000000', '-re',
    '-i', 'rtsp://10.0.0.9/s',
    '-filter_complex', '[0:v:0]fps=5,scale=640:480:flags=bicubic[full]',
    ...RAW_OUT,
  ]);
});

test('no filter graph, several outputs, each with its own options; nothing asks to overwrite (-y)', (t) => {
  const args = ffmpegArgs({ input: 'in.mp4', inputOptions: [], outputs: [{ target: 'pipe:1', options: ['-f', 'rawvideo'] }, { target: 'x.png', options: ['-frames:v', '1'] }] });
  t.deepEqual(args, [...GLOBAL, '-i', 'in.mp4', '-f', 'rawvideo', 'pipe:1', '-frames:v', '1', 'x.png']);
});

test('an option entry with exactly one space is an option and its value; other entries stay one argument', (t) => {
  const args = ffmpegArgs({ input: 'in', inputOptions: ['-stream_loop -1', '-metadata title=a b', '-re'], outputs: [{ target: 'pipe:1', options: ['-f rawvideo'] }] });
  t.deepEqual(args, [...GLOBAL, '-stream_loop', '-1', '-metadata title=a b', '-re', '-i', 'in', '-f', 'rawvideo', 'pipe:1']);
});

test('a real ffmpeg runs the list: 5 raw RGB frames of 64x48 from a test source through the shared filter chain', async (t) => {
  const child = spawnFfmpeg({ input: 'testsrc=size=64x48:rate=5', inputOptions: ['-f', 'lavfi', '-t', '1'], ...rawOutputs({}) }, ['ignore', 'pipe', 'pipe']);
  let bytes = 0, stderr = '';
  child.stdout!.on('data', (d: Buffer) => (bytes += d.length));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  t.is(code, 0, stderr.slice(-500));
  t.is(bytes, 5 * 64 * 48 * 3);
});
