// The northbound interface's constants in one place: codes, names, limits and MQTT topic segments of
// shared/PROTOCOLS.md (plus the few the project decided itself, in adapters/README.md and README.md). adapters/types.ts
// derives its types from these; test/protocol.test.ts checks them against the documents' text.

/** PROTOCOLS.md "General": our OPC UA namespace; clients resolve its index by this URI. */
export const NAMESPACE_URI = 'urn:adaptclip-edge:v1';

/** PROTOCOLS.md table row `Result.Verdict` (= Machinery ResultEvaluation); also the MQTT verdict's `verdictCode`. */
export const VERDICT = { Undefined: 0, OK: 1, NOK: 2, NotDecidable: 3 } as const;
export type VerdictName = keyof typeof VERDICT;
export type VerdictCode = (typeof VERDICT)[VerdictName];

const VERDICT_NAME_OF_CODE = Object.fromEntries(Object.entries(VERDICT).map(([name, code]) => [code, name])) as Record<VerdictCode, VerdictName>;
/** PROTOCOLS.md "MQTT" `P/<station>/verdict`: the `verdict` name published next to `verdictCode`. */
export const verdictNameOf = (code: VerdictCode): VerdictName => VERDICT_NAME_OF_CODE[code];

/** README.md "Pipeline guarantees" (shared/RELIABILITY.md "Per-frame accounting"): every frame gets exactly one. */
export const OUTCOME = { pass: 'PASS', fail: 'FAIL', noVerdict: 'NO_VERDICT' } as const;
export const OUTCOMES = [OUTCOME.pass, OUTCOME.fail, OUTCOME.noVerdict] as const;
export type Outcome = (typeof OUTCOMES)[number];

/** README.md "Pipeline guarantees": why a frame got NO_VERDICT (MQTT verdict `reason`). */
export const NO_VERDICT_REASONS = ['dropped', 'timeout', 'no_reference', 'camera_error', 'model_error', 'interrupted'] as const;
export type NoVerdictReason = (typeof NO_VERDICT_REASONS)[number];

/** PROTOCOLS.md `Result.Verdict`/`Result.Pass` and rule (4): PASS is OK, FAIL is NOK, no verdict is NotDecidable/Error. */
export const VERDICT_OF_OUTCOME = { PASS: VERDICT.OK, FAIL: VERDICT.NOK, NO_VERDICT: VERDICT.NotDecidable } as const satisfies Record<Outcome, VerdictCode>;
export const verdictCodeOf = <O extends Outcome>(outcome: O): (typeof VERDICT_OF_OUTCOME)[O] => VERDICT_OF_OUTCOME[outcome];

/** PROTOCOLS.md table row `Agent.StateNumber` (OPC 40100-1 numbers); MQTT status `state`/`stateNumber`. */
export const STATION_STATES = { Preoperational: 1, Halted: 2, Error: 3, Operational: 4 } as const;
export type StationStateName = keyof typeof STATION_STATES;
export type StationStateNumber = (typeof STATION_STATES)[StationStateName];

/** PROTOCOLS.md rows `Status.TriggerRejectCode` and "Methods" (Error 0 = OK, <0 reject); -4…-6: adapters/README.md "Codes".
 *  The same numbers go to `Status.ErrorCode` (<0 app-specific). */
export const METHOD_RESULT = {
  ok: 0,
  notReady: -1,
  busy: -2,
  resultBufferFull: -3,
  unknownResultId: -4,
  resultSeqNotPresented: -5,
  triggerTimeout: -6,
} as const;

/** PROTOCOLS.md table row `Recipe.Status`; SelectRecipe's Error and the recipe commands answer with the same numbers. */
export const RECIPE_STATUS = { ok: 0, preparing: 1, unknownRecipe: -1, noReferenceShots: -2, modelError: -3 } as const;

/** adapters/README.md "MQTT commands" Codes: request problems, below the PROTOCOLS.md codes. */
export const COMMAND_REJECT = { badRequest: -10, unknownCommand: -11, unknownStation: -12, retained: -13, failed: -14 } as const;

/** PROTOCOLS.md "Events/alarms": one OffNormal alarm per condition, name → severity (1–1000). The spec fixes
 *  CameraDisconnected 700 (MQTT alarm example) and BrokerOffline as the low one; the rest are ours. */
export const ALARMS = {
  CameraDisconnected: 700,
  ModelNotLoaded: 800,
  GpuError: 700,
  ResultBufferFull: 600,
  BrokerOffline: 200,
  PlcHeartbeatLost: 700,
} as const;
export type AlarmName = keyof typeof ALARMS;
export const ALARM_NAMES = Object.keys(ALARMS) as AlarmName[];

/** adapters/README.md "MQTT" Outbox: MQTT-only alarm (not in the spec's list) while the outbox is full. */
export const OUTBOX_FULL_ALARM = { name: 'OutboxFull', severity: 500 } as const;

/** PROTOCOLS.md "Events/alarms" `VisionResultEventType`: Severity 700 for NOK, 100 for OK (and any other verdict). */
export const RESULT_EVENT_SEVERITY = { NOK: 700, OK: 100 } as const;

/** PROTOCOLS.md table row `Control.PartId` (String ≤64); the same limit for every trigger's partId. */
export const PART_ID_MAX_LENGTH = 64;

/** PROTOCOLS.md table row `Images.LastMaskPng` (≤1 MiB); a larger mask is offered by MaskUri only. */
export const LAST_MASK_PNG_MAX_BYTES = 1024 * 1024;

/** PROTOCOLS.md table row `Status.PendingResults` (max 8) and rule (3): un-acked results the OPC UA buffer holds. */
export const RESULT_BUFFER_SIZE = 8;

/** PROTOCOLS.md "Server limits". */
export const OPCUA_SERVER_LIMITS = {
  maxSessions: 10,
  maxSubscriptionsPerSession: 5,
  maxMonitoredItemsQueueSize: 100,
  maxMonitoredItems: 2000,
  maxByteStringLength: 2 * 1024 * 1024,
} as const;

/** PROTOCOLS.md "MQTT" topic table (relative to P; station topics under `<station>/`); `cmd`/`reply`: adapters/README.md "MQTT commands". */
export const MQTT_TOPIC = {
  online: 'online',
  status: 'status',
  verdict: 'verdict',
  mask: 'mask',
  alarm: 'alarm',
  metrics: 'metrics',
  command: 'cmd',
  reply: 'reply',
} as const;

/** PROTOCOLS.md "MQTT" payload `schema` fields; metrics and reply: adapters/README.md. */
export const MQTT_SCHEMA = {
  online: 'adaptclip.online/1',
  status: 'adaptclip.status/1',
  verdict: 'adaptclip.verdict/1',
  alarm: 'adaptclip.alarm/1',
  metrics: 'adaptclip.metrics/1',
  reply: 'adaptclip.reply/1',
} as const;

/** What the browser UI (agent/http/ui/app.js, plain JS) needs of these, as plain JSON for `GET /api/info`'s `protocol`. */
export function protocolForUi() {
  return {
    outcomes: { ...OUTCOME },
    noVerdictReasons: [...NO_VERDICT_REASONS],
    verdicts: { ...VERDICT },
    partIdMaxLength: PART_ID_MAX_LENGTH,
  };
}
export type UiProtocol = ReturnType<typeof protocolForUi>;
