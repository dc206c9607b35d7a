// One station's OPC UA face (PROTOCOLS.md): its Status/Control/Result/Recipe/Counters/Images nodes, methods,
// alarms and the handshake rules (1)–(5). Read-only values change through setValueFromSource so subscribers see
// every change; values the PLC writes are bound setters that validate first and then drive the handshake.
import {
  ConditionInfo, DataType, type ISessionContext, makeRoles, type Namespace, PermissionType, StatusCodes, type StatusCode, type UAEventType,
  type UAObject, type UAVariable, Variant, type VariantOptions, WellKnownRoles,
} from 'node-opcua';
import { ulid } from 'ulid';
import {
  ALARM_NAMES, ALARMS, LAST_MASK_PNG_MAX_BYTES, METHOD_RESULT, OUTCOME, PART_ID_MAX_LENGTH, RECIPE_STATUS, RESULT_EVENT_SEVERITY, STATION_STATES,
  type StationStateName, VERDICT, type VerdictCode, verdictCodeOf, verdictNameOf,
} from '../protocol.ts';
import type { Alarm, AlarmName, SinkCommands, StationStatus, VerdictRecord } from '../types.ts';
import type { OpcUaConfig } from './config.ts';
import { emptyStationState, type PresentedResult, type StationState, type StationStateStore } from './state-store.ts';

const INITIAL_STATE: StationStateName = 'Preoperational'; // until the daemon's first status

type Value = { dataType: DataType; value: unknown };

export interface StationDeps {
  ns: Namespace;
  parent: UAObject; // Stations folder
  agent: UAObject; // VisionAgent, the event notifier
  resultEventType: UAEventType;
  config: OpcUaConfig;
  store: StationStateStore;
  commands: () => SinkCommands | null;
  onAlarm?: (alarm: Alarm) => void;
  /** Results beyond this process's ring (older, or from before a restart), e.g. the daemon's store. */
  lookupResult?: ResultLookup;
  log: { warn(msg: string): void };
}

/** What GetResultById returns for a stored result of this station; undefined when there is none. */
export type ResultLookup = (stationId: string, resultId: string) => { verdict: number; anomalyScore: number; maskUri: string } | undefined;

/** Who follows the station beside the PLC (the Machine Vision view): every status refresh, every result. */
export interface StationObserver {
  changed(): void;
  /** `presented`: false for a result that came after its trigger timed out (the PLC is not shown it again). */
  result(v: VerdictRecord, presented: boolean): void;
  /** An accepted trigger the daemon then refused (no frame taken, so no result will come). */
  triggerFailed(triggerSeq: number, code: number): void;
}

export class StationNode {
  readonly object: UAObject;
  private observers: StationObserver[] = [];
  private state: StationState;
  private status: StationStatus | null = null;
  private vars = new Map<string, UAVariable>();
  private alarmInputs = new Map<AlarmName, UAVariable>();
  private alarmActive = new Map<AlarmName, boolean>();
  private alarmText = new Map<AlarmName, string>();
  private control = { partId: '', plcHeartbeat: 0, requestedRecipeId: 0 };
  private busy = false;
  private pendingTrigger: { triggerSeq: number; partId: string; timer: NodeJS.Timeout } | null = null;
  private timedOut = new Set<number>();
  private recipeChanging = false;
  private recipeStatus = 0;
  private latchedError: { code: number; text: string } | null = null;
  private history: PresentedResult[] = [];
  private lastMaskPng: Buffer = Buffer.alloc(0);
  private plcHeartbeatSeenAt = 0;
  private plcWatch: NodeJS.Timeout;

  constructor(readonly id: string, private deps: StationDeps) {
    const { ns, config } = deps;
    this.state = deps.store.load(id) ?? emptyStationState();
    this.object = ns.addObject({ organizedBy: deps.parent, browseName: id, nodeId: `s=${id}`, eventNotifier: 1 });
    deps.agent.addReference({ referenceType: 'HasNotifier', nodeId: this.object.nodeId });
    deps.agent.addReference({ referenceType: 'HasEventSource', nodeId: this.object.nodeId });
    const group = (name: string) => ns.addObject({ componentOf: this.object, browseName: name, nodeId: `s=${id}.${name}` });
    const groups = Object.fromEntries(['Status', 'Control', 'Result', 'Recipe', 'Counters', 'Images', 'Alarms'].map((g) => [g, group(g)]));

    const ro = (g: string, name: string, dataType: DataType, value: unknown) => {
      const v = ns.addVariable({ componentOf: groups[g]!, browseName: name, nodeId: `s=${id}.${g}.${name}`, dataType, accessLevel: 'CurrentRead', userAccessLevel: 'CurrentRead', minimumSamplingInterval: 0 });
      v.setValueFromSource({ dataType, value });
      this.vars.set(`${g}.${name}`, v);
      return v;
    };
    const writeRoles = [
      { roleId: WellKnownRoles.Operator, permissions: PermissionType.Browse | PermissionType.Read | PermissionType.Write },
      { roleId: WellKnownRoles.Observer, permissions: PermissionType.Browse | PermissionType.Read },
      { roleId: WellKnownRoles.AuthenticatedUser, permissions: PermissionType.Browse | PermissionType.Read },
      { roleId: WellKnownRoles.Anonymous, permissions: PermissionType.Browse | PermissionType.Read | (config.demo ? PermissionType.Write : 0) },
    ];
    const rw = (g: string, name: string, dataType: DataType, get: () => unknown, set: (value: unknown) => StatusCode) => {
      const v = ns.addVariable({
        componentOf: groups[g]!, browseName: name, nodeId: `s=${id}.${g}.${name}`, dataType,
        accessLevel: 'CurrentRead | CurrentWrite', userAccessLevel: 'CurrentRead | CurrentWrite', minimumSamplingInterval: 50,
        rolePermissions: writeRoles,
      });
      v.bindVariable({ get: () => new Variant({ dataType, value: get() }), set: (variant: Variant) => set(variant.value) }, true);
      this.vars.set(`${g}.${name}`, v);
    };
    const b = this.state.baselines;

    ro('Status', 'Ready', DataType.Boolean, false);
    ro('Status', 'Busy', DataType.Boolean, false);
    ro('Status', 'Error', DataType.Boolean, false);
    ro('Status', 'ErrorCode', DataType.Int32, 0);
    ro('Status', 'ErrorText', DataType.String, '');
    ro('Status', 'CameraConnected', DataType.Boolean, false);
    ro('Status', 'PendingResults', DataType.UInt16, 0);
    ro('Status', 'TriggerAckSeq', DataType.UInt32, b.triggerAckSeq);
    ro('Status', 'TriggerRejectCode', DataType.Int32, 0);
    ro('Status', 'State', DataType.String, INITIAL_STATE);
    ro('Status', 'StateNumber', DataType.UInt32, STATION_STATES[INITIAL_STATE]);

    rw('Control', 'TriggerSeq', DataType.UInt32, () => b.triggerSeq, (v) => this.onTriggerSeq(v as number));
    rw('Control', 'PartId', DataType.String, () => this.control.partId, (v) => {
      const s = (v as string | null) ?? '';
      if (s.length > PART_ID_MAX_LENGTH) return StatusCodes.BadOutOfRange;
      this.control.partId = s;
      return StatusCodes.Good;
    });
    rw('Control', 'ResultAckSeq', DataType.UInt32, () => b.resultAckSeq, (v) => { b.resultAckSeq = v as number; this.acknowledge(v as number); return StatusCodes.Good; });
    rw('Control', 'ResetErrorSeq', DataType.UInt32, () => b.resetErrorSeq, (v) => {
      if (v !== b.resetErrorSeq) { b.resetErrorSeq = v as number; this.persist(); void this.resetError(); }
      return StatusCodes.Good;
    });
    rw('Control', 'PlcHeartbeat', DataType.UInt32, () => this.control.plcHeartbeat, (v) => {
      if (v !== this.control.plcHeartbeat) { this.control.plcHeartbeat = v as number; this.plcHeartbeatSeenAt = Date.now(); this.setAlarm('PlcHeartbeatLost', false, ''); }
      return StatusCodes.Good;
    });

    for (const [name, type, value] of [
      ['ResultSeq', DataType.UInt32, 0], ['ResultId', DataType.String, ''], ['TriggerSeq', DataType.UInt32, 0], ['PartId', DataType.String, ''],
      ['Verdict', DataType.Int32, 0], ['Pass', DataType.Boolean, false], ['AnomalyScore', DataType.Float, 0], ['Threshold', DataType.Float, 0],
      ['DefectCount', DataType.UInt16, 0], ['DefectAreaPx', DataType.UInt32, 0], ['BBoxX', DataType.Int32, 0], ['BBoxY', DataType.Int32, 0],
      ['BBoxW', DataType.Int32, 0], ['BBoxH', DataType.Int32, 0], ['ProcessingTimeMs', DataType.Float, 0], ['AcquiredAt', DataType.DateTime, null],
      ['RecipeId', DataType.Int32, 0], ['MaskUri', DataType.String, ''],
    ] as const) ro('Result', name, type, value);

    const imgVar = ns.addVariable({ componentOf: groups.Images!, browseName: 'LastMaskPng', nodeId: `s=${id}.Images.LastMaskPng`, dataType: DataType.ByteString, accessLevel: 'CurrentRead', userAccessLevel: 'CurrentRead', minimumSamplingInterval: 1000 });
    imgVar.bindVariable({ get: () => new Variant({ dataType: DataType.ByteString, value: this.lastMaskPng }) }, true);

    rw('Recipe', 'RequestedRecipeId', DataType.Int32, () => this.control.requestedRecipeId, (v) => { this.control.requestedRecipeId = v as number; return StatusCodes.Good; });
    rw('Recipe', 'ChangeSeq', DataType.UInt32, () => b.changeSeq, (v) => {
      if (v !== b.changeSeq) { b.changeSeq = v as number; this.persist(); void this.changeRecipe(this.control.requestedRecipeId, v as number); }
      return StatusCodes.Good;
    });
    ro('Recipe', 'ChangeAckSeq', DataType.UInt32, b.changeAckSeq);
    ro('Recipe', 'Status', DataType.Int32, 0);
    ro('Recipe', 'ActiveRecipeId', DataType.Int32, 0);
    ro('Recipe', 'ActiveRecipeName', DataType.String, '');
    ro('Recipe', 'ReferenceImageCount', DataType.UInt16, 0);

    for (const c of ['Total', 'Ok', 'Nok', 'Error', 'MissedTriggers']) ro('Counters', c, DataType.UInt32, 0);

    // One OffNormalAlarm per condition; its input is a Boolean the PLC may also read directly.
    const normal = ns.addVariable({ componentOf: groups.Alarms!, browseName: 'NormalState', nodeId: `s=${id}.Alarms.NormalState`, dataType: DataType.Boolean, accessLevel: 'CurrentRead' });
    normal.setValueFromSource({ dataType: DataType.Boolean, value: false });
    for (const name of ALARM_NAMES) {
      const input = ro('Alarms', `${name}Active`, DataType.Boolean, false);
      this.alarmInputs.set(name, input);
      const alarm = ns.instantiateOffNormalAlarm({
        browseName: name, nodeId: `s=${id}.Alarms.${name}`, componentOf: groups.Alarms!, conditionSource: this.object,
        conditionName: name, inputNode: input, normalState: normal, optionals: ['ConfirmedState', 'Confirm'],
      });
      alarm.setEnabledState(true);
      // Our severity and text instead of node-opcua's generic 150 / "Condition is …".
      alarm.calculateConditionInfo = (_stateData, isActive) =>
        new ConditionInfo({
          message: isActive ? this.alarmText.get(name) || `${name} active` : 'Back to normal',
          severity: isActive ? ALARMS[name] : 0,
          quality: StatusCodes.Good,
          retain: true,
        });
    }

    this.addMethods();
    this.plcWatch = setInterval(() => {
      if (this.plcHeartbeatSeenAt && Date.now() - this.plcHeartbeatSeenAt > config.plcHeartbeatTimeoutMs) {
        this.setAlarm('PlcHeartbeatLost', true, `PLC heartbeat unchanged for more than ${config.plcHeartbeatTimeoutMs} ms`);
      }
    }, 250);
    this.plcWatch.unref();
    this.presentShown();
    this.refreshStatus();
  }

  dispose() {
    clearInterval(this.plcWatch);
    if (this.pendingTrigger) clearTimeout(this.pendingTrigger.timer);
  }

  // ---------- values ----------
  private set(key: string, dataType: DataType, value: unknown) {
    this.vars.get(key)!.setValueFromSource({ dataType, value } as VariantOptions);
  }
  private persist() {
    this.deps.store.save(this.id, this.state);
  }
  get pending(): number {
    return (this.state.shown && !this.state.shownAcked ? 1 : 0) + this.state.waiting.length;
  }
  private bufferFull(): boolean {
    return this.deps.config.ackMode === 'Buffer' && this.pending >= this.deps.config.resultBufferSize;
  }
  private ready(): boolean {
    return !!this.status?.ready && this.status.stateNumber === STATION_STATES.Operational && this.status.cameraConnected && !this.recipeChanging && this.recipeStatus === RECIPE_STATUS.ok && !this.bufferFull();
  }
  private refreshStatus() {
    const s = this.status;
    this.set('Status.Ready', DataType.Boolean, this.ready());
    this.set('Status.Busy', DataType.Boolean, this.busy || !!s?.busy);
    const err = this.latchedError ?? (s && s.errorCode !== 0 ? { code: s.errorCode, text: s.errorText } : null);
    this.set('Status.Error', DataType.Boolean, !!err);
    this.set('Status.ErrorCode', DataType.Int32, err?.code ?? 0);
    this.set('Status.ErrorText', DataType.String, err?.text ?? '');
    this.set('Status.CameraConnected', DataType.Boolean, !!s?.cameraConnected);
    this.set('Status.PendingResults', DataType.UInt16, this.pending);
    this.set('Status.State', DataType.String, s?.state ?? INITIAL_STATE);
    this.set('Status.StateNumber', DataType.UInt32, s?.stateNumber ?? STATION_STATES[INITIAL_STATE]);
    const c = this.state.counters;
    this.set('Counters.Total', DataType.UInt32, c.total);
    this.set('Counters.Ok', DataType.UInt32, c.ok);
    this.set('Counters.Nok', DataType.UInt32, c.nok);
    this.set('Counters.Error', DataType.UInt32, c.error);
    this.set('Counters.MissedTriggers', DataType.UInt32, c.missedTriggers);
    const full = this.bufferFull();
    if (full !== !!this.alarmActive.get('ResultBufferFull')) {
      this.setAlarm('ResultBufferFull', full, full ? `${this.pending} results wait for ResultAckSeq; triggers are rejected with ${METHOD_RESULT.resultBufferFull} until the PLC acknowledges` : '');
    }
    for (const o of this.observers) o.changed();
  }

  observe(o: StationObserver) {
    this.observers.push(o);
  }
  /** Status.Ready as the PLC reads it (rule 1 accepts a trigger only then). */
  get readyNow(): boolean {
    return this.ready();
  }
  get recipeChangingNow(): boolean {
    return this.recipeChanging;
  }
  /** Recipe.Status: 0 prepared, 1 preparing, <0 the last change failed (then the station is not Ready). */
  get recipeStatusNow(): number {
    return this.recipeStatus;
  }
  get lastStatus(): StationStatus | null {
    return this.status;
  }
  /** A trigger by method (Trigger, OPC 40100 StartSingleJob): numbered on from the last one seen, Control.TriggerSeq untouched. */
  triggerByMethod(partId: string): { triggerSeq: number; code: number } {
    const b = this.state.baselines;
    const seq = Math.max(b.triggerSeq, b.triggerAckSeq) + 1;
    const code = this.trigger(seq, partId);
    return { triggerSeq: code === METHOD_RESULT.ok ? seq : 0, code };
  }
  /** A recipe change by method (SelectRecipe, OPC 40100 PrepareRecipe): rule (5) without ChangeAckSeq. */
  selectRecipe(recipeId: number): Promise<number> {
    return this.changeRecipe(recipeId, null);
  }
  /** ResetError by method (also OPC 40100 Reset). */
  resetErrorByMethod(): Promise<number> {
    return this.resetError();
  }

  /** notify=false for alarms the daemon itself reported (no echo back to it). */
  setAlarm(name: AlarmName, active: boolean, text: string, notify = true) {
    if (!!this.alarmActive.get(name) === active) return;
    this.alarmActive.set(name, active);
    this.alarmText.set(name, text);
    this.alarmInputs.get(name)!.setValueFromSource({ dataType: DataType.Boolean, value: active });
    const severity = ALARMS[name];
    if (notify) this.deps.onAlarm?.({ stationId: this.id, alarm: name, active, severity, text });
  }

  /** Rule (2): every Result.* field in one synchronous tick, ResultSeq last. */
  private presentShown() {
    const r = this.state.shown;
    if (!r) return;
    this.set('Result.ResultId', DataType.String, r.resultId);
    this.set('Result.TriggerSeq', DataType.UInt32, r.triggerSeq);
    this.set('Result.PartId', DataType.String, r.partId);
    this.set('Result.Verdict', DataType.Int32, r.verdict);
    this.set('Result.Pass', DataType.Boolean, r.verdict === VERDICT.OK);
    this.set('Result.AnomalyScore', DataType.Float, r.anomalyScore);
    this.set('Result.Threshold', DataType.Float, r.threshold);
    this.set('Result.DefectCount', DataType.UInt16, r.defectCount);
    this.set('Result.DefectAreaPx', DataType.UInt32, r.defectAreaPx);
    this.set('Result.BBoxX', DataType.Int32, r.bbox[0]);
    this.set('Result.BBoxY', DataType.Int32, r.bbox[1]);
    this.set('Result.BBoxW', DataType.Int32, r.bbox[2]);
    this.set('Result.BBoxH', DataType.Int32, r.bbox[3]);
    this.set('Result.ProcessingTimeMs', DataType.Float, r.processingTimeMs);
    this.set('Result.AcquiredAt', DataType.DateTime, new Date(r.acquiredAt));
    this.set('Result.RecipeId', DataType.Int32, r.recipeId);
    this.set('Result.MaskUri', DataType.String, r.maskUri);
    this.set('Result.ResultSeq', DataType.UInt32, r.resultSeq);
  }

  // ---------- inputs from the daemon ----------
  publishStatus(s: StationStatus) {
    this.status = s;
    if (!this.recipeChanging) this.showRecipe();
    // The daemon reports CameraDisconnected itself (publishAlarm): shown here, not echoed back to it. Halted (the
    // agent stopping) takes the camera down on purpose: that is no alarm, the condition keeps its state.
    if (s.stateNumber !== STATION_STATES.Halted) this.setAlarm('CameraDisconnected', !s.cameraConnected, s.cameraConnected ? '' : 'camera disconnected', false);
    this.refreshStatus();
  }

  /** Active recipe as the daemon reports it; during a change the old one stays until the handshake ends. */
  private showRecipe() {
    const s = this.status;
    if (!s) return;
    this.set('Recipe.ActiveRecipeId', DataType.Int32, s.recipeId);
    this.set('Recipe.ActiveRecipeName', DataType.String, s.recipeName);
    this.set('Recipe.ReferenceImageCount', DataType.UInt16, s.referenceImageCount);
  }

  publishVerdict(v: VerdictRecord) {
    if (v.triggerSeq && this.timedOut.delete(v.triggerSeq)) {
      // The PLC already got Verdict 3 for this trigger: a late result must not answer it twice.
      this.deps.log.warn(`opcua ${this.id}: result ${v.resultId} for TriggerSeq ${v.triggerSeq} came after the trigger timeout; not presented`);
      for (const o of this.observers) o.result(v, false);
      return;
    }
    this.accept(v);
  }

  private accept(v: VerdictRecord) {
    const st = this.state;
    // ResultSeq is the daemon's resultSeq when it moves forward (normally always), else the next number.
    const resultSeq = v.resultSeq > st.lastResultSeq ? v.resultSeq : st.lastResultSeq + 1;
    st.lastResultSeq = resultSeq;
    const r: PresentedResult = {
      resultSeq, resultId: v.resultId, triggerSeq: v.triggerSeq, partId: v.partId, verdict: v.verdictCode, anomalyScore: v.anomalyScore,
      threshold: v.threshold, defectCount: v.defects.count, defectAreaPx: v.defects.areaPx, bbox: v.defects.bbox,
      processingTimeMs: v.timing.processingMs, acquiredAt: v.timing.acquiredAt, recipeId: v.recipeId, maskUri: v.mask?.uri ?? '',
    };
    st.counters.total += 1;
    if (v.verdictCode === VERDICT.OK) st.counters.ok += 1;
    else if (v.verdictCode === VERDICT.NOK) st.counters.nok += 1;
    else st.counters.error += 1;
    this.history.push(r);
    if (this.history.length > this.deps.config.resultHistory) this.history.shift();
    if (v.mask) this.lastMaskPng = v.mask.png.length <= LAST_MASK_PNG_MAX_BYTES ? v.mask.png : Buffer.alloc(0); // over 1 MiB: MaskUri only
    const showNow = this.deps.config.ackMode === 'None' || !st.shown || st.shownAcked;
    if (showNow) {
      st.shown = r;
      st.shownAcked = this.deps.config.ackMode === 'None';
    } else st.waiting.push(r);
    if (this.pendingTrigger && v.triggerSeq === this.pendingTrigger.triggerSeq) {
      clearTimeout(this.pendingTrigger.timer);
      this.pendingTrigger = null;
      this.busy = false;
    }
    this.persist();
    if (showNow) this.presentShown();
    this.refreshStatus();
    if (this.deps.config.resultEvents === 'all' || v.verdictCode === VERDICT.NOK) this.raiseResultEvent(r);
    for (const o of this.observers) o.result(v, true);
  }

  private raiseResultEvent(r: PresentedResult) {
    const v = (dataType: DataType, value: unknown) => new Variant({ dataType, value });
    this.deps.agent.raiseEvent(this.deps.resultEventType, {
      resultId: v(DataType.String, r.resultId),
      resultSeq: v(DataType.UInt32, r.resultSeq),
      stationId: v(DataType.String, this.id),
      partId: v(DataType.String, r.partId),
      verdict: v(DataType.Int32, r.verdict),
      anomalyScore: v(DataType.Float, r.anomalyScore),
      maskUri: v(DataType.String, r.maskUri),
      severity: v(DataType.UInt16, r.verdict === VERDICT.NOK ? RESULT_EVENT_SEVERITY.NOK : RESULT_EVENT_SEVERITY.OK),
      message: v(DataType.LocalizedText, { text: `${this.id}: result ${r.resultSeq} ${verdictNameOf(r.verdict as VerdictCode)}` }), // r.verdict is a VerdictRecord's verdictCode
      sourceName: v(DataType.String, this.id),
      sourceNode: v(DataType.NodeId, this.object.nodeId),
    });
  }

  // ---------- handshakes ----------
  /** Rule (3): the PLC consumed `seq`; show the next queued result. */
  acknowledge(seq: number): number {
    const st = this.state;
    if (!st.shown || st.shownAcked || seq !== st.shown.resultSeq) return METHOD_RESULT.resultSeqNotPresented;
    const next = st.waiting.shift();
    if (next) {
      st.shown = next;
      st.shownAcked = false;
    } else st.shownAcked = true;
    this.persist();
    if (next) this.presentShown();
    this.refreshStatus();
    return METHOD_RESULT.ok;
  }

  private reject(code: number) {
    this.state.counters.missedTriggers += 1;
    this.set('Status.TriggerRejectCode', DataType.Int32, code);
    this.persist();
    this.refreshStatus();
    return code;
  }

  /** What rule (1) answers a trigger now (0: accepted), without counting a missed trigger. */
  triggerRefusal(): number {
    if (this.bufferFull()) return METHOD_RESULT.resultBufferFull;
    if (this.busy || this.status?.busy) return METHOD_RESULT.busy;
    if (!this.ready() || !this.deps.commands()) return METHOD_RESULT.notReady;
    return METHOD_RESULT.ok;
  }

  /** Rule (1): accept when Ready, else a reject code and MissedTriggers+1. */
  private trigger(triggerSeq: number, partId: string): number {
    const refused = this.triggerRefusal();
    if (refused !== METHOD_RESULT.ok) return this.reject(refused);
    const commands = this.deps.commands()!;
    this.busy = true;
    this.state.baselines.triggerAckSeq = triggerSeq;
    this.persist();
    this.set('Status.TriggerRejectCode', DataType.Int32, 0);
    this.set('Status.TriggerAckSeq', DataType.UInt32, triggerSeq);
    this.refreshStatus();
    const timer = setTimeout(() => void this.triggerTimedOut(triggerSeq, partId), this.deps.config.triggerTimeoutMs);
    this.pendingTrigger = { triggerSeq, partId, timer };
    commands.trigger(this.id, partId, triggerSeq).then(
      (code) => { if (code < 0) this.triggerFailed(triggerSeq, code); },
      (err: Error) => { this.deps.log.warn(`opcua ${this.id}: trigger ${triggerSeq} failed: ${err.message}`); this.triggerFailed(triggerSeq, METHOD_RESULT.notReady); },
    );
    return METHOD_RESULT.ok;
  }

  private triggerFailed(triggerSeq: number, code: number) {
    if (this.pendingTrigger?.triggerSeq !== triggerSeq) return;
    clearTimeout(this.pendingTrigger.timer);
    this.pendingTrigger = null;
    this.busy = false;
    this.reject(code);
    for (const o of this.observers) o.triggerFailed(triggerSeq, code);
  }

  /** Rule (4): no result in time → Verdict 3 with ErrorCode, recorded by the daemon when it can. */
  private async triggerTimedOut(triggerSeq: number, partId: string) {
    if (this.pendingTrigger?.triggerSeq !== triggerSeq) return;
    this.pendingTrigger = null;
    this.busy = false;
    this.timedOut.add(triggerSeq);
    if (this.timedOut.size > 100) this.timedOut.delete(this.timedOut.values().next().value as number);
    const text = `no result within ${this.deps.config.triggerTimeoutMs} ms of TriggerSeq ${triggerSeq}`;
    this.latchedError = { code: METHOD_RESULT.triggerTimeout, text };
    let record: VerdictRecord | null = null;
    try {
      record = (await this.deps.commands()?.triggerTimedOut?.(this.id, triggerSeq, partId)) ?? null;
    } catch (err) {
      this.deps.log.warn(`opcua ${this.id}: triggerTimedOut failed: ${(err as Error).message}`);
    }
    this.accept(record ?? this.timeoutRecord(triggerSeq, partId));
  }

  private timeoutRecord(triggerSeq: number, partId: string): VerdictRecord {
    const now = new Date().toISOString();
    const s = this.status;
    return {
      resultId: ulid(), resultSeq: this.state.lastResultSeq + 1, stationId: this.id, cameraId: '', partId, triggerSeq,
      recipeId: s?.recipeId ?? 0, recipeName: s?.recipeName ?? '', modelVersion: s?.modelVersion ?? '', referenceVersion: 0,
      outcome: OUTCOME.noVerdict, noVerdictReason: 'timeout', verdictCode: verdictCodeOf(OUTCOME.noVerdict), mode: 'none', shots: 0, anomalyScore: 0, threshold: 0,
      defects: { count: 0, areaPx: 0, areaPct: 0, bbox: [0, 0, 0, 0], boxes: [] }, mask: null,
      timing: { acquiredAt: now, decidedAt: now, processingMs: this.deps.config.triggerTimeoutMs },
    };
  }

  private onTriggerSeq(value: number): StatusCode {
    const b = this.state.baselines;
    if (value === b.triggerSeq) return StatusCodes.Good;
    b.triggerSeq = value;
    this.persist();
    this.trigger(value, this.control.partId);
    return StatusCodes.Good;
  }

  /** Rule (5): ChangeSeq → Ready=0 → Status=1 → prepare → Status=0/<0 → ChangeAckSeq → Ready restored. */
  private async changeRecipe(recipeId: number, changeSeq: number | null): Promise<number> {
    this.recipeChanging = true;
    this.recipeStatus = RECIPE_STATUS.preparing;
    this.set('Recipe.Status', DataType.Int32, RECIPE_STATUS.preparing);
    this.refreshStatus();
    let code: number;
    try {
      code = (await this.deps.commands()?.selectRecipe(this.id, recipeId)) ?? METHOD_RESULT.notReady;
    } catch (err) {
      this.deps.log.warn(`opcua ${this.id}: selectRecipe ${recipeId} failed: ${(err as Error).message}`);
      code = RECIPE_STATUS.modelError;
    }
    this.recipeStatus = code;
    this.set('Recipe.Status', DataType.Int32, code);
    this.recipeChanging = false;
    this.showRecipe();
    if (changeSeq !== null) {
      this.state.baselines.changeAckSeq = changeSeq;
      this.persist();
      this.set('Recipe.ChangeAckSeq', DataType.UInt32, changeSeq);
    }
    this.refreshStatus();
    return code;
  }

  /** Counters.* back to 0 (method ResetCounters, or an MQTT resetCounters through the daemon). */
  zeroCounters() {
    this.state.counters = { total: 0, ok: 0, nok: 0, error: 0, missedTriggers: 0 };
    this.persist();
    this.refreshStatus();
  }

  /** Clears the latched error without asking the daemon (it is the one asking, e.g. for an MQTT resetError). */
  clearLatchedError() {
    this.latchedError = null;
    this.refreshStatus();
  }

  private async resetError(): Promise<number> {
    this.latchedError = null;
    const code = (await this.deps.commands()?.resetError(this.id)) ?? 0;
    this.refreshStatus();
    return code;
  }

  /** The store first (it outlives this process and the ring); the ring covers records only this adapter made. */
  private findResult(resultId: string): { verdict: number; anomalyScore: number; maskUri: string } | undefined {
    try {
      const stored = this.deps.lookupResult?.(this.id, resultId);
      if (stored) return stored;
    } catch (err) {
      this.deps.log.warn(`opcua ${this.id}.GetResultById: result lookup failed (${(err as Error).message}); searching the last ${this.history.length} results only`);
    }
    return this.history.findLast((h) => h.resultId === resultId);
  }

  // ---------- methods ----------
  private addMethods() {
    const { ns, config } = this.deps;
    const methodRoles = [WellKnownRoles.Engineer, ...(config.demo ? [WellKnownRoles.Anonymous] : [])];
    const allowed = (context: ISessionContext) => !context.session || makeRoles(methodRoles).some((r) => context.currentUserHasRole(r));
    const i32 = (value: number): Value => ({ dataType: DataType.Int32, value });
    const add = (name: string, inputs: [string, DataType][], outputs: [string, DataType][], run: (args: unknown[]) => Promise<Value[] | StatusCode>) => {
      const m = ns.addMethod(this.object, {
        browseName: name, nodeId: `s=${this.id}.${name}`,
        inputArguments: inputs.map(([n, dataType]) => ({ name: n, dataType, description: { text: n } })),
        outputArguments: outputs.map(([n, dataType]) => ({ name: n, dataType, description: { text: n } })),
      });
      m.bindMethod(async (inputArguments: Variant[], context: ISessionContext) => {
        if (!allowed(context)) return { statusCode: StatusCodes.BadUserAccessDenied };
        if (inputArguments.length !== inputs.length) return { statusCode: inputArguments.length < inputs.length ? StatusCodes.BadArgumentsMissing : StatusCodes.BadTooManyArguments };
        if (inputArguments.some((a, k) => a.dataType !== inputs[k]![1])) return { statusCode: StatusCodes.BadInvalidArgument };
        try {
          const out = await run(inputArguments.map((a) => a.value));
          if (!Array.isArray(out)) return { statusCode: out };
          return { statusCode: StatusCodes.Good, outputArguments: out.map((o) => new Variant(o as VariantOptions)) };
        } catch (err) {
          this.deps.log.warn(`opcua ${this.id}.${name}: ${(err as Error).message}`);
          return { statusCode: StatusCodes.BadInternalError };
        }
      });
    };
    add('Trigger', [['PartId', DataType.String]], [['TriggerSeq', DataType.UInt32], ['Error', DataType.Int32]], async ([partId]) => {
      const p = (partId as string | null) ?? '';
      if (p.length > PART_ID_MAX_LENGTH) return StatusCodes.BadInvalidArgument;
      const { triggerSeq, code } = this.triggerByMethod(p);
      return [{ dataType: DataType.UInt32, value: triggerSeq }, i32(code)];
    });
    add('SelectRecipe', [['RecipeId', DataType.Int32]], [['Error', DataType.Int32]], async ([recipeId]) => [i32(await this.selectRecipe(recipeId as number))]);
    add('AcknowledgeResult', [['ResultSeq', DataType.UInt32]], [['Error', DataType.Int32]], async ([seq]) => [i32(this.acknowledge(seq as number))]);
    add('ResetError', [], [['Error', DataType.Int32]], async () => [i32(await this.resetError())]);
    add('ResetCounters', [], [['Error', DataType.Int32]], async () => {
      this.zeroCounters();
      return [i32((await this.deps.commands()?.resetCounters(this.id, 'plc')) ?? 0)];
    });
    add('GetResultById', [['ResultId', DataType.String]], [['Verdict', DataType.Int32], ['AnomalyScore', DataType.Float], ['MaskUri', DataType.String], ['Error', DataType.Int32]], async ([resultId]) => {
      if (typeof resultId !== 'string' || resultId.length === 0 || resultId.length > 64) return StatusCodes.BadInvalidArgument;
      const r = this.findResult(resultId);
      return r
        ? [i32(r.verdict), { dataType: DataType.Float, value: r.anomalyScore }, { dataType: DataType.String, value: r.maskUri }, i32(METHOD_RESULT.ok)]
        : [i32(VERDICT.Undefined), { dataType: DataType.Float, value: 0 }, { dataType: DataType.String, value: '' }, i32(METHOD_RESULT.unknownResultId)];
    });
  }
}
