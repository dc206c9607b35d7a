// Spawns test/helpers/producer.ts as a child process and follows its JSON-lines stdout (tests, bench).
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('./producer.ts', import.meta.url));

export interface ProducerProcess {
  child: ChildProcess;
  produced: { seq: number; resultId: string; at: number }[];
  ready: Promise<void>;
  exited: Promise<number | null>;
  kill9(): Promise<void>;
  terminate(): Promise<void>;
}

export function spawnProducer(args: { db: string; url: string; rate?: number; count?: number; keepaliveS?: number; agentId?: string }): ProducerProcess {
  const argv = ['--import', 'tsx', SCRIPT, '--db', args.db, '--url', args.url, '--rate', String(args.rate ?? 10), '--count', String(args.count ?? 0)];
  if (args.keepaliveS) argv.push('--keepalive', String(args.keepaliveS));
  if (args.agentId) argv.push('--agent', args.agentId);
  const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  const produced: ProducerProcess['produced'] = [];
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const ready = new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const msg = JSON.parse(line) as { ready?: boolean; produced?: number; resultId?: string };
      if (msg.ready) resolve();
      if (msg.produced !== undefined) produced.push({ seq: msg.produced, resultId: msg.resultId!, at: Date.now() });
    });
    void exited.then((code) => reject(new Error(`producer exited (${code}) before ready: ${stderr.trim()}`)));
  });
  ready.catch(() => {});
  const stopWith = async (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null && child.pid) process.kill(child.pid, signal);
    await exited;
  };
  return { child, produced, ready, exited, kill9: () => stopWith('SIGKILL'), terminate: () => stopWith('SIGTERM') };
}
