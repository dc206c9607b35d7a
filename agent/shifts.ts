// Shift counters: each station's current shift is opened by a person (HTTP), the line (OPC UA ResetCounters, MQTT
// resetCounters) or the shift schedule (`shifts.times`). Every new shift also zeroes the sinks' counters (OPC UA
// Counters.*), so one reset from any side resets both; the counts themselves are the store's results since the start.
import type { ShiftSource } from './metrics.ts';
import type { LineCommands } from './northbound/commands.ts';
import type { Store } from './store/store.ts';

export interface ShiftSchedule {
  times: string[];
  /** IANA zone; default the box's local time zone. */
  timezone?: string;
}

export interface ShiftCounterDeps {
  store: Pick<Store, 'currentShift' | 'startShift' | 'shiftCounts' | 'onShiftStart'>;
  stations: ReadonlyMap<string, unknown>;
  commands: Pick<LineCommands, 'onCountersReset'>;
  /** Zeroes the counters every sink keeps for the station. */
  resetSinks(stationId: string): void;
  metrics: { shiftResets: { inc(labels: { station: string; cause: string }): void }; watchShifts(source: ShiftSource): void };
  schedule: ShiftSchedule | undefined;
  log: { info(o: object, m: string): void; warn(o: object, m: string): void };
  stopping(): boolean;
  now?: () => number;
  tickMs?: number;
}

export interface ShiftCounters {
  /** Checks the schedule now (the timer does it every tickMs). */
  tick(): void;
  stop(): void;
}

export function startShiftCounters(deps: ShiftCounterDeps): ShiftCounters {
  const { store } = deps;
  const now = deps.now ?? Date.now;
  for (const id of deps.stations.keys()) store.currentShift(id, now());

  store.onShiftStart((row) => {
    if (row.cause === 'first-start') return;
    deps.resetSinks(row.stationId);
    deps.metrics.shiftResets.inc({ station: row.stationId, cause: row.cause });
    deps.log.info({ stationId: row.stationId, cause: row.cause, actor: row.actor }, 'new shift: counters reset');
  });
  deps.commands.onCountersReset((stationId, origin) => void store.startShift(stationId, origin, origin));
  deps.metrics.watchShifts(() => [...deps.stations.keys()].map((stationId) => {
    const shift = store.currentShift(stationId);
    return { stationId, startedAt: shift.startedAt, ...store.shiftCounts(stationId, shift.startedAt) };
  }));

  const times = deps.schedule?.times ?? [];
  const tick = () => {
    if (!times.length || deps.stopping()) return;
    const t = now();
    const boundary = latestShiftStart(t, times, deps.schedule?.timezone);
    if (boundary === null) return;
    // Catch-up: a shift time passed while the agent was off still starts a new shift (from that time) once it runs.
    for (const id of deps.stations.keys()) {
      if (store.currentShift(id, t).startedAt < boundary) store.startShift(id, 'schedule', 'schedule', boundary);
    }
  };
  let timer: NodeJS.Timeout | null = null;
  const stop = () => {
    if (timer) clearInterval(timer);
    timer = null;
  };
  if (times.length) {
    timer = setInterval(() => {
      if (deps.stopping()) return stop();
      try {
        tick();
      } catch (err) {
        // The store closes when the daemon stops: the schedule ends with it.
        stop();
        if (!deps.stopping()) deps.log.warn({ err: (err as Error).message }, 'shift schedule stopped');
      }
    }, deps.tickMs ?? 1000).unref();
    tick();
  }
  return { tick, stop };
}

// ---- the schedule: wall-clock times in a time zone ----

type Wall = { y: number; mo: number; d: number; h: number; mi: number; s: number };

const formatters = new Map<string, Intl.DateTimeFormat>();
function wallClock(ms: number, timeZone: string): Wall {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
    formatters.set(timeZone, f);
  }
  const p = Object.fromEntries(f.formatToParts(ms).map((x) => [x.type, Number(x.value)]));
  return { y: p.year!, mo: p.month!, d: p.day!, h: p.hour!, mi: p.minute!, s: p.second! };
}

/** The instant whose wall clock in `timeZone` reads y-mo-d h:mi:s (in a DST gap: shifted by the gap, like a clock). */
export function instantOf(w: Wall, timeZone: string): number {
  const asUtc = Date.UTC(w.y, w.mo - 1, w.d, w.h, w.mi, w.s);
  const offsetAt = (ms: number) => {
    const c = wallClock(ms, timeZone);
    return Date.UTC(c.y, c.mo - 1, c.d, c.h, c.mi, c.s) - Math.floor(ms / 1000) * 1000;
  };
  const first = asUtc - offsetAt(asUtc);
  return asUtc - offsetAt(first);
}

/** The latest shift start at or before `now`: one of `times` ("HH:MM" or "HH:MM:SS") today or on an earlier day. */
export function latestShiftStart(now: number, times: readonly string[], timeZone = Intl.DateTimeFormat().resolvedOptions().timeZone): number | null {
  if (!times.length) return null;
  const today = wallClock(now, timeZone);
  let best: number | null = null;
  for (let back = 0; back <= 2 && best === null; back++) {
    const day = new Date(Date.UTC(today.y, today.mo - 1, today.d - back));
    for (const time of times) {
      const [h = 0, mi = 0, s = 0] = time.split(':').map(Number);
      const at = instantOf({ y: day.getUTCFullYear(), mo: day.getUTCMonth() + 1, d: day.getUTCDate(), h, mi, s }, timeZone);
      if (at <= now && (best === null || at > best)) best = at;
    }
  }
  return best;
}
