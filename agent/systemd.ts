// sd_notify for the daemon under systemd (Type=notify, WatchdogSec). Node has no unix datagram sockets, so each
// message is sent by spawning systemd-notify; the unit sets NotifyAccess=all because that child is not the main PID.
// Without NOTIFY_SOCKET (a terminal, a container, a test) every call does nothing.
import { execFile } from 'node:child_process';

export interface SystemdNotifier {
  /** True when a service manager listens (NOTIFY_SOCKET is set). */
  readonly enabled: boolean;
  /** The watchdog period systemd expects pings within, in ms; null when the unit has no WatchdogSec. */
  readonly watchdogMs: number | null;
  ready(status?: string): Promise<void>;
  /** Pings the watchdog only when healthy: a dead pipeline stops the pings so systemd restarts the daemon. */
  watchdog(healthy: boolean): Promise<void>;
  stopping(status?: string): Promise<void>;
  status(text: string): Promise<void>;
}

export interface NotifierOptions {
  env?: NodeJS.ProcessEnv;
  pid?: number;
  /** The systemd-notify binary; tests may point it elsewhere. */
  notifyBin?: string;
  /** Called when systemd-notify fails: the daemon logs it and keeps running. */
  onError?: (err: Error) => void;
}

export function createSystemdNotifier(options: NotifierOptions = {}): SystemdNotifier {
  const env = options.env ?? process.env;
  const pid = options.pid ?? process.pid;
  const socket = env.NOTIFY_SOCKET;
  const bin = options.notifyBin ?? 'systemd-notify';
  const onError = options.onError ?? (() => {});
  const enabled = Boolean(socket);
  const watchdogMs = enabled ? watchdogPeriodMs(env, pid) : null;

  const send = (fields: string[]): Promise<void> => {
    if (!enabled) return Promise.resolve();
    return new Promise((resolve) => {
      // systemd-notify (≥ 246) waits until the manager has read the message, so it is never misattributed.
      execFile(bin, fields, { env: { ...process.env, NOTIFY_SOCKET: socket }, timeout: 5000 }, (err, _stdout, stderr) => {
        if (err) onError(new Error(`systemd-notify ${fields.join(' ')} failed: ${String(stderr).trim() || err.message}`));
        resolve();
      });
    });
  };
  const statusField = (text?: string) => (text ? [`STATUS=${oneLine(text)}`] : []);

  return {
    enabled,
    watchdogMs,
    ready: (status) => send(['READY=1', `MAINPID=${pid}`, ...statusField(status)]),
    watchdog: (healthy) => (healthy && watchdogMs !== null ? send(['WATCHDOG=1']) : Promise.resolve()),
    stopping: (status) => send(['STOPPING=1', ...statusField(status)]),
    status: (text) => send(statusField(text)),
  };
}

/** WATCHDOG_USEC applies to this process only when WATCHDOG_PID is unset or names it (sd_watchdog_enabled rules). */
export function watchdogPeriodMs(env: NodeJS.ProcessEnv, pid: number): number | null {
  const usec = Number(env.WATCHDOG_USEC);
  if (!env.WATCHDOG_USEC || !Number.isFinite(usec) || usec <= 0) return null;
  if (env.WATCHDOG_PID && Number(env.WATCHDOG_PID) !== pid) return null;
  return usec / 1000;
}

/**
 * Pings the watchdog at half its period while isHealthy() says so. Returns a function that stops the timer.
 * Does nothing when systemd asked for no watchdog.
 */
export function startWatchdog(notifier: SystemdNotifier, isHealthy: () => boolean): () => void {
  if (notifier.watchdogMs === null) return () => {};
  const timer = setInterval(() => void notifier.watchdog(isHealthy()), Math.max(50, notifier.watchdogMs / 2));
  timer.unref();
  return () => clearInterval(timer);
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}
