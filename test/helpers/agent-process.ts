// The real agent as a CLI child process (`adaptclip-edge run --config …`), for tests that kill -9 and restart it.
import type { ExecutionContext } from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';

/** Returns a starter; every agent it started is SIGKILLed at the test's teardown if still running. */
export function agentProcesses(t: ExecutionContext): (config: string) => ChildProcess {
  const children: ChildProcess[] = [];
  t.teardown(() => {
    for (const c of children) if (c.pid && c.exitCode === null && c.signalCode === null) process.kill(c.pid, 'SIGKILL');
  });
  return (config) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'agent/cli.ts', 'run', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.resume();
    child.stderr!.resume();
    children.push(child);
    return child;
  };
}
