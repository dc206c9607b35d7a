// Child process of test/agent-shot-limits.test.ts (run with --expose-gc): a real daemon (harness: real pack, real
// SQLite) in this process, shot uploads over HTTP, and this process's RSS after each, measured once the garbage is
// collected (gc three times, 100 ms apart, so native finalizers have run). Prints one JSON line.
import { readFileSync } from 'node:fs';
import { startHarness } from './harness.ts';

const [small, large, huge, countArg] = process.argv.slice(2);
const count = Number(countArg ?? 20);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc || !small || !large || !huge) throw new Error('usage: node --expose-gc --import tsx test/helpers/shot-rss.ts <small.png> <large.png> <huge.png> [count]');
const settle = async () => {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 100));
  }
};
const rssMb = async () => {
  await settle();
  return Math.round(process.memoryUsage().rss / 1048576);
};

const h = await startHarness({ cameras: [] });
const upload = async (name: string, png: Buffer) => {
  const product = await h.api<{ id: number }>('POST', '/api/products', { name });
  const t0 = Date.now();
  const res = await h.api<{ error?: string }>('POST', `/api/products/${product.body.id}/shots`, png);
  return { productId: product.body.id, status: res.status, error: res.body.error ?? '', ms: Date.now() - t0 };
};
const startMb = await rssMb();
// One ordinary shot first: resize threads started, code paths compiled. This is the level RSS must return to.
const first = await upload('small', readFileSync(small));
const levelMb = await rssMb();
const largePng = readFileSync(large);
const afterEach: number[] = [];
const statuses: number[] = [];
const ms: number[] = [];
for (let i = 0; i < count; i++) {
  const r = await upload(`large-${i}`, largePng);
  statuses.push(r.status);
  ms.push(r.ms);
  afterEach.push(await rssMb());
}
const beforeHugeMb = await rssMb();
const refused = await upload('huge', readFileSync(huge));
const afterHugeMb = await rssMb();
const hugeShots = h.daemon.store.listShots(refused.productId).length;
await h.stop();
process.stdout.write(`${JSON.stringify({ startMb, first: first.status, levelMb, statuses, ms, afterEach, beforeHugeMb, afterHugeMb, refused, hugeShots })}\n`);
