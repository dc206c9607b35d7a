// What the line asks of the agent (OPC UA methods and handshake, MQTT commands), answered with PROTOCOLS.md codes.
import { METHOD_RESULT, RECIPE_STATUS } from '../../adapters/protocol.ts';
import type { LocalResets, SinkCommands, VerdictRecord } from '../../adapters/types.ts';
import type { Station } from '../pipeline/station.ts';

export interface LineCommandDeps {
  stations: ReadonlyMap<string, Station>;
  productByRecipe(recipeId: number): { id: number } | undefined;
  activate(stationId: string, productId: number, actor: string): Promise<unknown>;
  /** The line's counters and latched errors live in the sinks (OPC UA): a reset from any side reaches them. */
  reset(stationId: string, what: keyof LocalResets): void;
  changed(): void;
  log: { info(o: object, m: string): void; warn(o: object, m: string): void; error(o: object, m: string): void };
}

/** Which side of the line asked; 'line' when an adapter did not say. */
export type LineOrigin = 'plc' | 'mqtt' | 'line';

export interface LineCommands extends SinkCommands {
  /**
   * A counters reset from the line goes to this handler instead of straight to the sinks: the shift counters
   * (agent/shifts.ts) open a new shift, and that resets every sink's counters, so one reset from any side resets both.
   */
  onCountersReset(handler: (stationId: string, origin: LineOrigin) => void): void;
}

export function lineCommands(deps: LineCommandDeps): LineCommands {
  let countersReset: ((stationId: string, origin: LineOrigin) => void) | null = null;
  const reset = async (stationId: string, what: keyof LocalResets, origin: LineOrigin = 'line') => {
    if (!deps.stations.has(stationId)) return METHOD_RESULT.notReady;
    if (what === 'resetCounters' && countersReset) countersReset(stationId, origin);
    else deps.reset(stationId, what);
    deps.log.info({ stationId, what, origin }, 'reset requested');
    return METHOD_RESULT.ok;
  };
  return {
    onCountersReset: (handler) => {
      countersReset = handler;
    },
    trigger: async (stationId, partId, triggerSeq) => {
      const st = deps.stations.get(stationId);
      if (!st || st.triggerMode !== 'software' || !st.source.trigger) return METHOD_RESULT.notReady;
      // triggerSeq 0 (MQTT): not a PLC trigger; its result carries triggerSeq 0, like an HTTP trigger's.
      st.trigger(partId, triggerSeq > 0 ? { origin: 'plc', plcTriggerSeq: triggerSeq } : { origin: 'mqtt' })
        .catch((err: Error) => deps.log.warn({ stationId, err: err.message }, 'trigger refused'));
      return METHOD_RESULT.ok;
    },
    triggerTimedOut: async (stationId, triggerSeq, partId): Promise<VerdictRecord | null> =>
      (await deps.stations.get(stationId)?.timeoutTrigger(triggerSeq, partId)) ?? null,
    selectRecipe: async (stationId, recipeId) => {
      if (!deps.stations.has(stationId)) return RECIPE_STATUS.unknownRecipe;
      const product = deps.productByRecipe(recipeId);
      if (!product) return RECIPE_STATUS.unknownRecipe;
      try {
        await deps.activate(stationId, product.id, 'plc');
        deps.changed();
        return RECIPE_STATUS.ok;
      } catch (err) {
        deps.log.error({ stationId, recipeId, err: (err as Error).message }, 'recipe change failed');
        return RECIPE_STATUS.modelError;
      }
    },
    resetError: (stationId) => reset(stationId, 'resetError'),
    resetCounters: (stationId, origin) => reset(stationId, 'resetCounters', origin),
  };
}
