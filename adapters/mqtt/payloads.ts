// JSON payloads of PROTOCOLS.md "MQTT". Topics are relative to the prefix P; the publisher prepends it.
import { MQTT_SCHEMA, MQTT_TOPIC, verdictNameOf } from '../protocol.ts';
import type { Alarm, StationStatus, VerdictRecord } from '../types.ts';

export const onlineTopic = MQTT_TOPIC.online;
export const verdictTopic = (stationId: string) => `${stationId}/${MQTT_TOPIC.verdict}`;
export const maskTopic = (stationId: string, resultId: string) => `${stationId}/${MQTT_TOPIC.mask}/${resultId}`;
export const statusTopic = (stationId: string) => `${stationId}/${MQTT_TOPIC.status}`;
export const alarmTopic = (stationId: string) => `${stationId}/${MQTT_TOPIC.alarm}`;
export const metricsTopic = (stationId: string) => `${stationId}/${MQTT_TOPIC.metrics}`;
/** `<station>/cmd/<name>`; with name '+' the subscription filter's tail. */
export const commandTopic = (stationId: string, name: string) => `${stationId}/${MQTT_TOPIC.command}/${name}`;
export const replyTopic = (stationId: string, name: string) => `${commandTopic(stationId, name)}/${MQTT_TOPIC.reply}`;

/** Verdict payload; `mask.topic` holds the topic relative to P and `replayed` is set when it is sent. */
export function verdictPayload(v: VerdictRecord) {
  return {
    schema: MQTT_SCHEMA.verdict,
    resultId: v.resultId,
    resultSeq: v.resultSeq,
    stationId: v.stationId,
    cameraId: v.cameraId,
    partId: v.partId,
    triggerSeq: v.triggerSeq,
    recipeId: v.recipeId,
    recipeName: v.recipeName,
    modelVersion: v.modelVersion,
    referenceVersion: v.referenceVersion,
    verdict: verdictNameOf(v.verdictCode),
    verdictCode: v.verdictCode,
    outcome: v.outcome,
    reason: v.noVerdictReason ?? null,
    mode: v.mode,
    shots: v.shots,
    anomalyScore: v.anomalyScore,
    threshold: v.threshold,
    defects: { count: v.defects.count, areaPx: v.defects.areaPx, areaPct: v.defects.areaPct, bbox: v.defects.bbox, boxes: v.defects.boxes },
    mask: v.mask
      ? { topic: maskTopic(v.stationId, v.resultId), uri: v.mask.uri, width: v.mask.width, height: v.mask.height, sha256: v.mask.sha256 }
      : null,
    timing: v.timing,
    replayed: false,
  };
}
export type VerdictPayload = ReturnType<typeof verdictPayload>;

export function statusPayload(s: StationStatus, ts = new Date()) {
  return {
    schema: MQTT_SCHEMA.status,
    state: s.state,
    stateNumber: s.stateNumber,
    ready: s.ready,
    busy: s.busy,
    cameraConnected: s.cameraConnected,
    recipeId: s.recipeId,
    recipeName: s.recipeName,
    referenceImageCount: s.referenceImageCount,
    modelVersion: s.modelVersion,
    pendingResults: s.pendingResults,
    errorCode: s.errorCode,
    errorText: s.errorText,
    ts: ts.toISOString(),
  };
}

export function alarmPayload(a: Alarm, ts = new Date()) {
  return { schema: MQTT_SCHEMA.alarm, alarm: a.alarm, active: a.active, severity: a.severity, ts: ts.toISOString(), text: a.text };
}

export function onlinePayload(online: boolean, agentVersion: string, ts = new Date()) {
  return { schema: MQTT_SCHEMA.online, online, ts: ts.toISOString(), agentVersion };
}
