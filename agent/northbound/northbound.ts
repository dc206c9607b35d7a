// The one owner of the northbound side: every sink gets each verdict by one route, statuses and alarms once per
// change, resets that came another way, and the broker's reachability. Sinks are told apart only by capabilities.
import type { Alarm, AlarmName, LocalResets, SinkCommands, StationStatus, VerdictRecord, VerdictSink } from '../../adapters/types.ts';

export interface NorthboundLog {
  info(o: object, m: string): void;
  warn(o: object, m: string): void;
  error(o: object, m: string): void;
}

/** A sink's line in /healthz: its own name, or `broker` for the sink that publishes to a broker. */
export interface SinkHealth {
  key: string;
  ok: boolean;
  reason: string;
  since?: string;
}

/** One alarm condition of a station as the pipeline sees it now; raised and cleared once each. */
export interface AlarmCondition {
  stationId: string;
  alarm: AlarmName;
  active: boolean;
  severity: number;
  text: string;
}

export class Northbound {
  private configured: VerdictSink[] = [];
  private readonly started: VerdictSink[] = [];
  private readonly lastStatus = new Map<string, string>();
  private readonly alarmState = new Map<string, boolean>();
  /** Broker reachability as its sink reports it; `since` = when it last changed (or the agent started). */
  private broker = { connected: false, everConnected: false, since: Date.now() };
  private stopping = false;
  /** Resolves when every sink has started or failed to. */
  ready: Promise<void> = Promise.resolve();

  constructor(private readonly log: NorthboundLog, private readonly onChange: () => void) {}

  /** Every configured sink, started or still starting. */
  get sinks(): readonly VerdictSink[] {
    return this.configured;
  }

  /** Sinks that have started (they get verdicts, statuses and alarms). */
  get live(): readonly VerdictSink[] {
    return this.started;
  }

  /** Takes the sinks and starts them in the background (an OPC UA server's first start creates its certificate, seconds):
   *  each gets verdicts once started; an outbox sink takes every verdict from now on. */
  begin(sinks: VerdictSink[], commands: SinkCommands): Promise<void> {
    this.configured = sinks;
    for (const sink of sinks) {
      sink.capabilities?.alarms?.onAlarm((alarm) => this.forward(alarm, sink));
      sink.capabilities?.broker?.onConnection((connected) => this.brokerConnection(connected));
    }
    this.ready = Promise.all(sinks.map((sink) =>
      sink.start(commands).then(
        () => {
          if (this.stopping) return;
          this.started.push(sink);
          // The new sink learns the current statuses and raised alarms.
          this.lastStatus.clear();
          this.alarmState.clear();
          this.onChange();
          this.log.info({ sink: sink.name }, 'sink started');
        },
        (err: Error) => this.log.error({ sink: sink.name, err: err.message }, 'sink failed to start; verdicts still go to the store'),
      ))).then(() => undefined);
    return this.ready;
  }

  /** Inside the result row's transaction: outbox sinks enqueue it there (a throw rolls the row back). */
  inTransaction(verdict: VerdictRecord): void {
    for (const sink of this.configured) sink.capabilities?.outbox?.enqueue(verdict);
  }

  /** After the commit: outbox sinks flush, the others get the verdict. */
  verdict(verdict: VerdictRecord): void {
    for (const sink of this.started) {
      const outbox = sink.capabilities?.outbox;
      this.each(sink, 'a verdict', () => (outbox ? outbox.flush() : sink.publishVerdict(verdict)));
    }
  }

  /** Statuses that changed since last time (`force`: all of them) go to every started sink. */
  statuses(statuses: StationStatus[], force: boolean): void {
    for (const status of statuses) {
      const key = JSON.stringify({ ...status, busy: false });
      if (!force && this.lastStatus.get(status.stationId) === key) continue;
      this.lastStatus.set(status.stationId, key);
      for (const sink of this.started) this.each(sink, 'a status', () => sink.publishStatus(status));
    }
  }

  /** Raises or clears each condition once; an unchanged one sends nothing. */
  alarms(conditions: AlarmCondition[]): void {
    for (const c of conditions) {
      const key = `${c.stationId}:${c.alarm}`;
      if ((this.alarmState.get(key) ?? false) === c.active) continue;
      this.alarmState.set(key, c.active);
      const alarm: Alarm = { stationId: c.stationId, alarm: c.alarm, active: c.active, severity: c.severity, text: c.active ? c.text : `${c.alarm} cleared` };
      for (const sink of this.started) this.each(sink, 'an alarm', () => sink.publishAlarm(alarm));
    }
  }

  /** Whether the alarm is raised now (a graceful stop keeps ModelNotLoaded as it was). */
  raised(stationId: string, alarm: AlarmName): boolean {
    return this.alarmState.get(`${stationId}:${alarm}`) ?? false;
  }

  /** A reset that came from one side (OPC UA, MQTT, HTTP) reaches the counters and latched errors every sink keeps. */
  reset(stationId: string, what: keyof LocalResets): void {
    for (const sink of this.started) this.each(sink, 'a reset', () => sink.capabilities?.localResets?.[what](stationId));
  }

  /** BrokerOffline: the broker went away, or never answered within its connect timeout after start. */
  brokerOffline(): { active: boolean; text: string } {
    const broker = this.configured.map((s) => s.capabilities?.broker).find((b) => b !== undefined);
    if (!broker || this.broker.connected) return { active: false, text: '' };
    const waited = Date.now() - this.broker.since;
    const active = this.broker.everConnected || waited > broker.connectTimeoutMs;
    const text = `MQTT broker ${broker.url} unreachable ${this.broker.everConnected ? 'since' : 'since the start at'} ${new Date(this.broker.since).toISOString()}; results wait in the outbox`;
    return { active, text };
  }

  health(): SinkHealth[] {
    return this.configured.map((sink) => {
      const h = this.started.includes(sink) ? sink.health() : { ok: false, detail: 'starting' };
      if (!sink.capabilities?.broker) return { key: sink.name, ok: h.ok, reason: h.detail };
      const offline = this.brokerOffline();
      return offline.active
        ? { key: 'broker', ok: false, reason: `${offline.text} (${h.detail})`, since: new Date(this.broker.since).toISOString() }
        : { key: 'broker', ok: h.ok, reason: h.detail };
    });
  }

  /** Where clients connect to the sinks that say (OPC UA). */
  endpointUrls(): string[] {
    return this.configured.map((s) => s.capabilities?.endpointUrl?.()).filter((u): u is string => u !== undefined);
  }

  /** Whether a station added now would be missing from a sink until a restart. */
  stationsFixedAtStart(): boolean {
    return this.configured.some((s) => s.capabilities?.stationsFixedAtStart);
  }

  /** Stop taking new sinks, wait (bounded) for those still starting, then stop each. */
  async stop(waitMs = 3000): Promise<void> {
    this.stopping = true;
    await Promise.race([this.ready, new Promise((r) => setTimeout(r, waitMs))]);
    for (const sink of this.configured) await sink.stop().catch((err: Error) => this.log.warn({ sink: sink.name, err: err.message }, 'sink stop failed'));
  }

  /** Before the last statuses of a stop: nothing reacts to broker changes any more. */
  markStopping(): void {
    this.stopping = true;
  }

  private forward(alarm: Alarm, origin: VerdictSink): void {
    for (const sink of this.started) if (sink !== origin) this.each(sink, 'an alarm', () => sink.publishAlarm(alarm));
  }

  private brokerConnection(connected: boolean): void {
    if (connected === this.broker.connected) return;
    this.broker = { connected, everConnected: this.broker.everConnected || connected, since: Date.now() };
    this.log[connected ? 'info' : 'warn']({}, 'MQTT broker ' + (connected ? 'connected' : 'offline: results wait in the outbox'));
    if (!this.stopping) this.onChange();
  }

  private each(sink: VerdictSink, what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log.warn({ sink: sink.name, err: (err as Error).message }, `sink refused ${what}`);
    }
  }
}
