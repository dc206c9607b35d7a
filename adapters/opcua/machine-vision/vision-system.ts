// One station as an OPC 40100-1 VisionSystemType object (Objects/<station>): the companion specification's state
// machine, recipe and result management driven by the same station the PLC interface (station.ts) drives, so both
// views see the same triggers, recipes and result ids. Mapping and choices: adapters/README.md "Machine Vision".
import {
  type AddressSpace, DataType, type ISessionContext, makeRoles, type Namespace, promoteToStateMachine, StatusCodes, type StatusCode, type UAEventType,
  type TransitionSelector, type UAMethod, type UAObject, type UAState, type UAStateMachineEx, type UATransitionEx, Variant, type VariantOptions, WellKnownRoles,
} from 'node-opcua';
import { METHOD_RESULT, OUTCOME, PART_ID_MAX_LENGTH, RECIPE_STATUS, STATION_STATES, type Outcome } from '../../protocol.ts';
import type { MachineVisionPort, RecipeInfo, VerdictRecord } from '../../types.ts';
import type { OpcUaConfig } from '../config.ts';
import type { StationNode } from '../station.ts';
import { derivedJobId, fromVerdict, type MvResult, MvTypes, type MvTypeName, RESULT_STATE, resultStateOf } from './results.ts';

export { MV_NAMESPACE_URI } from './results.ts';

/** Which method caused a transition (ReadyToSingleExecution vs …Auto, InitializedToReadyRecipe, …ToReadyStop/Abort). */
type Cause = 'Start' | 'Recipe' | 'Stop' | 'Abort';
type AutoState = 'Initialized' | 'Ready' | 'SingleExecution' | 'ContinuousExecution';
type MainState = 'Preoperational' | 'Halted' | 'Error' | 'Operational';
const MAIN_OF_NUMBER: Record<number, MainState> = {
  [STATION_STATES.Preoperational]: 'Preoperational', [STATION_STATES.Halted]: 'Halted', [STATION_STATES.Error]: 'Error', [STATION_STATES.Operational]: 'Operational',
};
/** GetResultListFiltered / GetRecipeListFiltered answer at most this many per call (IsComplete says whether more matched). */
export const MV_LIST_MAX = 100;
const JOB_MEMORY = 10_000;

export interface VisionSystemDeps {
  addressSpace: AddressSpace;
  ns: Namespace; // ours: the instance's browse name and node ids
  types: MvTypes;
  station: StationNode;
  config: OpcUaConfig;
  port?: MachineVisionPort | undefined;
  log: { warn(msg: string): void };
}

/** A method's outcome: Bad status (nothing done) or Good with output arguments. */
type Answer = StatusCode | VariantOptions[];

class CallError extends Error {
  constructor(readonly statusCode: StatusCode, message: string) {
    super(message);
  }
}
const bad = (statusCode: StatusCode, message: string): never => {
  throw new CallError(statusCode, message);
};

export class VisionSystem {
  readonly object: UAObject;
  private readonly mv: number;
  private main: UAStateMachineEx;
  private auto: UAStateMachineEx;
  private shown: { main: MainState; auto: AutoState | null } | null = null;
  private single: { jobId: string; triggerSeq: number } | null = null;
  private continuous: { jobId: string; partId: string; triggerSeqs: Set<number>; stopping: boolean; cause?: 'Stop' | 'Abort' } | null = null;
  private continuousTimer: NodeJS.Immediate | null = null;
  /** Job ids of this process's results (a continuous job's frames share its id; a restart derives them again). */
  private jobOf = new Map<string, string>();
  /** The last results seen live: GetResultById's fallback when no store is wired (adapter-only tests, tools). */
  private recent: { r: MvResult; jobId: string }[] = [];
  private events: Record<'ResultReady' | 'JobStarted' | 'Ready' | 'RecipePrepared' | 'StateChanged', UAEventType>;

  constructor(readonly id: string, private deps: VisionSystemDeps) {
    const { addressSpace, ns, types } = deps;
    this.mv = types.nsIndex;
    const type = addressSpace.findObjectType('VisionSystemType', this.mv);
    if (!type) throw new Error('opcua: VisionSystemType not in the address space; the Machine Vision nodeset did not load');
    this.object = type.instantiate({
      browseName: { name: id, namespaceIndex: ns.index },
      displayName: `${id} (OPC 40100 vision system)`,
      nodeId: `ns=${ns.index};s=VisionSystem.${id}`,
      namespace: ns,
      organizedBy: addressSpace.rootFolder.objects,
      eventNotifier: 1,
      optionals: ['RecipeManagement', 'ResultManagement', 'VisionStateMachine.AutomaticModeStateMachine'],
    });
    addressSpace.rootFolder.objects.server.addReference({ referenceType: 'HasNotifier', nodeId: this.object.nodeId });
    const child = (parent: UAObject, name: string) => {
      const c = parent.getComponentByName(name, this.mv) as UAObject | null;
      if (!c) throw new Error(`opcua: ${parent.browseName.toString()} has no ${name} after instantiation`);
      return c;
    };
    const smObject = child(this.object, 'VisionStateMachine');
    const autoObject = child(smObject, 'AutomaticModeStateMachine');
    this.main = promoteToStateMachine(smObject);
    this.auto = promoteToStateMachine(autoObject);
    const eventType = (name: string) => {
      const t = addressSpace.findEventType(name, this.mv);
      if (!t) throw new Error(`opcua: ${name} not in the Machine Vision nodeset`);
      return t;
    };
    this.events = { ResultReady: eventType('ResultReadyEventType'), JobStarted: eventType('JobStartedEventType'), Ready: eventType('ReadyEventType'), RecipePrepared: eventType('RecipePreparedEventType'), StateChanged: eventType('StateChangedEventType') };

    const recipes = child(this.object, 'RecipeManagement');
    const results = child(this.object, 'ResultManagement');
    this.bind(smObject, 'Reset', () => this.reset());
    this.bind(smObject, 'Halt', () => bad(StatusCodes.BadNotSupported, 'Halt: the agent is stopped as a service (systemctl stop), not from the line'));
    this.bind(autoObject, 'StartSingleJob', (a) => this.startSingleJob(a));
    this.bind(autoObject, 'StartContinuous', (a) => this.startContinuous(a));
    this.bind(autoObject, 'Stop', () => this.stop('Stop'));
    this.bind(autoObject, 'Abort', () => this.stop('Abort'));
    this.bind(recipes, 'GetRecipeListFiltered', (a) => this.recipeList(a));
    this.bind(recipes, 'PrepareRecipe', (a) => this.prepareRecipe(a));
    this.bind(recipes, 'UnprepareRecipe', (a) => this.unprepareRecipe(a));
    this.bind(results, 'GetResultById', (a) => this.resultById(a));
    this.bind(results, 'GetResultComponentsById', (a) => this.resultComponentsById(a));
    this.bind(results, 'GetResultListFiltered', (a) => this.resultList(a));

    deps.station.observe({ changed: () => this.changed(), result: (v) => this.onResult(v), triggerFailed: (seq, code) => this.onTriggerFailed(seq, code) });
    this.changed();
  }

  dispose() {
    if (this.continuousTimer) clearImmediate(this.continuousTimer);
    this.continuous = null;
  }

  // ---------- state ----------
  private get triggerMode() {
    return this.deps.port?.triggerMode(this.id) ?? 'software';
  }
  private get mainState(): MainState {
    const s = this.deps.station.lastStatus;
    return s ? MAIN_OF_NUMBER[s.stateNumber] ?? 'Preoperational' : 'Preoperational';
  }
  /** The prepared recipe: the station's active product (recipe id 0: none, zero-shot), unless a change is under way or failed. */
  private prepared(): { recipeId: number; name: string } | null {
    const st = this.deps.station;
    const s = st.lastStatus;
    if (!s || st.recipeChangingNow || st.recipeStatusNow !== RECIPE_STATUS.ok) return null;
    return { recipeId: s.recipeId, name: s.recipeName };
  }
  private autoState(): AutoState | null {
    if (this.mainState !== 'Operational') return null;
    if (this.triggerMode !== 'software') return 'ContinuousExecution'; // free-run / hardware: the camera decides
    if (this.continuous) return 'ContinuousExecution';
    if (this.single) return 'SingleExecution';
    return this.prepared() ? 'Ready' : 'Initialized';
  }

  private changed() {
    if (this.continuous && this.mainState !== 'Operational') this.continuous = null; // Error/Halted ends the run
    this.show();
    this.pumpContinuous();
  }

  /** `cause`: the method behind this change (the transition named after it), else the automatic transition. */
  private show(cause?: Cause) {
    const main = this.mainState;
    const auto = this.autoState();
    if (this.shown?.main === main && this.shown.auto === auto) return;
    const before = this.shown;
    this.shown = { main, auto };
    let picked: UATransitionEx | null = null;
    const pick: TransitionSelector = (transitions) => {
      const named = (suffix: string) => transitions.find((t) => t.browseName.name?.endsWith(suffix));
      const byMethod = cause === 'Start' ? transitions.find((t) => !/(Auto|Recipe|Product|Stop|Abort)$/.test(t.browseName.name ?? '')) : cause ? named(cause) : undefined;
      picked = byMethod ?? named('Auto') ?? transitions[0] ?? null;
      return picked;
    };
    for (const [machine, changed, to] of [[this.main, before?.main !== main, main], [this.auto, before?.auto !== auto, auto]] as const) {
      if (!changed) continue;
      const from = machine.currentStateNode;
      picked = null;
      machine.setState(to, pick);
      if (before) this.stateChanged(machine, from, machine.currentStateNode, picked);
    }
  }

  /** 40100's StateChangedEvent on the vision system (node-opcua raises only a plain TransitionEvent, on the machine). */
  private stateChanged(machine: UAStateMachineEx, from: UAState | null, to: UAState | null, transition: UATransitionEx | null) {
    const text = (n: { displayName: { text?: string | null }[] } | null) => new Variant({ dataType: DataType.LocalizedText, value: { text: n?.displayName[0]?.text ?? '' } });
    const num = (v: { readValue(): { value: Variant } } | undefined) => (v ? v.readValue().value : new Variant({ dataType: DataType.Null }));
    this.raise('StateChanged', {
      transition: text(transition), 'transition.id': num(transition?.transitionNumber),
      fromState: text(from), 'fromState.id': num(from?.stateNumber), toState: text(to), 'toState.id': num(to?.stateNumber),
    }, `${this.id}: ${machine.browseName.name}: ${from?.browseName.name ?? '(none)'} → ${to?.browseName.name ?? '(none)'}`);
  }

  private raise(kind: keyof VisionSystem['events'], fields: Record<string, Variant>, message: string, severity = 100) {
    this.object.raiseEvent(this.events[kind], {
      ...fields,
      sourceName: new Variant({ dataType: DataType.String, value: this.id }),
      sourceNode: new Variant({ dataType: DataType.NodeId, value: this.object.nodeId }),
      message: new Variant({ dataType: DataType.LocalizedText, value: { text: message } }),
      severity: new Variant({ dataType: DataType.UInt16, value: severity }),
    });
  }
  private ext(value: unknown) {
    return new Variant({ dataType: DataType.ExtensionObject, value });
  }

  // ---------- results ----------
  private onResult(v: VerdictRecord) {
    const r = fromVerdict(v);
    let jobId: string;
    if (this.single && v.triggerSeq === this.single.triggerSeq) jobId = this.single.jobId;
    else if (this.continuous?.triggerSeqs.has(v.triggerSeq)) {
      jobId = this.continuous.jobId;
      this.continuous.triggerSeqs.delete(v.triggerSeq);
    } else jobId = derivedJobId(this.id, v.triggerSeq, v.resultSeq);
    this.jobOf.set(r.resultId, jobId);
    if (this.jobOf.size > JOB_MEMORY) this.jobOf.delete(this.jobOf.keys().next().value as string);
    this.recent.push({ r, jobId });
    if (this.recent.length > this.deps.config.resultHistory) this.recent.shift();
    const f = this.deps.types.fields(r, jobId);
    const fields: Record<string, Variant> = {
      resultId: this.ext(f.resultId), isPartial: new Variant({ dataType: DataType.Boolean, value: false }),
      resultState: new Variant({ dataType: DataType.Int32, value: f.resultState }), jobId: this.ext(f.jobId),
      creationTime: new Variant({ dataType: DataType.DateTime, value: f.creationTime }), internalRecipeId: this.ext(f.internalRecipeId),
      internalConfigurationId: this.ext(f.internalConfigurationId), processingTimes: this.ext(f.processingTimes),
      resultContent: new Variant({ dataType: DataType.Variant, arrayType: 1, value: f.resultContent }),
    };
    if (f.partId) fields.partId = this.ext(f.partId);
    if (f.externalRecipeId) fields.externalRecipeId = this.ext(f.externalRecipeId);
    if (f.productId) fields.productId = this.ext(f.productId);
    const reason = r.noVerdictReason ? ` (${r.noVerdictReason})` : '';
    this.raise('ResultReady', fields, `${this.id}: result ${r.resultId} ${r.outcome}${reason}`, r.outcome === OUTCOME.pass ? 100 : 700);
    if (this.single && this.single.jobId === jobId) this.endSingle();
    if (this.continuous?.stopping && this.continuous.triggerSeqs.size === 0) this.endContinuous();
    this.pumpContinuous();
  }

  /** The daemon refused a trigger it had accepted (no frame): a single job ends without a result. */
  private onTriggerFailed(triggerSeq: number, code: number) {
    if (this.continuous?.triggerSeqs.delete(triggerSeq) && this.continuous.stopping && this.continuous.triggerSeqs.size === 0) this.endContinuous();
    if (this.single?.triggerSeq !== triggerSeq) return;
    this.deps.log.warn(`opcua ${this.id}: job ${this.single.jobId} ended without a frame (the station refused the trigger with ${code})`);
    this.endSingle();
  }

  private endContinuous() {
    const run = this.continuous!;
    this.continuous = null;
    this.show(run.stopping ? run.cause : undefined);
    this.raise('Ready', { jobId: this.ext(this.deps.types.id('JobIdDataType', run.jobId)) }, `${this.id}: job ${run.jobId} stopped`);
  }

  private endSingle() {
    const job = this.single!;
    this.single = null;
    this.show();
    this.raise('Ready', { jobId: this.ext(this.deps.types.id('JobIdDataType', job.jobId)) }, `${this.id}: job ${job.jobId} done`);
  }

  private find(resultId: string): { r: MvResult; jobId: string } | undefined {
    let stored;
    try {
      stored = this.deps.port?.result(this.id, resultId);
    } catch (err) {
      this.deps.log.warn(`opcua ${this.id}: result lookup failed (${(err as Error).message}); searching the last ${this.recent.length} results only`);
    }
    if (stored) return { r: stored, jobId: this.jobOf.get(resultId) ?? derivedJobId(this.id, stored.triggerSeq, stored.resultSeq) };
    return this.recent.findLast((x) => x.r.resultId === resultId);
  }

  // ---------- methods ----------
  private bind(parent: UAObject, name: string, run: (args: Variant[]) => Answer | Promise<Answer>) {
    const method = parent.getMethodByName(name, this.mv) as UAMethod | null;
    if (!method) throw new Error(`opcua: ${parent.browseName.toString()} has no method ${name}`);
    const roles = makeRoles([WellKnownRoles.Engineer, ...(this.deps.config.demo ? [WellKnownRoles.Anonymous] : [])]);
    method.bindMethod(async (inputArguments: Variant[], context: ISessionContext) => {
      if (context.session && !roles.some((r) => context.currentUserHasRole(r))) return { statusCode: StatusCodes.BadUserAccessDenied };
      try {
        const out = await run(inputArguments);
        if (!Array.isArray(out)) return { statusCode: out };
        return { statusCode: StatusCodes.Good, outputArguments: out.map((o) => new Variant(o)) };
      } catch (err) {
        if (err instanceof CallError) {
          this.refused(name, err);
          return { statusCode: err.statusCode };
        }
        this.deps.log.warn(`opcua ${this.id}.${name}: ${(err as Error).message}`);
        return { statusCode: StatusCodes.BadInternalError };
      }
    });
  }

  /** A refused call is logged with why (the status code alone does not say), once per method and 10 s: a client
   *  retrying in a loop must not flood the log. */
  private refusedLog = new Map<string, { at: number; more: number }>();
  private refused(method: string, err: CallError) {
    const now = Date.now();
    const last = this.refusedLog.get(method);
    if (last && now - last.at < 10_000) {
      last.more += 1;
      return;
    }
    const more = last?.more ? ` (${last.more} more refused since the last line)` : '';
    this.refusedLog.set(method, { at: now, more: 0 });
    this.deps.log.warn(`opcua ${this.id}.${method}: ${err.statusCode.name}: ${err.message}${more}`);
  }

  /** An optional id structure argument: null/empty → undefined; anything else must be `type` with a string Id. */
  private idArg(a: Variant | undefined, type: MvTypeName, what: string): string | undefined {
    const v: unknown = a?.value;
    if (v === null || v === undefined) return undefined;
    // As node-opcua answers a wrong built-in type: BadTypeMismatch.
    if (!this.deps.types.is(v, type)) return bad(StatusCodes.BadTypeMismatch, `${what} must be a ${type}`);
    const id = (v as { id?: unknown }).id;
    if (id !== null && id !== undefined && typeof id !== 'string') return bad(StatusCodes.BadInvalidArgument, `${what}.Id must be a string`);
    const trimmed = (id ?? '').trim();
    return trimmed === '' ? undefined : trimmed;
  }

  private recipes(): RecipeInfo[] {
    return this.deps.port?.recipes() ?? [];
  }
  /** A recipe by its id string (ExternalId.Id = InternalId.Id = the product's recipe id). */
  private recipe(id: string, what: string): RecipeInfo {
    const found = /^-?\d+$/.test(id) ? this.recipes().find((r) => r.recipeId === Number(id)) : undefined;
    return found ?? bad(StatusCodes.BadNotFound, `${what} ${JSON.stringify(id)} is no recipe of this agent; GetRecipeListFiltered lists them`);
  }
  private recipeOut(r: { recipeId: number; name: string }, kind: 'RecipeIdExternalDataType' | 'RecipeIdInternalDataType') {
    const ref = this.recipes().find((x) => x.recipeId === r.recipeId)?.referenceVersion ?? 0;
    return this.deps.types.recipeId(kind, r.recipeId, ref, r.name);
  }

  private requireSoftware(method: string) {
    const mode = this.triggerMode;
    if (mode !== 'software') bad(StatusCodes.BadNotSupported, `${method}: the camera is ${mode}; set trigger: software in its config for jobs on request`);
  }

  /** Checks a Start call's arguments against the prepared recipe; returns the part id. */
  private startArgs(a: Variant[], method: string): string {
    this.idArg(a[0], 'MeasIdDataType', 'MeasId'); // accepted, not kept (documented)
    const partId = this.idArg(a[1], 'PartIdDataType', 'PartId') ?? '';
    if (partId.length > PART_ID_MAX_LENGTH) bad(StatusCodes.BadInvalidArgument, `PartId is longer than ${PART_ID_MAX_LENGTH} characters`);
    const recipeId = this.idArg(a[2], 'RecipeIdExternalDataType', 'RecipeId');
    const productId = this.idArg(a[3], 'ProductIdDataType', 'ProductId');
    const params = a[4]?.value as unknown[] | null | undefined;
    if (params && params.length > 0) bad(StatusCodes.BadInvalidArgument, `${method}: this agent's recipes take no Parameters; send an empty array`);
    this.requireSoftware(method);
    const state = this.autoState();
    if (state !== 'Ready') bad(StatusCodes.BadInvalidState, `${method}: the vision system is ${state ?? this.mainState}, not Ready`);
    const prepared = this.prepared()!;
    if (recipeId !== undefined && recipeId !== String(prepared.recipeId)) bad(StatusCodes.BadInvalidArgument, `${method}: recipe ${recipeId} is not the prepared one (${prepared.recipeId}); PrepareRecipe it first`);
    if (productId !== undefined && productId !== prepared.name) bad(StatusCodes.BadInvalidArgument, `${method}: product ${JSON.stringify(productId)} is not the prepared one; PrepareRecipe its recipe first`);
    return partId;
  }

  private jobOut(jobId: string, error: number): VariantOptions[] {
    return [{ dataType: DataType.ExtensionObject, value: this.deps.types.id('JobIdDataType', jobId) }, { dataType: DataType.Int32, value: error }];
  }

  private startSingleJob(a: Variant[]): Answer {
    const partId = this.startArgs(a, 'StartSingleJob');
    // Ready, but rule (1) would refuse now (buffer full, busy): the Error output says why, nothing is counted.
    const refused = this.deps.station.triggerRefusal();
    if (refused !== METHOD_RESULT.ok) return this.jobOut('', refused);
    const { triggerSeq, code } = this.deps.station.triggerByMethod(partId);
    if (code !== METHOD_RESULT.ok) return this.jobOut('', code);
    const jobId = derivedJobId(this.id, triggerSeq, 0);
    this.single = { jobId, triggerSeq };
    this.show('Start');
    this.raise('JobStarted', { jobId: this.ext(this.deps.types.id('JobIdDataType', jobId)) }, `${this.id}: job ${jobId} started`);
    return this.jobOut(jobId, METHOD_RESULT.ok);
  }

  private startContinuous(a: Variant[]): Answer {
    const partId = this.startArgs(a, 'StartContinuous');
    const jobId = `${this.id}-C${Date.now().toString(36)}`;
    this.continuous = { jobId, partId, triggerSeqs: new Set(), stopping: false };
    this.show('Start');
    this.raise('JobStarted', { jobId: this.ext(this.deps.types.id('JobIdDataType', jobId)) }, `${this.id}: continuous job ${jobId} started`);
    this.pumpContinuous();
    return this.jobOut(jobId, METHOD_RESULT.ok);
  }

  /** Continuous execution on a software-triggered camera: the next trigger as soon as the station takes one. */
  private pumpContinuous() {
    if (!this.continuous || this.continuousTimer) return;
    this.continuousTimer = setImmediate(() => {
      this.continuousTimer = null;
      const run = this.continuous;
      if (!run || run.stopping || this.deps.station.triggerRefusal() !== METHOD_RESULT.ok) return;
      const { triggerSeq, code } = this.deps.station.triggerByMethod(run.partId);
      if (code === METHOD_RESULT.ok) run.triggerSeqs.add(triggerSeq);
    });
  }

  private stop(method: 'Stop' | 'Abort'): Answer {
    if (this.triggerMode !== 'software') this.requireSoftware(method);
    const state = this.autoState();
    const ok: VariantOptions[] = [{ dataType: DataType.Int32, value: METHOD_RESULT.ok }];
    if (state === 'ContinuousExecution' && this.continuous) {
      // No new trigger; a frame in flight still gets its outcome (ResultReady with this job id), then Ready.
      this.continuous.stopping = true;
      this.continuous.cause = method;
      if (this.continuous.triggerSeqs.size === 0) this.endContinuous();
      return ok;
    }
    // A single job is one frame already taken: it ends with its result, there is nothing to stop.
    if (state === 'SingleExecution') return ok;
    return bad(StatusCodes.BadInvalidState, `${method}: no job is running (the vision system is ${state ?? this.mainState})`);
  }

  private async reset(): Promise<Answer> {
    return [{ dataType: DataType.Int32, value: await this.deps.station.resetErrorByMethod() }];
  }

  private recipeList(a: Variant[]): Answer {
    const external = this.idArg(a[0], 'RecipeIdExternalDataType', 'ExternalId');
    const product = this.idArg(a[1], 'ProductIdDataType', 'ProductId');
    const isPrepared = a[2]?.value as number;
    if (![0, 1, 2].includes(isPrepared)) bad(StatusCodes.BadInvalidArgument, 'IsPrepared must be FALSE_0, TRUE_1 or DONTCARE_2');
    const max = (a[3]?.value as number) || MV_LIST_MAX;
    const start = a[4]?.value as number;
    const prepared = this.prepared();
    const all = this.recipes().filter((r) =>
      (external === undefined || String(r.recipeId) === external) && (product === undefined || r.name === product) &&
      (isPrepared === 2 || (prepared?.recipeId === r.recipeId) === (isPrepared === 1)));
    const page = all.slice(start, start + Math.min(max, MV_LIST_MAX));
    return [
      { dataType: DataType.Boolean, value: start + page.length >= all.length },
      { dataType: DataType.UInt32, value: page.length },
      { dataType: DataType.UInt32, value: 0 },
      { dataType: DataType.ExtensionObject, arrayType: 1, value: page.map((r) => this.deps.types.recipeId('RecipeIdInternalDataType', r.recipeId, r.referenceVersion, r.name)) },
      { dataType: DataType.Int32, value: METHOD_RESULT.ok },
    ];
  }

  private resolveRecipe(a: Variant[], method: string): RecipeInfo {
    const external = this.idArg(a[0], 'RecipeIdExternalDataType', 'ExternalId');
    const internal = this.idArg(a[1], 'RecipeIdInternalDataType', 'InternalIdIn');
    const id = internal ?? external; // the specification: InternalIdIn takes precedence
    if (id === undefined) return bad(StatusCodes.BadInvalidArgument, `${method}: give ExternalId or InternalIdIn`);
    return this.recipe(id, internal !== undefined ? 'InternalIdIn' : 'ExternalId');
  }

  private async prepareRecipe(a: Variant[]): Promise<Answer> {
    const recipe = this.resolveRecipe(a, 'PrepareRecipe');
    const main = this.mainState;
    if (main === 'Halted') bad(StatusCodes.BadInvalidState, 'PrepareRecipe: the vision system is Halted');
    const auto = this.autoState();
    if (auto === 'SingleExecution' || (auto === 'ContinuousExecution' && this.continuous)) bad(StatusCodes.BadInvalidState, `PrepareRecipe: a job is running (${auto}); Stop it first`);
    if (this.deps.station.recipeChangingNow) bad(StatusCodes.BadInvalidState, 'PrepareRecipe: a recipe change is already under way');
    const code = await this.deps.station.selectRecipe(recipe.recipeId);
    this.show('Recipe');
    const out = this.recipeOut(recipe, 'RecipeIdInternalDataType');
    if (code === RECIPE_STATUS.ok) {
      this.raise('RecipePrepared', { internalId: this.ext(out), externalId: this.ext(this.recipeOut(recipe, 'RecipeIdExternalDataType')), productId: this.ext(this.deps.types.id('ProductIdDataType', recipe.name)) },
        `${this.id}: recipe ${recipe.recipeId} (${recipe.name}) prepared`);
    }
    return [{ dataType: DataType.ExtensionObject, value: out }, { dataType: DataType.Boolean, value: code === RECIPE_STATUS.ok }, { dataType: DataType.Int32, value: code }];
  }

  private unprepareRecipe(a: Variant[]): Answer {
    const recipe = this.resolveRecipe(a, 'UnprepareRecipe');
    if (this.prepared()?.recipeId === recipe.recipeId) {
      bad(StatusCodes.BadInvalidState, `UnprepareRecipe: recipe ${recipe.recipeId} is the station's only prepared recipe; PrepareRecipe another one to change`);
    }
    return [{ dataType: DataType.ExtensionObject, value: this.recipeOut(recipe, 'RecipeIdInternalDataType') }, { dataType: DataType.Int32, value: METHOD_RESULT.ok }];
  }

  private resultIdArg(a: Variant[]): string {
    const id = this.idArg(a[0], 'ResultIdDataType', 'ResultId');
    if (id === undefined) return bad(StatusCodes.BadInvalidArgument, 'ResultId: give the Id of a result (ResultReady carries it)');
    return id;
  }

  private resultById(a: Variant[]): Answer {
    const id = this.resultIdArg(a);
    const found = this.find(id) ?? bad(StatusCodes.BadNotFound, `GetResultById: no result ${JSON.stringify(id)} on station ${this.id}`);
    return [
      { dataType: DataType.UInt32, value: 0 },
      { dataType: DataType.ExtensionObject, value: this.deps.types.result(found.r, found.jobId) },
      { dataType: DataType.Int32, value: METHOD_RESULT.ok },
    ];
  }

  private resultComponentsById(a: Variant[]): Answer {
    const id = this.resultIdArg(a);
    const found = this.find(id) ?? bad(StatusCodes.BadNotFound, `GetResultComponentsById: no result ${JSON.stringify(id)} on station ${this.id}`);
    const f = this.deps.types.fields(found.r, found.jobId);
    const eo = (v: unknown) => ({ dataType: DataType.ExtensionObject, value: v ?? null });
    return [
      { dataType: DataType.Boolean, value: false }, // HasTransferableDataOnFile: masks are offered by URI (ResultContent MaskUri)
      { dataType: DataType.UInt32, value: 0 },
      { dataType: DataType.Boolean, value: false },
      { dataType: DataType.Boolean, value: false },
      { dataType: DataType.Int32, value: f.resultState },
      eo(null), // MeasId: not kept
      eo(f.partId), eo(f.externalRecipeId), eo(f.internalRecipeId), eo(f.productId), eo(null), eo(f.internalConfigurationId), eo(f.jobId),
      { dataType: DataType.DateTime, value: f.creationTime },
      eo(f.processingTimes),
      { dataType: DataType.Variant, arrayType: 1, value: f.resultContent },
      { dataType: DataType.Int32, value: METHOD_RESULT.ok },
    ];
  }

  private resultList(a: Variant[]): Answer {
    const state = a[0]?.value as number;
    if (!Number.isInteger(state) || state < 0 || state > RESULT_STATE.failed) {
      bad(StatusCodes.BadInvalidArgument, 'ResultState must be 0 (any), 1 Completed, 2 Processing, 3 Aborted or 4 Failed; this agent defines no application-specific (< 0) states');
    }
    if (this.idArg(a[1], 'MeasIdDataType', 'MeasId') !== undefined) bad(StatusCodes.BadNotSupported, 'MeasId: this agent does not keep measurement ids; filter by PartId or JobId');
    const partId = this.idArg(a[2], 'PartIdDataType', 'PartId');
    const external = this.idArg(a[3], 'RecipeIdExternalDataType', 'ExternalRecipeId');
    const internal = this.idArg(a[4], 'RecipeIdInternalDataType', 'InternalRecipeId');
    if (this.idArg(a[5], 'ConfigurationIdDataType', 'ExternalConfigurationId') !== undefined) bad(StatusCodes.BadNotSupported, 'ExternalConfigurationId: no configuration management; filter by InternalConfigurationId (the model pack)');
    const config = this.idArg(a[6], 'ConfigurationIdDataType', 'InternalConfigurationId');
    const product = this.idArg(a[7], 'ProductIdDataType', 'ProductId');
    const jobId = this.idArg(a[8], 'JobIdDataType', 'JobId');
    const max = Math.min((a[9]?.value as number) || MV_LIST_MAX, MV_LIST_MAX);
    const start = a[10]?.value as number;
    let recipeId: number | undefined;
    // Recipe filters that name no recipe, or disagree, match nothing.
    for (const id of [external, internal]) {
      if (id === undefined) continue;
      const n = /^-?\d+$/.test(id) ? Number(id) : NaN;
      if (Number.isNaN(n) || (recipeId !== undefined && recipeId !== n)) return this.listOut([], true);
      recipeId = n;
    }
    if (product !== undefined) {
      const r = this.recipes().find((x) => x.name === product);
      if (!r || (recipeId !== undefined && recipeId !== r.recipeId)) return this.listOut([], true);
      recipeId = r.recipeId;
    }
    // Results are listed once finished: none is Processing.
    if (state === RESULT_STATE.processing) return this.listOut([], true);
    // Aborted and Failed are NO_VERDICTs (the store narrows to those); Completed and the split need a post-filter.
    const outcome = state === RESULT_STATE.aborted || state === RESULT_STATE.failed ? OUTCOME.noVerdict : undefined;
    // Post-filters (JobId, configuration, ResultState) need more rows than one page; the store answers at most 1000.
    const post = jobId !== undefined || config !== undefined || state !== 0;
    const want = post ? 1000 : start + max + 1;
    let rows: { r: MvResult; jobId: string }[];
    if (this.deps.port) {
      rows = this.deps.port.results(this.id, { limit: want, ...(partId !== undefined ? { partId } : {}), ...(outcome ? { outcome } : {}), ...(recipeId !== undefined ? { recipeId } : {}) })
        .map((s) => ({ r: s, jobId: this.jobOf.get(s.resultId) ?? derivedJobId(this.id, s.triggerSeq, s.resultSeq) }));
    } else {
      rows = this.recent.filter((x) => (partId === undefined || x.r.partId === partId) && (!outcome || x.r.outcome === outcome) && (recipeId === undefined || x.r.recipeId === recipeId)).reverse();
    }
    if (state !== 0) rows = rows.filter((x) => resultStateOf(x.r.outcome, x.r.noVerdictReason) === state);
    if (jobId !== undefined) rows = rows.filter((x) => x.jobId === jobId);
    if (config !== undefined) rows = rows.filter((x) => x.r.modelVersion === config);
    const page = rows.slice(start, start + max);
    return this.listOut(page, start + page.length >= rows.length);
  }

  private listOut(page: { r: MvResult; jobId: string }[], complete: boolean): VariantOptions[] {
    return [
      { dataType: DataType.Boolean, value: complete },
      { dataType: DataType.UInt32, value: page.length },
      { dataType: DataType.UInt32, value: 0 },
      { dataType: DataType.ExtensionObject, arrayType: 1, value: page.map((x) => this.deps.types.result(x.r, x.jobId)) },
      { dataType: DataType.Int32, value: METHOD_RESULT.ok },
    ];
  }
}
