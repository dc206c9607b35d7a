// JSON payloads of PROTOCOLS.md "MQTT". Topics are relative to the prefix P; the publisher prepends it.
import type { Alarm, StationStatus, VerdictRecord } from '../types.ts';

export const VERDICT_NAMES = ['Undefined', 'OK', 'NOK', 'NotDecidable'] as const;

export const verdictTopic = (stationId: string) => `${stationId}/verdict`;
export const maskTopic = (stationId: string, resultId: string) => `${stationId}/mask/${resultId}`;
export const statusTopic = (stationId: string) => `${stationId}/status`;
export const alarmTopic = (stationId: string) => `${stationId}/alarm`;
export const metricsTopic = (stationId: string) => `${stationId}/metrics`;

/** Verdict payload; `mask.topic` holds the topic relative to P and `replayed` is set when it is sent. */
export function verdictPayload(v: VerdictRecord) {
  return {
    schema: 'adaptclip.verdict/1',
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
    verdict: VERDICT_NAMES[v.verdictCode],
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
    schema: 'adaptclip.status/1',
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
  return { schema: 'adaptclip.alarm/1', alarm: a.alarm, active: a.active, severity: a.severity, ts: ts.toISOString(), text: a.text };
}

export function onlinePayload(online: boolean, agentVersion: string, ts = new Date()) {
  return { schema: 'adaptclip.online/1', online, ts: ts.toISOString(), agentVersion };
}
