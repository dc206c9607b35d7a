// The detector's resize pool: the same bytes as the inline resize, computed off the event loop.
import test from 'ava';
import { ResizePool } from '../models/resize-pool.ts';
import { resizeForModel } from '../models/image.ts';
import type { DecodedImage } from '../models/raster.ts';

function frame(width: number, height: number, channels = 3): Uint8Array {
  const data = new Uint8Array(width * height * channels);
  let state = 12345;
  for (let i = 0; i < data.length; i++) data[i] = (state = (state * 1664525 + 1013904223) >>> 0) >>> 24;
  return data;
}

test('pool threads give the inline bytes for RGB and RGBA (premultiplied) frames', async (t) => {
  const pool = new ResizePool(2);
  t.teardown(() => pool.close());
  const rgb = { data: Buffer.from(frame(1280, 1024)), width: 1280, height: 1024 };
  const rgbaSamples = frame(700, 500, 4);
  const rgba: DecodedImage = { data: Buffer.from(frame(700, 500)), width: 700, height: 500, mode: 'RGBA', samples: { data: rgbaSamples, width: 700, height: 500, channels: 4 } };
  const [a, b, c] = await Promise.all([pool.resize(rgb, 518), pool.resize(rgba, 224), pool.resize(rgb, 112)]);
  t.true(a.equals(resizeForModel(rgb, 518)));
  t.true(b.equals(resizeForModel(rgba, 224)));
  t.true(c.equals(resizeForModel(rgb, 112)));
});

test('a 5 MP resize in the pool leaves the event loop running; with 0 threads it runs inline', async (t) => {
  const big = { data: Buffer.from(frame(2448, 2048)), width: 2448, height: 2048 };
  const order = async (pool: ResizePool): Promise<string[]> => {
    const events: string[] = [];
    const done = pool.resize(big, 518).then(() => events.push('resized'));
    setImmediate(() => events.push('event loop turned'));
    await done;
    await new Promise((resolve) => setImmediate(resolve));
    return events;
  };
  const pool = new ResizePool(1);
  t.teardown(() => pool.close());
  t.deepEqual(await order(pool), ['event loop turned', 'resized']);
  t.deepEqual(await order(new ResizePool(0)), ['resized', 'event loop turned']);
});

test('after close() resizes still work, inline', async (t) => {
  const pool = new ResizePool(1);
  const img = { data: Buffer.from(frame(640, 480)), width: 640, height: 480 };
  const before = await pool.resize(img, 224);
  await pool.close();
  t.true((await pool.resize(img, 224)).equals(before));
});
