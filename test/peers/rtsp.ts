// Starts and stops the RTSP test peer (test/peers/rtsp_server.py) by PID, on 127.0.0.1 only.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('./rtsp_server.py', import.meta.url));

export interface RtspPeer {
  url: string;
  port: number;
  pid: number;
  child: ChildProcess;
  /** SIGKILL and wait for the exit. */
  kill(): Promise<void>;
}

export async function startRtspServer(opts: { port?: number; width?: number; height?: number; fps?: number } = {}): Promise<RtspPeer> {
  const args = [SCRIPT, '--port', String(opts.port ?? 0), '--width', String(opts.width ?? 640), '--height', String(opts.height ?? 480), '--fps', String(opts.fps ?? 15)];
  const child = spawn('/usr/bin/python3', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const line = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`rtsp_server.py did not start in 10 s: ${stderr}`)), 10_000);
    createInterface({ input: child.stdout! }).once('line', (l) => {
      clearTimeout(timer);
      resolve(l);
    });
    child.once('exit', (code) => reject(new Error(`rtsp_server.py exited with ${code}: ${stderr}`)));
  });
  const { url, port } = JSON.parse(line) as { url: string; port: number };
  return {
    url,
    port,
    pid: child.pid!,
    child,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
