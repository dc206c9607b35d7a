// Public surface of the northbound adapters: what the daemon imports.
export type * from './types.ts';
export { mqttConfigSchema, outboxLimitsSchema, topicPrefix, type MqttConfig, type OutboxLimits } from './mqtt/config.ts';
export { createOutbox, type Outbox, type OutboxStats } from './mqtt/outbox.ts';
export { createMqttSink, type MqttSink, type MqttSinkDeps } from './mqtt/sink.ts';
export { opcuaConfigSchema, type OpcUaConfig } from './opcua/config.ts';
export { createOpcUaSink, NAMESPACE_URI, type OpcUaSink, type OpcUaSinkDeps } from './opcua/sink.ts';
export { createSqliteStationStore, type StationState, type StationStateStore } from './opcua/state-store.ts';
export { CODES as OPCUA_CODES } from './opcua/station.ts';
export { hashPassword } from './opcua/users.ts';
