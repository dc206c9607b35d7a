// MQTT publisher (PROTOCOLS.md "MQTT"): retained online + Last Will, retained station status, verdicts and masks
// drained from the SQLite outbox (oldest first, bounded in flight, deleted on PUBACK), alarms, metrics.
import mqtt, { type IClientOptions, type IClientPublishOptions, type IPublishPacket, type MqttClient } from 'mqtt';
import { readFileSync } from 'node:fs';
import { MQTT_SCHEMA, MQTT_TOPIC, OUTBOX_FULL_ALARM } from '../protocol.ts';
import type { Alarm, SinkCommands, StationStatus, VerdictRecord, VerdictSink } from '../types.ts';
import { type MqttConfig, topicPrefix } from './config.ts';
import { runCommand } from './commands.ts';
import type { Outbox, OutboxRow, OutboxStats } from './outbox.ts';
import {
  alarmTopic, commandTopic, metricsTopic, onlinePayload, onlineTopic, replyTopic, statusPayload, statusTopic, type VerdictPayload,
} from './payloads.ts';

export interface MqttSinkDeps {
  outbox: Outbox;
  agentVersion: string;
  log?: { info(msg: string): void; warn(msg: string): void };
  /** Extra per-station metrics (counters, latency percentiles) merged into `P/<station>/metrics`. */
  metrics?: (stationId: string) => Record<string, unknown>;
  /** Broker reachability, e.g. to drive the OPC UA `BrokerOffline` alarm. */
  onConnectionChange?: (connected: boolean) => void;
  /** Stations that accept commands on `P/<station>/cmd/<name>`; default: those with a published status. */
  stations?: () => string[];
}

export interface MqttSink extends VerdictSink {
  readonly prefix: string;
  connected(): boolean;
  stats(): { published: number; inFlight: number; outbox: OutboxStats; connects: number };
  /** Resolves once the outbox is empty and nothing is in flight (or rejects after timeoutMs). */
  drained(timeoutMs: number): Promise<void>;
  /** Commands answered since start (replies published or attempted). */
  commandsHandled(): number;
}

export function createMqttSink(config: MqttConfig, deps: MqttSinkDeps): MqttSink {
  const prefix = topicPrefix(config);
  const { outbox } = deps;
  const log = deps.log ?? { info: () => {}, warn: (m: string) => process.emitWarning(m) };
  const inFlight = new Set<number>();
  const statuses = new Map<string, { key: string; status: StationStatus }>();
  let client: MqttClient | null = null;
  let connectedAt = 0;
  let published = 0;
  let connects = 0;
  let draining = false;
  let stopped = false;
  let wasFull = false;
  let commands: SinkCommands | null = null;
  let commandsHandled = 0;
  const timers: NodeJS.Timeout[] = [];

  const connectionListeners: ((connected: boolean) => void)[] = [];
  const connectionChanged = (connected: boolean) => {
    deps.onConnectionChange?.(connected);
    for (const listener of connectionListeners) listener(connected);
  };

  const publish = (topic: string, payload: string | Buffer, opts: IClientPublishOptions, cb?: (err?: Error) => void) =>
    client!.publish(`${prefix}/${topic}`, payload, opts, cb);

  const publishStatusNow = (s: StationStatus) => {
    if (client?.connected) publish(statusTopic(s.stationId), JSON.stringify(statusPayload(s)), { qos: 1, retain: true });
  };

  const encode = (row: OutboxRow): Buffer => {
    if (row.kind !== 'verdict') return row.payload;
    const p = JSON.parse(row.payload.toString('utf8')) as VerdictPayload;
    // Backlog: queued before this connection came up, or already sent once without a PUBACK.
    p.replayed = row.attempts > 0 || row.createdAt < connectedAt;
    if (p.mask) p.mask.topic = `${prefix}/${p.mask.topic}`;
    return Buffer.from(JSON.stringify(p));
  };

  const drain = () => {
    draining = false;
    if (!client?.connected || stopped) return;
    const room = config.maxInFlight - inFlight.size;
    if (room <= 0) return;
    for (const row of outbox.peek(room, inFlight)) {
      inFlight.add(row.id);
      const props = row.props ?? {};
      const opts: IClientPublishOptions = { qos: 1, retain: false };
      if (row.kind === 'mask') opts.properties = { ...props, messageExpiryInterval: config.maskExpiryS };
      publish(row.topic, encode(row), opts, (err) => {
        inFlight.delete(row.id);
        if (err) outbox.markFailed(row.id);
        else {
          outbox.remove(row.id);
          published += 1;
        }
        kick();
      });
    }
  };
  const waitDrained = (timeoutMs: number) =>
    new Promise<void>((resolve, reject) => {
      const t0 = Date.now();
      const poll = () => {
        if (outbox.stats().depth === 0 && inFlight.size === 0) return resolve();
        if (Date.now() - t0 > timeoutMs) return reject(new Error(`mqtt outbox not drained after ${timeoutMs} ms (${outbox.stats().depth} left)`));
        setTimeout(poll, 20);
      };
      poll();
    });

  const kick = () => {
    if (draining || stopped) return;
    draining = true;
    setImmediate(drain);
  };

  // OutboxFull alarms cannot go through the (full) outbox: they wait here and go out once connected, in order.
  const fullAlarms: { stationId: string; payload: string }[] = [];
  const flushFullAlarms = () => {
    while (client?.connected && fullAlarms.length) {
      const a = fullAlarms.shift()!;
      publish(alarmTopic(a.stationId), a.payload, { qos: 1 }, (err) => { if (err) fullAlarms.unshift(a); });
    }
  };
  const checkFull = () => {
    const s = outbox.stats();
    if (s.full === wasFull) return;
    wasFull = s.full;
    const text = s.full ? `MQTT outbox full (${s.depth} messages, ${s.bytes} bytes): oldest masks, then alarms, then verdicts are dropped` : 'MQTT outbox below its limits again';
    log.warn(text);
    for (const stationId of statuses.keys()) {
      const payload = { schema: MQTT_SCHEMA.alarm, alarm: OUTBOX_FULL_ALARM.name, active: s.full, severity: OUTBOX_FULL_ALARM.severity, ts: new Date().toISOString(), text };
      fullAlarms.push({ stationId, payload: JSON.stringify(payload) });
    }
    flushFullAlarms();
  };

  // Commands: `P/+/cmd/+` (one level each, so `…/cmd/<name>/reply` is never read back). Retain handling 2: the broker
  // sends no retained message at subscribe time; retain-as-published: a retained command seen live is recognised.
  const commandFilter = `${prefix}/${commandTopic('+', '+')}`;
  const onCommand = async (topic: string, payload: Buffer, packet: IPublishPacket) => {
    const [stationId = '', , name = ''] = topic.slice(prefix.length + 1).split('/');
    // An empty retained message only clears the retained one on the broker: nothing to run or answer.
    if (packet.retain && payload.length === 0) return;
    const r = await runCommand(
      { commands: commands!, stations: () => deps.stations?.() ?? [...statuses.keys()], status: (id) => statuses.get(id)?.status },
      stationId, name, payload, packet.retain,
    );
    commandsHandled += 1;
    if (r.error !== 0) log.warn(`mqtt: command ${topic} refused: ${r.text}`);
    const props = packet.properties ?? {};
    const replyTo = props.responseTopic ?? `${prefix}/${replyTopic(stationId, name)}`;
    const opts: IClientPublishOptions = { qos: 1, retain: false, properties: { contentType: 'application/json', ...(props.correlationData ? { correlationData: props.correlationData } : {}) } };
    if (client?.connected) client.publish(replyTo, JSON.stringify(r), opts, (err) => { if (err) log.warn(`mqtt: reply to ${topic} not sent: ${err.message}`); });
  };

  return {
    name: 'mqtt',
    prefix,
    async start(cmds: SinkCommands) {
      commands = cmds;
      const willPayload = JSON.stringify({ ...onlinePayload(false, deps.agentVersion), reason: 'connection lost' });
      const opts: IClientOptions = {
        protocolVersion: 5,
        clientId: config.clientId ?? `adaptclip-edge-${config.agentId}`,
        clean: true,
        keepalive: config.keepaliveS,
        reconnectPeriod: config.reconnectPeriodMs,
        connectTimeout: config.connectTimeoutMs,
        reconnectOnConnackError: true,
        queueQoSZero: false,
        resubscribe: false, // the command subscription is made on every CONNACK, with its v5 options

        username: config.username,
        password: config.password,
        will: { topic: `${prefix}/${onlineTopic}`, payload: Buffer.from(willPayload), qos: 1, retain: true },
      };
      if (config.tls) {
        try {
          if (config.tls.caFile) opts.ca = readFileSync(config.tls.caFile);
          if (config.tls.certFile) opts.cert = readFileSync(config.tls.certFile);
          if (config.tls.keyFile) opts.key = readFileSync(config.tls.keyFile);
        } catch (err) {
          throw new Error(`mqtt.tls: cannot read a certificate file (${(err as Error).message}); fix the path in the mqtt.tls config section`);
        }
        opts.rejectUnauthorized = config.tls.rejectUnauthorized;
      }
      client = mqtt.connect(config.url, opts);
      client.on('connect', () => {
        connects += 1;
        connectedAt = Date.now();
        log.info(`mqtt: connected to ${config.url}`);
        // Retained state is republished only after a successful CONNACK (RELIABILITY.md).
        publish(onlineTopic, JSON.stringify(onlinePayload(true, deps.agentVersion)), { qos: 1, retain: true });
        for (const { status } of statuses.values()) publishStatusNow(status);
        flushFullAlarms();
        client!.subscribe(commandFilter, { qos: 1, rh: 2, rap: true, nl: true }, (err, granted) => {
          if (err || (granted?.[0]?.qos ?? 0) >= 128) log.warn(`mqtt: cannot subscribe to ${commandFilter} (${err?.message ?? `reason ${granted?.[0]?.qos}`}); MQTT commands are unavailable`);
        });
        connectionChanged(true);
        kick();
      });
      client.on('close', () => {
        // Hand unacknowledged messages back to the outbox: they are resent in order, marked replayed.
        for (const id of Object.keys(client?.outgoing ?? {})) client?.removeOutgoingMessage(Number(id));
        if (connectedAt) connectionChanged(false);
        // Jitter so a fleet of agents does not reconnect in lock-step after a broker restart.
        if (client) client.options.reconnectPeriod = Math.round(config.reconnectPeriodMs * (0.75 + Math.random() * 0.5));
      });
      client.on('error', (err) => log.warn(`mqtt: ${err.message}`));
      client.on('message', (topic, payload, packet) => {
        if (stopped || !topic.startsWith(`${prefix}/`) || !topic.includes(`/${MQTT_TOPIC.command}/`)) return;
        onCommand(topic, payload, packet).catch((err: Error) => log.warn(`mqtt: command ${topic} failed: ${err.message}`));
      });
      timers.push(setInterval(() => { outbox.prune(); checkFull(); kick(); }, 1000));
      timers.push(setInterval(() => { for (const { status } of statuses.values()) publishStatusNow(status); }, config.statusIntervalS * 1000));
      timers.push(setInterval(() => {
        if (!client?.connected) return;
        for (const stationId of statuses.keys()) {
          const payload = { schema: MQTT_SCHEMA.metrics, ts: new Date().toISOString(), outbox: outbox.stats(), published, inFlight: inFlight.size, ...deps.metrics?.(stationId) };
          publish(metricsTopic(stationId), JSON.stringify(payload), { qos: 0 });
        }
      }, config.metricsIntervalS * 1000));
      for (const t of timers) t.unref();
    },
    async stop() {
      const c = client;
      // A graceful stop gives what is queued a bounded chance to reach the broker; what is left stays in the outbox
      // and goes out after the next start.
      if (c?.connected && !stopped) await waitDrained(config.flushOnStopMs).catch(() => {});
      stopped = true;
      for (const t of timers) clearInterval(t);
      if (!c) return;
      if (c.connected) {
        await new Promise<void>((resolve) => {
          c.publish(`${prefix}/${onlineTopic}`, JSON.stringify(onlinePayload(false, deps.agentVersion)), { qos: 1, retain: true }, () => resolve());
          setTimeout(resolve, 2000).unref();
        });
      }
      await c.endAsync();
    },
    publishVerdict(v: VerdictRecord) {
      // Standalone use; the agent enqueues through `capabilities.outbox` inside the result's transaction instead.
      outbox.enqueue(v);
      kick();
    },
    capabilities: {
      outbox: { enqueue: (v) => outbox.enqueue(v), flush: () => kick() },
      broker: { url: config.url, connectTimeoutMs: config.connectTimeoutMs, onConnection: (listener) => void connectionListeners.push(listener) },
    },
    publishStatus(s: StationStatus) {
      const key = JSON.stringify(statusPayload(s, new Date(0)));
      const prev = statuses.get(s.stationId);
      statuses.set(s.stationId, { key, status: s });
      if (prev?.key !== key) publishStatusNow(s);
    },
    publishAlarm(a: Alarm) {
      outbox.enqueueAlarm(a);
      kick();
    },
    health() {
      const s = outbox.stats();
      const ok = !!client?.connected && !s.full;
      return { ok, detail: `${client?.connected ? 'connected' : 'broker offline'}; outbox ${s.depth} queued, ${inFlight.size} in flight${s.full ? ', FULL' : ''}` };
    },
    connected: () => !!client?.connected,
    commandsHandled: () => commandsHandled,
    stats: () => ({ published, inFlight: inFlight.size, outbox: outbox.stats(), connects }),
    drained: waitDrained,
  };
}
