// The real parts the daemon runs with: models/ runtime, drivers/ cameras, adapters/ sinks.
import type { Logger } from 'pino';
import { createFrameSource } from '../drivers/index.ts';
import type { AgentConfig } from './config/schema.ts';
import { resolvePath } from './config/load.ts';
import type { DaemonParts } from './daemon.ts';
import { packDetectorFactory } from './pipeline/detector.ts';
import type { VerdictSink } from './pipeline/ports.ts';
import type { Store } from './store/store.ts';

export function realParts(): DaemonParts {
  return {
    detectorFactory: (cfg: AgentConfig) =>
      packDetectorFactory({ packDir: resolvePath(cfg.model.pack), device: cfg.model.device, ...(cfg.model.threads ? { threads: cfg.model.threads } : {}), warn: (m) => process.stderr.write(`${m}\n`) }),
    sourceFactory: (c) => createFrameSource(c),
    sinkFactory: (cfg: AgentConfig, _store: Store, log: Logger): VerdictSink[] => {
      const sinks: VerdictSink[] = [];
      if (cfg.opcua?.enabled) log.warn('OPC UA is configured but the adapters/ OPC UA server is not part of this build yet');
      if (cfg.mqtt) log.warn('MQTT is configured but the adapters/ MQTT sink is not wired yet');
      return sinks;
    },
  };
}
