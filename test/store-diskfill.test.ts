// Disk fill: the data folder on a small tmpfs (own mount namespace via unshare, so nothing leaks to the host) that is
// nearly full. The daemon deletes the oldest masks, then results, to stay above the free-space watermark, and keeps
// producing verdicts the whole time. Masks only (keepImages: none): kept frames under the watermark are
// test/evidence.test.ts's, with a fake free-space probe.
import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { DEMO_PACK, TEST_TOKEN, waitFor } from './helpers/harness.ts';
import { freePort } from './helpers/mosquitto.ts';

const MB = 1024 * 1024;

test('on a nearly full disk the store stays above the watermark and verdicts keep coming', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'diskfill-'));
  const mnt = join(dir, 'mnt');
  mkdirSync(mnt);
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const port = await freePort();
  const config = join(dir, 'agent.yaml');
  const watermarkMb = 3;
  writeFileSync(config, stringify({
    agent: { id: 'fill', dataDir: mnt, logLevel: 'warn' },
    model: { pack: DEMO_PACK, maxBatch: 4, threads: 1 },
    cameras: [{ station: 'ST1', keepMasks: 'all', keepImages: 'none', source: { type: 'synthetic', id: 'cam1', fps: 20, width: 640, height: 480, defectRate: 1, seed: 8 } }],
    http: { host: '127.0.0.1', port, token: TEST_TOKEN },
    store: { minFreeMb: watermarkMb, pruneIntervalS: 0.5, walCheckpointMb: 0.5 },
  }));
  // 24 MiB tmpfs, 19 MiB of it taken by a filler: about 5 MiB left for the agent, 3 MiB of which it must keep free.
  const script = 'mount -t tmpfs -o size=24m tmpfs "$0" && head -c 19922944 /dev/zero > "$0/filler" && exec "$2" --import tsx agent/cli.ts run --config "$1"';
  const child = spawn('unshare', ['-rm', 'sh', '-c', script, mnt, config, process.execPath], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const url = `http://127.0.0.1:${port}`;
  const health = async () => {
    try {
      return (await (await fetch(`${url}/healthz`)).json()) as { components: { disk: { freeBytes: number; prunedSinceStart: { masks: number; rows: number } } } };
    } catch {
      return null;
    }
  };
  await waitFor(health, 20_000, `the agent on the tmpfs (${stderr})`);
  let minFree = Infinity;
  let lastSeq = 0;
  let prunedMasks = false;
  const seqAt: number[] = [];
  const until = Date.now() + 30_000;
  while (Date.now() < until) {
    const h = await health();
    if (h) {
      minFree = Math.min(minFree, h.components.disk.freeBytes);
      if (h.components.disk.prunedSinceStart.masks > 0) prunedMasks = true;
    }
    const rows = (await (await fetch(`${url}/api/results?limit=1`)).json()) as { resultSeq: number }[];
    lastSeq = rows[0]?.resultSeq ?? lastSeq;
    seqAt.push(lastSeq);
    await new Promise((r) => setTimeout(r, 250));
  }
  t.log(`min free ${(minFree / MB).toFixed(2)} MiB, last resultSeq ${lastSeq}`);
  t.true(prunedMasks, 'retention had to delete to keep the watermark');
  // Retention works from 1 MiB above the watermark, more than arrives between two passes: never under the line.
  t.true(minFree >= watermarkMb * MB, `free space fell to ${(minFree / MB).toFixed(2)} MiB`);
  // Verdicts kept coming through the whole run: the last quarter still advanced.
  const q = seqAt.slice(Math.floor(seqAt.length * 0.75));
  t.true(q.at(-1)! > q[0]!, `resultSeq advanced in the last quarter (${q[0]} → ${q.at(-1)})`);
  const masks = (await (await fetch(`${url}/api/results?limit=1000`)).json()) as { hasMask: boolean; resultSeq: number; outcome: string }[];
  t.true(masks.some((m) => !m.hasMask), 'oldest masks were removed');
  // A NO_VERDICT (a frame the full queue dropped on a busy machine) never has a mask: the newest verdict must.
  const newest = masks.find((m) => m.outcome !== 'NO_VERDICT');
  t.true(newest?.hasMask, `the newest verdict keeps its mask (newest rows: ${masks.slice(0, 3).map((m) => `${m.resultSeq} ${m.outcome} mask ${m.hasMask}`).join(', ')})`);
  const exit = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exit;
});
