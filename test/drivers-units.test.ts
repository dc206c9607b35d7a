import test from 'ava';
import { Backoff } from '../drivers/backoff.ts';
import { FrameSplitter } from '../drivers/frame-splitter.ts';
import { scrubCredentials, StderrTail } from '../drivers/stderr-tail.ts';

test('the splitter yields only exact frames across odd chunk boundaries and reports a partial tail', (t) => {
  const frames: Buffer[] = [];
  const splitter = new FrameSplitter((f) => frames.push(f));
  splitter.push(Buffer.from([1, 2, 3])); // before the size is known: held back, not guessed
  t.is(frames.length, 0);
  splitter.setFrameBytes(4);
  splitter.push(Buffer.from([4, 5, 6, 7, 8, 9, 10]));
  t.deepEqual(frames.map((f) => [...f]), [[1, 2, 3, 4], [5, 6, 7, 8]]);
  t.is(splitter.flush(), 2, 'two bytes of an unfinished frame are discarded and counted');
  t.is(frames.length, 2);
});

test('changing the frame size drops the frame in progress instead of passing a mis-sized one', (t) => {
  const frames: Buffer[] = [];
  const splitter = new FrameSplitter((f) => frames.push(f));
  splitter.setFrameBytes(6);
  splitter.push(Buffer.alloc(4, 1));
  t.is(splitter.setFrameBytes(3), 4);
  splitter.push(Buffer.alloc(7, 2));
  t.deepEqual(frames.map((f) => f.length), [3, 3]);
  t.throws(() => splitter.setFrameBytes(0), { message: /positive integer/ });
});

test('backoff doubles with ±20 % jitter up to the cap and resets', (t) => {
  const mid = new Backoff(1000, 60_000, () => 0.5);
  t.deepEqual(Array.from({ length: 8 }, () => mid.next()), [1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000]);
  mid.reset();
  t.is(mid.next(), 1000);
  const low = new Backoff(1000, 60_000, () => 0);
  const high = new Backoff(1000, 60_000, () => 0.999);
  t.is(low.next(), 800);
  t.true(high.next() <= 1200);
});

test('stderr tails keep the last lines and never a credential', (t) => {
  t.is(scrubCredentials('rtsp://admin:s3cret@10.0.0.5/stream?password=x&user=y'), 'rtsp://***@10.0.0.5/stream?password=***&user=y');
  const lines: string[] = [];
  const tail = new StderrTail(2, (l) => lines.push(l));
  tail.push('a\nrtsp://u:p@h/x fail');
  tail.push('ed\r\nc');
  tail.end();
  t.deepEqual(tail.get(), ['rtsp://***@h/x failed', 'c']);
  t.is(lines.length, 3);
});
