// Child-process accounting from /proc: what a test process has left behind (zombies included).
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcInfo {
  pid: number;
  comm: string;
  state: string;
}

/** Direct children of `parent` (default: this process), read from /proc/<pid>/stat. */
export function childrenOf(parent = process.pid): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    const close = stat.lastIndexOf(')');
    const fields = stat.slice(close + 2).split(' ');
    if (Number(fields[1]) === parent) out.push({ pid: Number(name), comm: stat.slice(stat.indexOf('(') + 1, close), state: fields[0]! });
  }
  return out;
}

export function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}
