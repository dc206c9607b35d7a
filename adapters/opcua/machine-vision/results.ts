// Our results as OPC 40100-1 ResultDataType values: the same result id as the store, MQTT and the PLC's Result block;
// ResultState is how the processing ended (40100-1 §12.19: Completed, Aborted, Failed), not the verdict; the verdict
// and what 40100 has no field for (score, threshold, reason, mask URI) go into ResultContent as KeyValuePairs. The mapping is adapters/README.md "Machine Vision (OPC 40100-1)".
import { type AddressSpace, DataType, type ExtensionObject, NodeClass, type NodeId, type UADataType, Variant } from 'node-opcua';
import type { NoVerdictReason, Outcome, VerdictCode } from '../../protocol.ts';
import type { StoredResult, VerdictRecord } from '../../types.ts';

export const MV_NAMESPACE_URI = 'http://opcfoundation.org/UA/MachineVision';

/** ResultStateDataType values (40100-1 §12.19); < 0 would be application-specific states, of which we define none. */
export const RESULT_STATE = { undefined: 0, completed: 1, processing: 2, aborted: 3, failed: 4 } as const;

/** A PASS or FAIL is a completed processing; a frame skipped or cut short (queue full, agent stopping) was aborted;
 *  one the agent could not judge (camera, model, time-out, no reference) failed. */
export function resultStateOf(outcome: Outcome, reason: NoVerdictReason | undefined): number {
  if (outcome !== 'NO_VERDICT') return RESULT_STATE.completed;
  return reason === 'dropped' || reason === 'interrupted' ? RESULT_STATE.aborted : RESULT_STATE.failed;
}

/** One result as the view needs it, from a live VerdictRecord or a stored row: the stored result's shape. */
export type MvResult = StoredResult;

export function fromVerdict(v: VerdictRecord): MvResult {
  return {
    resultId: v.resultId, resultSeq: v.resultSeq, stationId: v.stationId, partId: v.partId, triggerSeq: v.triggerSeq, recipeId: v.recipeId,
    recipeName: v.recipeName, referenceVersion: v.referenceVersion, modelVersion: v.modelVersion, outcome: v.outcome, noVerdictReason: v.noVerdictReason,
    verdictCode: v.verdictCode, anomalyScore: v.anomalyScore, threshold: v.threshold, defectCount: v.defects.count,
    acquiredAt: new Date(v.timing.acquiredAt), decidedAt: new Date(v.timing.decidedAt), processingMs: v.timing.processingMs, maskUri: v.mask?.uri ?? '',
  };
}


/** The job a result belongs to when no live job claimed it: a triggered frame's trigger, else the result itself. */
export function derivedJobId(stationId: string, triggerSeq: number, resultSeq: number): string {
  return triggerSeq > 0 ? `${stationId}-T${triggerSeq}` : `${stationId}-R${resultSeq}`;
}

export type MvTypeName =
  | 'ResultDataType' | 'ResultIdDataType' | 'JobIdDataType' | 'PartIdDataType' | 'MeasIdDataType' | 'ProductIdDataType'
  | 'RecipeIdExternalDataType' | 'RecipeIdInternalDataType' | 'ConfigurationIdDataType' | 'ProcessingTimesDataType';

/** Builds the companion specification's structures (their DataTypeDefinitions come from the loaded nodeset). */
export class MvTypes {
  private types = new Map<MvTypeName, UADataType>();
  private keyValuePair: UADataType;
  constructor(private addressSpace: AddressSpace, readonly nsIndex: number, private ourNs: number) {
    this.keyValuePair = addressSpace.findDataType('KeyValuePair')!;
    for (const name of ['ResultDataType', 'ResultIdDataType', 'JobIdDataType', 'PartIdDataType', 'MeasIdDataType', 'ProductIdDataType', 'RecipeIdExternalDataType',
      'RecipeIdInternalDataType', 'ConfigurationIdDataType', 'ProcessingTimesDataType'] as const) {
      const t = addressSpace.findDataType(name, nsIndex);
      if (!t) throw new Error(`opcua: the Machine Vision nodeset lacks ${name}; is node-opcua-nodesets intact?`);
      this.types.set(name, t);
    }
  }
  type(name: MvTypeName): UADataType {
    return this.types.get(name)!;
  }
  make(name: MvTypeName, fields: Record<string, unknown>): ExtensionObject {
    return this.addressSpace.constructExtensionObject(this.types.get(name)!, fields);
  }
  /** `id` structures (ResultId, JobId, PartId…): `{ Id }` plus whatever optional fields are given. */
  id(name: MvTypeName, id: string, extra: Record<string, unknown> = {}): ExtensionObject {
    return this.make(name, { id, ...extra });
  }
  /** The recipe a product is: ExternalId and InternalId both carry the recipe id; Version is the reference set. */
  recipeId(kind: 'RecipeIdExternalDataType' | 'RecipeIdInternalDataType', recipeId: number, referenceVersion: number, name: string): ExtensionObject {
    return this.id(kind, String(recipeId), { version: String(referenceVersion), ...(name ? { description: { text: name } } : {}) });
  }
  /** Is `value` one of the companion specification's structures `name` (or a subtype)? */
  is(value: unknown, name: MvTypeName): value is ExtensionObject & { id?: string } {
    const eo = value as { schema?: { dataTypeNodeId?: NodeId } } | null;
    const want = this.types.get(name)!;
    const got = eo?.schema?.dataTypeNodeId;
    if (!got) return false;
    if (got.toString() === want.nodeId.toString()) return true;
    const node = this.addressSpace.findNode(got);
    return node?.nodeClass === NodeClass.DataType && (node as UADataType).isSubtypeOf(want);
  }
  content(r: MvResult): Variant[] {
    const kv = (name: string, dataType: DataType, value: unknown) =>
      new Variant({ dataType: DataType.ExtensionObject, value: this.addressSpace.constructExtensionObject(this.keyValuePair, { key: { namespaceIndex: this.ourNs, name }, value: new Variant({ dataType, value }) }) });
    return [
      kv('Outcome', DataType.String, r.outcome),
      kv('NoVerdictReason', DataType.String, r.noVerdictReason ?? ''),
      kv('AnomalyScore', DataType.Float, r.anomalyScore),
      kv('Threshold', DataType.Float, r.threshold),
      kv('DefectCount', DataType.UInt32, r.defectCount),
      kv('MaskUri', DataType.String, r.maskUri),
      kv('ResultSeq', DataType.UInt32, r.resultSeq),
      kv('StationId', DataType.String, r.stationId),
    ];
  }
  /** Everything the ResultDataType, the ResultReady event and GetResultComponentsById carry, once. */
  fields(r: MvResult, jobId: string) {
    return {
      resultId: this.id('ResultIdDataType', r.resultId),
      isPartial: false,
      resultState: resultStateOf(r.outcome, r.noVerdictReason),
      partId: r.partId ? this.id('PartIdDataType', r.partId) : undefined,
      externalRecipeId: r.recipeId > 0 ? this.recipeId('RecipeIdExternalDataType', r.recipeId, r.referenceVersion, r.recipeName) : undefined,
      internalRecipeId: this.recipeId('RecipeIdInternalDataType', r.recipeId, r.referenceVersion, r.recipeName),
      productId: r.recipeName ? this.id('ProductIdDataType', r.recipeName) : undefined,
      internalConfigurationId: this.id('ConfigurationIdDataType', r.modelVersion || 'none'),
      jobId: this.id('JobIdDataType', jobId),
      creationTime: r.decidedAt,
      processingTimes: this.make('ProcessingTimesDataType', { startTime: r.acquiredAt, endTime: r.decidedAt, processingDuration: r.processingMs }),
      resultContent: this.content(r),
    };
  }
  result(r: MvResult, jobId: string): ExtensionObject {
    const f = this.fields(r, jobId);
    return this.make('ResultDataType', Object.fromEntries(Object.entries(f).filter(([, v]) => v !== undefined)));
  }
}
