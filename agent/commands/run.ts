// `adaptclip-edge run --config FILE [--validate-config]`: the daemon.
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { loadPack, type Pack } from '../../models/pack.ts';
import { briefProblem, ConfigError, loadConfig, resolvePath, safeSettings } from '../config/load.ts';
import { Daemon, type DaemonParts } from '../daemon.ts';
import { realParts } from '../parts.ts';
import { createSystemdNotifier, startWatchdog } from '../systemd.ts';

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

export function registerRunCommands(program: Command, parts: (pack?: Pack) => DaemonParts = realParts): void {
  program
    .command('run')
    .description('run the agent daemon: cameras, inference, store, OPC UA/MQTT, web UI')
    .requiredOption('-c, --config <file>', 'YAML config (see deploy/demo.yaml)')
    .option('--validate-config', 'only check the config: print problems, exit non-zero when invalid')
    .action(async (opts: { config: string; validateConfig?: boolean }) => {
      let loaded: ReturnType<typeof loadConfig> | null = null;
      let problems: string[] = [];
      let raw: unknown;
      try {
        loaded = loadConfig(opts.config);
      } catch (err) {
        if (!(err instanceof ConfigError)) {
          console.error(`adaptclip-edge: ${(err as Error).message}`);
          process.exitCode = 2;
          if (opts.validateConfig) return;
          problems = [(err as Error).message];
        } else {
          // stderr gets the values (secrets as ***); /healthz and /api/info get the problems without any value.
          problems = err.problems.map(briefProblem);
          raw = err.raw;
          console.error(`adaptclip-edge: invalid config ${opts.config}:\n${err.message}`);
        }
      }
      // The pack is part of what the config points to: checked here (manifest, files, sha256s), reported in one line.
      const packDir = loaded?.config.model.pack ?? rawPack(raw);
      const checked = packDir === undefined ? undefined : await loadPack(resolvePath(packDir)).then((pack) => ({ pack }), (err: Error) => ({ problem: err.message }));
      const packProblem = checked && 'problem' in checked ? checked.problem : undefined;
      if (packProblem !== undefined) console.error(`adaptclip-edge: ${opts.config}: model.pack: ${packProblem}`);
      if (opts.validateConfig) {
        if (loaded && packProblem === undefined) console.log(`config ${opts.config} is valid: ${loaded.config.cameras.length} camera(s), pack ${loaded.config.model.pack}`);
        process.exitCode = loaded && packProblem === undefined ? 0 : 2;
        return;
      }
      const daemon = new Daemon({
        configFile: opts.config, config: loaded?.config ?? null, configProblems: problems, ...(loaded && packProblem !== undefined ? { packProblem } : {}),
        safe: safeSettings(raw ?? readRaw(opts.config)), parts: parts(checked && 'pack' in checked ? checked.pack : undefined), version,
      });
      // systemd (Type=notify): READY after start, watchdog pings only while inference lives, STOPPING on signal.
      const systemd = createSystemdNotifier({ onError: (err) => daemon.log.warn({ err: err.message }, 'sd_notify failed') });
      const shutdown = (signal: string) => {
        const limit = loaded?.config.agent.shutdownTimeoutMs ?? 8000;
        daemon.log.info({ signal }, 'stopping');
        void systemd.stopping(`stopping on ${signal}`);
        const hard = setTimeout(() => {
          daemon.log.error({ limitMs: limit }, 'shutdown took too long; exiting anyway');
          process.exit(1);
        }, limit).unref();
        daemon.stop().then(
          () => {
            clearTimeout(hard);
            process.exit(0);
          },
          (err: Error) => {
            daemon.log.error({ err: err.message }, 'shutdown failed');
            process.exit(1);
          },
        );
      };
      process.on('SIGHUP', () => {
        // Hot reload: re-read the file; only changed cameras restart. An invalid file changes nothing.
        let next;
        try {
          next = loadConfig(opts.config).config;
        } catch (err) {
          daemon.log.error({ problems: (err as Error).message.split('\n') }, 'reload refused: the config is invalid; the running config stays');
          return;
        }
        daemon.reload(next).catch((err: Error) => daemon.log.error({ err: err.message }, 'reload failed'));
      });
      process.once('SIGTERM', () => shutdown('SIGTERM'));
      process.once('SIGINT', () => shutdown('SIGINT'));
      const where = await daemon.start();
      // Safe mode has no pipeline by design; a restart would not fix the config, so it keeps the watchdog fed.
      startWatchdog(systemd, () => daemon.safeMode || (daemon.worker !== null && daemon.worker.state !== 'failed' && daemon.worker.state !== 'stopped'));
      const why = loaded ? 'invalid model pack' : 'invalid config';
      void systemd.ready(daemon.safeMode ? `SAFE MODE: ${why}` : `running, ${where.stations.length} station(s)`);
      const cfg = loaded?.config;
      const lines = [
        `adaptclip-edge ${version} ${daemon.safeMode ? `in SAFE MODE (${why}: API up, no cameras; see /healthz)` : 'running'}`,
        `  web UI      ${where.url}/`,
        `  REST API    ${where.url}/openapi.json   health ${where.url}/healthz   metrics ${where.url}/metrics`,
        `  OPC UA      ${opcuaEndpoint(daemon) ?? 'off'}${cfg?.opcua?.demo ? '   (demo: anonymous sessions allowed, SignAndEncrypt)' : ''}`,
        `  MQTT        ${cfg?.mqtt ? cfg.mqtt.url : 'off (no broker configured)'}`,
        `  data        ${where.dataDir}`,
        `  stations    ${where.stations.join(', ') || 'none'}${daemon.token ? '' : '   (writes disabled: no http.token)'}`,
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
    });
}

/** The OPC UA endpoint, from the sink that says where clients connect (only the OPC UA server does). */
function opcuaEndpoint(daemon: Daemon): string | undefined {
  return daemon.northbound.endpointUrls()[0];
}

function readRaw(file: string): unknown {
  try {
    return parse(readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

/** model.pack of an invalid config, when it is a usable string (so --validate-config reports the pack too). */
function rawPack(raw: unknown): string | undefined {
  const pack = (raw as { model?: { pack?: unknown } } | undefined)?.model?.pack;
  return typeof pack === 'string' && pack.length > 0 ? pack : undefined;
}
