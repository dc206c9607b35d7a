// The real parts the daemon runs with: models/ runtime, drivers/ cameras, adapters/ sinks.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { createOutbox } from '../adapters/mqtt/outbox.ts';
import { createMqttSink } from '../adapters/mqtt/sink.ts';
import { opcuaConfigSchema, type OpcUaConfig } from '../adapters/opcua/config.ts';
import { createFrameSource } from '../drivers/index.ts';
import type { AgentConfig } from './config/schema.ts';
import { resolvePath } from './config/load.ts';
import type { DaemonParts, SinkHooks } from './daemon.ts';
import type { Alarm } from '../adapters/types.ts';
import type { OpcUaSink } from '../adapters/opcua/sink.ts';
import { packDetectorFactory, type PackDetectorOptions } from './pipeline/detector.ts';
import type { VerdictSink } from './pipeline/ports.ts';
import type { Store } from './store/store.ts';
import type { Pack } from '../models/pack.ts';

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };

/** Where the config says inference runs, with the TensorRT engine cache under the data folder unless it names one. */
export function deviceOptions(cfg: AgentConfig): Pick<PackDetectorOptions, 'device' | 'deviceId' | 'tensorrt' | 'cpuMemArena'> {
  const m = cfg.model;
  const trt = m.tensorrt;
  return {
    device: m.device, deviceId: m.deviceId, cpuMemArena: m.cpuMemArena,
    tensorrt: {
      fp16: trt.fp16,
      engineCacheDir: resolvePath(trt.engineCacheDir ?? join(cfg.agent.dataDir, 'tensorrt-cache')),
      ...(trt.workspaceMb ? { workspaceBytes: trt.workspaceMb * 1024 * 1024 } : {}),
    },
  };
}

/** `pack`: the config's pack when the caller already loaded and verified it (its ONNX files are hashed once). */
export function realParts(pack?: Pack): DaemonParts {
  return {
    detectorFactory: (cfg: AgentConfig) =>
      packDetectorFactory({ packDir: resolvePath(cfg.model.pack), ...(pack ? { pack } : {}), ...deviceOptions(cfg), ...(cfg.model.threads ? { threads: cfg.model.threads } : {}), warn: (m) => process.stderr.write(`${m}\n`) }),
    sourceFactory: (c) => createFrameSource(c),
    sinkFactory: (cfg: AgentConfig, store: Store, log: Logger, stats: (stationId: string) => Record<string, unknown>, hooks: SinkHooks): VerdictSink[] => {
      const sinks: VerdictSink[] = [];
      const stations = cfg.cameras.map((c) => c.station);
      if (cfg.opcua?.enabled && stations.length) {
        const { enabled: _on, ...rest } = cfg.opcua;
        const opcua = opcuaConfigSchema.parse({ ...rest, dataDir: resolvePath(cfg.agent.dataDir), stations });
        sinks.push(lazyOpcUaSink(opcua, store, log, hooks));
      }
      if (cfg.mqtt) {
        const mqtt = { ...cfg.mqtt, site: cfg.mqtt.site ?? cfg.agent.site, line: cfg.mqtt.line ?? cfg.agent.line, agentId: cfg.mqtt.agentId ?? cfg.agent.id };
        const outbox = createOutbox(store.db, mqtt.outbox, (kind, count, why) => log.error({ kind, count, why }, 'MQTT outbox dropped messages'));
        sinks.push(createMqttSink(mqtt, {
          outbox, agentVersion: version, metrics: stats, log: { info: (m) => log.info(m), warn: (m) => log.warn(m) },
          stations: () => hooks.stations(),
        }));
      }
      return sinks;
    },
  };
}

/** node-opcua takes seconds to load; the server module is imported when the sink starts (in the background). */
function lazyOpcUaSink(config: OpcUaConfig, store: Store, log: Logger, hooks: SinkHooks): VerdictSink {
  let real: OpcUaSink | null = null;
  const alarmListeners: ((alarm: Alarm) => void)[] = [];
  return {
    name: 'opcua',
    async start(commands) {
      const [{ createOpcUaSink }, { createSqliteStationStore }] = await Promise.all([import('../adapters/opcua/sink.ts'), import('../adapters/opcua/state-store.ts')]);
      real = createOpcUaSink(config, {
        store: createSqliteStationStore(store.db), agentVersion: version, log: { info: (m) => log.info(m), warn: (m) => log.warn(m) },
        onAlarm: (a) => alarmListeners.forEach((listener) => listener(a)), lookupResult: (stationId, resultId) => hooks.resultById(stationId, resultId),
        machineVision: hooks.machineVision,
        // /metrics is readable without a token: one reason for both, or it would tell which user names exist.
        onLoginFailure: () => hooks.loginFailure('bad_credentials'),
      });
      await real.start(commands);
    },
    stop: async () => real?.stop(),
    publishVerdict: (v) => real?.publishVerdict(v),
    publishStatus: (s) => real?.publishStatus(s),
    publishAlarm: (a) => real?.publishAlarm(a),
    health: () => real?.health() ?? { ok: false, detail: 'starting' },
    capabilities: {
      localResets: { resetCounters: (id) => real?.resetCounters(id), resetError: (id) => real?.resetError(id) },
      alarms: { onAlarm: (listener) => void alarmListeners.push(listener) },
      endpointUrl: () => real?.endpointUrl() ?? `opc.tcp://localhost:${config.port}`,
      stationsFixedAtStart: true,
    },
  };
}
