// OPC UA server for the PLC (PROTOCOLS.md): SignAndEncrypt only, username/password users with roles, PKI under
// <dataDir>/pki (own self-signed certificate made on first start; unknown client certificates go to rejected/).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  DataType, MessageSecurityMode, nodesets, OPCUACertificateManager, OPCUAServer, SecurityPolicy, type ServerSession, type UAEventType, type UAObject,
  type UAVariable,
} from 'node-opcua';
import { NAMESPACE_URI, OPCUA_SERVER_LIMITS, STATION_STATES } from '../protocol.ts';
import type { Alarm, MachineVisionPort, SinkCommands, StationStatus, VerdictRecord, VerdictSink } from '../types.ts';
import type { OpcUaConfig } from './config.ts';
import { MvTypes } from './machine-vision/results.ts';
import { MV_NAMESPACE_URI, VisionSystem } from './machine-vision/vision-system.ts';
import type { StationStateStore } from './state-store.ts';
import { type ResultLookup, StationNode } from './station.ts';
import { createUserManager, type LoginFailure } from './users.ts';

export { NAMESPACE_URI };

export interface OpcUaSinkDeps {
  store: StationStateStore;
  agentVersion: string;
  log?: { info(msg: string): void; warn(msg: string): void };
  /** Alarms the adapter raises itself (ResultBufferFull, PlcHeartbeatLost…), e.g. to forward them to MQTT. */
  onAlarm?: (alarm: Alarm) => void;
  /** GetResultById beyond the in-memory ring (`resultHistory`), e.g. the daemon's store; the ring stays the fallback. */
  lookupResult?: ResultLookup;
  /** Every failed login (logged here, rate-limited), e.g. for the daemon's metrics. */
  onLoginFailure?: (f: LoginFailure) => void;
  /** Failed-login log lines per user/client and window (default 5 per 60 s), then one summary line. */
  loginLog?: { perWindow: number; windowMs: number };
  /** Recipes, trigger modes and stored results for the OPC 40100-1 view (`machineVision: true`); without it the
   *  view lists no recipes and finds only this process's results. */
  machineVision?: MachineVisionPort;
}

export interface OpcUaSink extends VerdictSink {
  endpointUrl(): string;
  pkiDir: string;
  /** A reset that came another way (MQTT command): Counters.* to 0 / latched error cleared on this station. */
  resetCounters(stationId: string): void;
  resetError(stationId: string): void;
}

const POLICY: Record<OpcUaConfig['securityPolicies'][number], SecurityPolicy> = {
  Basic256Sha256: SecurityPolicy.Basic256Sha256,
  Aes128_Sha256_RsaOaep: SecurityPolicy.Aes128_Sha256_RsaOaep,
  Aes256_Sha256_RsaPss: SecurityPolicy.Aes256_Sha256_RsaPss,
};
// The agent shows its worst station's state, worst first.
const STATE_ORDER: number[] = [STATION_STATES.Error, STATION_STATES.Preoperational, STATION_STATES.Halted, STATION_STATES.Operational];

export function createOpcUaSink(config: OpcUaConfig, deps: OpcUaSinkDeps): OpcUaSink {
  const log = deps.log ?? { info: () => {}, warn: (m: string) => process.emitWarning(m) };
  const pkiDir = join(config.dataDir, 'pki');
  let server: OPCUAServer | null = null;
  let commands: SinkCommands | null = null;
  const stations = new Map<string, StationNode>();
  const visionSystems: VisionSystem[] = [];
  const statusByStation = new Map<string, StationStatus>();
  let agentVars: { heartbeat: UAVariable; state: UAVariable; model: UAVariable } | null = null;
  let heartbeatTimer: NodeJS.Timeout | null = null;
  let heartbeat = 0;
  let closeUsers: (() => void) | null = null;

  const station = (id: string) => {
    const s = stations.get(id);
    if (!s) log.warn(`opcua: station ${id} is not in opcua.stations (${[...stations.keys()].join(', ')}); add it to the config`);
    return s;
  };

  const alarmListeners: ((alarm: Alarm) => void)[] = [];
  const raised = (alarm: Alarm) => {
    deps.onAlarm?.(alarm);
    for (const listener of alarmListeners) listener(alarm);
  };
  return {
    name: 'opcua',
    pkiDir,
    endpointUrl: () => server?.getEndpointUrl() ?? '',
    async start(cmds) {
      commands = cmds;
      mkdirSync(pkiDir, { recursive: true });
      const certificateManager = new OPCUACertificateManager({ rootFolder: pkiDir, automaticallyAcceptUnknownCertificate: false });
      await certificateManager.initialize();
      const users = createUserManager(config.users, config.demo, {
        throttle: config.loginThrottle, log, onFailure: deps.onLoginFailure, logPerWindow: deps.loginLog?.perWindow, logWindowMs: deps.loginLog?.windowMs,
      });
      closeUsers = () => users.close();
      server = new OPCUAServer({
        port: config.port,
        hostname: config.hostname,
        // The Machine Vision nodeset loads with the standard one (node-opcua's own copy, nothing downloaded); it
        // takes ns=2, so ours is ns=3 then: clients resolve both by URI.
        ...(config.machineVision ? { nodeset_filename: [nodesets.standard, nodesets.machineVision] } : {}),
        ...(config.host ? { host: config.host } : {}),
        serverCertificateManager: certificateManager,
        certificateFile: join(pkiDir, 'own', 'certs', 'server_certificate.pem'),
        privateKeyFile: join(pkiDir, 'own', 'private', 'private_key.pem'),
        securityModes: [MessageSecurityMode.SignAndEncrypt],
        securityPolicies: config.securityPolicies.map((p) => POLICY[p]),
        allowAnonymous: config.demo,
        disableDiscovery: config.disableDiscovery,
        userManager: {
          // node-opcua calls this with the session as `this`; its channel knows the client's address.
          isValidUserAsync(this: ServerSession, u: string, p: string, done: (err: Error | null, ok?: boolean) => void) {
            const ch = this.channel;
            // IPv4 clients reach the dual-stack listener as ::ffff:a.b.c.d: shown and throttled as a.b.c.d.
            const address = (ch?.remoteAddress ?? '').replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');
            users.login(u, p, { address, port: ch?.remotePort }).then((ok) => done(null, ok), (err: Error) => done(err));
          },
          getUserRoles: (u: string) => users.getUserRoles(u),
        },
        serverCapabilities: {
          maxSessions: config.maxSessions,
          maxSubscriptionsPerSession: OPCUA_SERVER_LIMITS.maxSubscriptionsPerSession,
          maxMonitoredItemsQueueSize: OPCUA_SERVER_LIMITS.maxMonitoredItemsQueueSize,
          maxMonitoredItems: OPCUA_SERVER_LIMITS.maxMonitoredItems,
          maxByteStringLength: OPCUA_SERVER_LIMITS.maxByteStringLength,
          maxStringLength: 64 * 1024,
        },
        maxConnectionsPerEndpoint: config.maxSessions,
        buildInfo: { productName: 'adaptclip-edge', softwareVersion: deps.agentVersion, manufacturerName: 'adaptclip-edge' },
        serverInfo: { applicationName: { text: 'adaptclip-edge' } },
      });
      await server.initialize();
      const addressSpace = server.engine.addressSpace!;
      const ns = addressSpace.registerNamespace(NAMESPACE_URI);
      const agent = ns.addObject({ organizedBy: addressSpace.rootFolder.objects, browseName: 'VisionAgent', nodeId: 's=Agent', eventNotifier: 1 });
      addressSpace.rootFolder.objects.server.addReference({ referenceType: 'HasNotifier', nodeId: agent.nodeId });
      const ro = (name: string, dataType: DataType, value: unknown) => {
        const v = ns.addVariable({ componentOf: agent, browseName: name, nodeId: `s=Agent.${name}`, dataType, accessLevel: 'CurrentRead', userAccessLevel: 'CurrentRead', minimumSamplingInterval: 0 });
        v.setValueFromSource({ dataType, value });
        return v;
      };
      agentVars = {
        heartbeat: ro('Heartbeat', DataType.UInt32, 0),
        state: ro('StateNumber', DataType.UInt32, STATION_STATES.Preoperational),
        model: ro('ModelVersion', DataType.String, ''),
      };
      ro('SoftwareVersion', DataType.String, deps.agentVersion);
      const stationsFolder = ns.addObject({ componentOf: agent, browseName: 'Stations', nodeId: 's=Agent.Stations', typeDefinition: 'FolderType' });
      const resultEventType = ns.addEventType({ browseName: 'VisionResultEventType', subtypeOf: 'BaseEventType', isAbstract: false }) as UAEventType;
      for (const [name, dataType] of [
        ['ResultId', DataType.String], ['ResultSeq', DataType.UInt32], ['StationId', DataType.String], ['PartId', DataType.String],
        ['Verdict', DataType.Int32], ['AnomalyScore', DataType.Float], ['MaskUri', DataType.String],
      ] as const) {
        ns.addVariable({ propertyOf: resultEventType, browseName: name, dataType, modellingRule: 'Mandatory' });
      }
      for (const id of config.stations) {
        stations.set(id, new StationNode(id, {
          ns, parent: stationsFolder, agent: agent as UAObject, resultEventType, config, store: deps.store,
          commands: () => commands, onAlarm: raised, lookupResult: deps.lookupResult, log,
        }));
      }
      if (config.machineVision) {
        const mvIndex = addressSpace.getNamespaceIndex(MV_NAMESPACE_URI);
        if (mvIndex < 0) throw new Error(`opcua: the Machine Vision nodeset (${MV_NAMESPACE_URI}) did not load; set opcua.machineVision: false to run without it`);
        const types = new MvTypes(addressSpace, mvIndex, ns.index);
        for (const [id, node] of stations) {
          visionSystems.push(new VisionSystem(id, { addressSpace, ns, types, station: node, config, port: deps.machineVision, log }));
        }
      }
      await server.start().catch((err: Error) => {
        throw new Error(`opcua: cannot listen on ${config.host ?? 'all interfaces'} port ${config.port}: ${err.message}${config.host ? ' (opcua.host must be an address of this machine)' : ''}`);
      });
      heartbeatTimer = setInterval(() => {
        heartbeat = (heartbeat + 1) >>> 0;
        agentVars?.heartbeat.setValueFromSource({ dataType: DataType.UInt32, value: heartbeat });
      }, config.heartbeatIntervalMs);
      heartbeatTimer.unref();
      // The index is said once at start: a client configured with a fixed index (not by URI) can be checked against it.
      const view = config.machineVision ? 'Machine Vision view on' : 'Machine Vision view off';
      log.info(`opcua: listening on ${server.getEndpointUrl()} (namespace ${NAMESPACE_URI} is ns=${ns.index}; ${view}; PKI ${pkiDir})`);
    },
    async stop() {
      if (heartbeatTimer) clearInterval(heartbeatTimer);
      for (const s of stations.values()) s.dispose();
      for (const v of visionSystems.splice(0)) v.dispose();
      const srv = server;
      server = null;
      if (srv) await srv.shutdown(0);
      closeUsers?.();
    },
    publishVerdict(v: VerdictRecord) {
      station(v.stationId)?.publishVerdict(v);
    },
    publishStatus(s: StationStatus) {
      statusByStation.set(s.stationId, s);
      station(s.stationId)?.publishStatus(s);
      const worst = [...statusByStation.values()].map((x) => x.stateNumber).sort((a, b) => STATE_ORDER.indexOf(a) - STATE_ORDER.indexOf(b))[0] ?? STATION_STATES.Preoperational;
      agentVars?.state.setValueFromSource({ dataType: DataType.UInt32, value: worst });
      agentVars?.model.setValueFromSource({ dataType: DataType.String, value: s.modelVersion });
    },
    publishAlarm(a: Alarm) {
      station(a.stationId)?.setAlarm(a.alarm, a.active, a.text, false);
    },
    resetCounters(stationId: string) {
      station(stationId)?.zeroCounters();
    },
    resetError(stationId: string) {
      station(stationId)?.clearLatchedError();
    },
    capabilities: {
      localResets: { resetCounters: (id) => station(id)?.zeroCounters(), resetError: (id) => station(id)?.clearLatchedError() },
      alarms: { onAlarm: (listener) => void alarmListeners.push(listener) },
      endpointUrl: () => server?.getEndpointUrl() ?? '',
      stationsFixedAtStart: true,
    },
    health() {
      const ok = !!server && server.engine.serverStatus !== undefined;
      return { ok, detail: ok ? `listening on ${server!.getEndpointUrl()}, ${server!.currentSessionCount} session(s)` : 'not started' };
    },
  };
}
