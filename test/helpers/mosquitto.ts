// A real mosquitto broker for tests: own config file, 127.0.0.1, a free port; stopped by PID.
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const MOSQUITTO = '/usr/sbin/mosquitto';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const s = createConnection({ host: '127.0.0.1', port });
      s.once('connect', () => { s.destroy(); resolve(); });
      s.once('error', () => {
        s.destroy();
        if (Date.now() - t0 > timeoutMs) reject(new Error(`mosquitto did not listen on 127.0.0.1:${port} within ${timeoutMs} ms`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

export interface Broker {
  port: number;
  url: string;
  dir: string;
  pid(): number | undefined;
  /** SIGTERM and wait for exit (mosquitto then writes its persistence file). With holdPort, a placeholder keeps
   *  the port (closing every connection at once) so a parallel test cannot be given it before start(). */
  stop(opts?: { holdPort?: boolean }): Promise<void>;
  /** Start again on the same port with the same config and persistence. */
  start(): Promise<void>;
}

export async function startMosquitto(): Promise<Broker> {
  const dir = mkdtempSync(join(tmpdir(), 'mosq-'));
  // Started as root, mosquitto drops to its own user: it must be able to write its persistence file here.
  chmodSync(dir, 0o777);
  const port = await freePort();
  const conf = join(dir, 'mosquitto.conf');
  // Persistence so a durable test subscriber keeps its queued messages across a broker restart.
  writeFileSync(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      'persistence true',
      `persistence_location ${dir}/`,
      'autosave_interval 0',
      'max_queued_messages 0',
      'max_inflight_messages 0',
      'log_dest stderr',
      'log_type error',
      '',
    ].join('\n'),
  );
  let child: ChildProcess | undefined;
  let placeholder: Server | undefined;
  const broker: Broker = {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    dir,
    pid: () => child?.pid,
    async start() {
      if (placeholder) {
        const p = placeholder;
        placeholder = undefined;
        await new Promise<void>((resolve) => p.close(() => resolve()));
      }
      const c = spawn(MOSQUITTO, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
      child = c;
      let stderr = '';
      c.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
      const exited = new Promise<never>((_, reject) => c.once('exit', (code) => reject(new Error(`mosquitto exited (${code}): ${stderr.trim()}`))));
      await Promise.race([waitForPort(port, 5000), exited]);
      // The port answering is not enough: another process may hold it (then this mosquitto exits at once).
      await Promise.race([new Promise((r) => setTimeout(r, 150)), exited]);
      exited.catch(() => {});
    },
    async stop(opts) {
      const c = child;
      if (c?.pid && c.exitCode === null && c.signalCode === null) {
        const gone = new Promise<void>((resolve) => c.once('exit', () => resolve()));
        process.kill(c.pid, 'SIGTERM');
        await gone;
      }
      child = undefined;
      if (opts?.holdPort && !placeholder) {
        const p = createServer((sock) => sock.destroy());
        await new Promise<void>((resolve, reject) => { p.once('error', reject); p.listen(port, '127.0.0.1', () => resolve()); });
        placeholder = p;
      } else if (!opts?.holdPort && placeholder) {
        const p = placeholder;
        placeholder = undefined;
        await new Promise<void>((resolve) => p.close(() => resolve()));
      }
    },
  };
  await broker.start();
  return broker;
}
