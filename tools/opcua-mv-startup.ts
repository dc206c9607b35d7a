// OPC UA server start time and memory with and without the OPC 40100-1 Machine Vision nodeset (issue 15).
// Each run is a fresh Node process (no warm module cache or heap): it imports the adapter, starts the server with
// `stations` stations, and reports the time from createOpcUaSink to listening, and the RSS / heap after the start.
// The server's PKI is kept between runs (a first, uncounted run makes its certificate), as on a site after day one.
//   node --import tsx tools/opcua-mv-startup.ts [--runs 5] [--stations 1]     → JSON on stdout
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' }, stations: { type: 'string', default: '1' }, child: { type: 'string' }, dir: { type: 'string' } } });

interface Sample { startMs: number; rssMiB: number; heapUsedMiB: number; rssBeforeMiB: number }

async function child(machineVision: boolean, stations: number, pkiParent: string): Promise<Sample> {
  const [{ opcuaConfigSchema }, { createOpcUaSink }, { createSqliteStationStore }, { openDatabase }] = await Promise.all([
    import('../adapters/opcua/config.ts'), import('../adapters/opcua/sink.ts'), import('../adapters/opcua/state-store.ts'), import('../agent/store/db.ts'),
  ]);
  const dir = mkdtempSync(join(tmpdir(), 'mv-startup-'));
  try {
    const db = openDatabase(join(dir, 'agent.db'));
    const ids = Array.from({ length: stations }, (_, i) => `ST${i + 1}`);
    const config = opcuaConfigSchema.parse({ port: 0, hostname: '127.0.0.1', dataDir: pkiParent, stations: ids, users: [{ username: 'op', password: 'op-pw', role: 'operator' }], machineVision });
    const rssBefore = process.memoryUsage().rss;
    const t0 = performance.now();
    const sink = createOpcUaSink(config, { store: createSqliteStationStore(db), agentVersion: 'bench' });
    await sink.start({ trigger: async () => -1, selectRecipe: async () => -1, resetError: async () => 0, resetCounters: async () => 0 });
    const startMs = performance.now() - t0;
    const m = process.memoryUsage();
    await sink.stop();
    db.close();
    const mib = (b: number) => Math.round((b / 1048576) * 10) / 10;
    return { startMs: Math.round(startMs), rssMiB: mib(m.rss), heapUsedMiB: mib(m.heapUsed), rssBeforeMiB: mib(rssBefore) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (values.child) {
  const s = await child(values.child === 'mv', Number(values.stations), values.dir!);
  process.stdout.write(`${JSON.stringify(s)}\n`);
  process.exit(0);
}

const runs = Number(values.runs);
const samples: Record<'with' | 'without', Sample[]> = { with: [], without: [] };
const pkiParent = mkdtempSync(join(tmpdir(), 'mv-startup-pki-'));
for (let i = -1; i < runs; i++) {
  // Alternating, so a busy machine slows both alike.
  for (const mode of ['with', 'without'] as const) {
    const out = execFileSync(process.execPath, ['--import', 'tsx', new URL(import.meta.url).pathname, '--child', mode === 'with' ? 'mv' : 'plain', '--stations', values.stations!, '--dir', pkiParent], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    if (i >= 0) samples[mode].push(JSON.parse(out.trim().split('\n').at(-1)!) as Sample);
  }
}
rmSync(pkiParent, { recursive: true, force: true });
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const summary = (xs: Sample[]) => ({
  startMsMedian: median(xs.map((x) => x.startMs)), startMsMin: Math.min(...xs.map((x) => x.startMs)), startMsMax: Math.max(...xs.map((x) => x.startMs)),
  rssMiBMedian: median(xs.map((x) => x.rssMiB)), rssGrowthMiBMedian: median(xs.map((x) => Math.round((x.rssMiB - x.rssBeforeMiB) * 10) / 10)), heapUsedMiBMedian: median(xs.map((x) => x.heapUsedMiB)),
});
process.stdout.write(`${JSON.stringify({ runs, stations: Number(values.stations), node: process.version, with: summary(samples.with), without: summary(samples.without), samples }, null, 2)}\n`);
