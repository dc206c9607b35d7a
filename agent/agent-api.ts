// The HTTP port (agent/http/api.ts) implemented from the running agent's parts. `deps` is structural on purpose:
// this file never imports the daemon (that would close the daemon -> http -> daemon cycle again).
import { protocolForUi } from '../adapters/protocol.ts';
import { httpSchema } from './config/schema.ts';
import type { Activation, AgentApi, HealthReport, LiveFrame, ShotList, StationCounts, StationPort, StationView, TriggerMode, TriggerReceipt } from './http/api.ts';
import type { Frame, Reference, SourceStatus, StationStatus } from './pipeline/ports.ts';
import type { Store } from './store/store.ts';
// ---- evidence behind verdicts ----
import { createEvidence, type EvidenceStore } from './evidence.ts';
// ---- guided shot capture, shot-quality advice, reference sets ----
import { createReferenceSets } from './reference-sets.ts';
import { createShotAdvice } from './shot-advice.ts';
import { createShotCapture } from './shot-capture.ts';
import type { ImageJudgement, ShotReview } from './pipeline/changeover.ts';
import type { ThresholdChoice } from '../models/verdict.ts';
// ---- threshold workbench ----
import { createThresholds } from './thresholds.ts';
// ---- inspection regions ----
import { createRegions } from './regions.ts';
// ---- line overview and shift counters ----
import { createOverview, type OverviewStore } from './overview.ts';

/** What the API reads of a station (agent/pipeline/station.ts's Station has all of it). */
export interface StationLike {
  readonly id: string;
  readonly cameraId: string;
  readonly triggerMode: TriggerMode;
  readonly source: { trigger?: unknown };
  readonly live: LiveFrame | null;
  readonly latestFrame: Frame | null;
  readonly counters: { captured: number; outcomes: Record<string, number> };
  readonly pending: number;
  readonly queue: { readonly length: number; readonly capacity: number; readonly policy: string };
  status(): SourceStatus;
  trigger(partId: string): Promise<TriggerReceipt>;
}

export interface ChangeoverLike {
  current(stationId: string): Reference;
  activate(stationId: string, productId: number | null, actor: string): Promise<{ reference: Reference; ms: number; encodedShots: number }>;
  refreshProduct(productId: number): Promise<void>;
  shotScores(productId: number): Promise<{ shotId: number; looScore: number | null }[]>;
  // ---- guided shot capture, shot-quality advice ----
  judgeImage(productId: number, image: Buffer): Promise<ImageJudgement>;
  shotReview(productId: number): Promise<{ threshold: ThresholdChoice; referenceSet: number; shots: ShotReview[] }>;
}

export type StoreLike = Pick<Store, 'auditLog' | 'listProducts' | 'requireProduct' | 'createProduct' | 'updateProduct' | 'deleteProduct'
  | 'listShots' | 'addShot' | 'shotPng' | 'deleteShot' | 'queryResults' | 'getResult' | 'resultMask'> & EvidenceStore
  // ---- guided shot capture, shot-quality advice, reference sets ----
  & Pick<Store, 'getShot' | 'isShotRetired' | 'referenceSets' | 'restoreReferenceSet' | 'currentReferenceSet' | 'resultImage'>
  // ---- threshold workbench ----
  & Pick<Store, 'productScores'>
  // ---- line overview and shift counters ----
  & OverviewStore
  // ---- inspection regions ----
  & Pick<Store, 'productRegion' | 'putProductRegion'>;

export interface AgentApiDeps<S extends StationLike = StationLike> {
  version: string;
  configFile: string;
  configProblems: readonly string[];
  dataDir: string;
  startedAt: number;
  /** Running stations by id (the live map: hot reload adds and removes entries). */
  stations: ReadonlyMap<string, S>;
  /** In pack safe mode a stand-in whose every use throws UnavailableError (503): nothing here touches it early. */
  store: StoreLike;
  changeover: ChangeoverLike;
  metrics: { registry: { contentType: string; metrics(): Promise<string> }; changeoverSeconds: { observe(seconds: number): void } };
  safeMode(): boolean;
  packId(): string;
  /** The inference worker, null while there is none (safe mode, start-up). */
  worker(): { provider: string } | null;
  health(): HealthReport;
  counters(): Record<string, StationCounts>;
  stationStatus(station: S): StationStatus;
  /** Publishes the stations' changed statuses and alarms to the sinks (and the gauges). */
  publishStatuses(): void;
  token(): string | undefined;
  /** http.maxUploadPixels; undefined without a config (safe mode): the schema default applies. */
  maxUploadPixels(): number | undefined;
  log: { error(fields: Record<string, unknown>, message: string): void };
}

const modeOf = (shots: number): 'few-shot' | 'zero-shot' => (shots ? 'few-shot' : 'zero-shot');

export function createAgentApi<S extends StationLike>(deps: AgentApiDeps<S>): AgentApi {
  const { store, changeover, stations } = deps;

  const shotsWithScores = async (productId: number): Promise<ShotList> => {
    const shots = store.listShots(productId);
    let scores = new Map<number, number | null>();
    let note = '';
    try {
      scores = new Map((await changeover.shotScores(productId)).map((s) => [s.shotId, s.looScore]));
      if (shots.length < 2) note = 'leave-one-out scores need at least 2 shots';
    } catch (err) {
      note = `scores unavailable: ${(err as Error).message}`;
    }
    return { note, shots: shots.map((s) => ({ ...s, looScore: scores.get(s.id) ?? null, imageUrl: `/api/shots/${s.id}/image.png` })) };
  };

  const stationView = (st: S): StationView => {
    const ref = changeover.current(st.id);
    const v = st.live?.verdict;
    let latest: StationView['latest'] = null;
    if (v) {
      // The mask's bytes stay out of the JSON (the UI fetches the mask by its URI).
      const { mask, ...rest } = v;
      let maskMeta: NonNullable<StationView['latest']>['mask'] = null;
      if (mask) {
        const { png: _png, ...meta } = mask;
        maskMeta = meta;
      }
      latest = { ...rest, mask: maskMeta };
    }
    return {
      id: st.id, cameraId: st.cameraId, triggerMode: st.triggerMode, camera: st.status(), status: deps.stationStatus(st),
      reference: { productId: ref.productId, recipeId: ref.recipeId, productName: ref.recipeName, version: ref.version, state: ref.state, shots: ref.shots, mode: modeOf(ref.shots), threshold: ref.threshold, thresholdSource: ref.thresholdSource, detail: ref.detail },
      latest, counters: { captured: st.counters.captured, pending: st.pending, outcomes: st.counters.outcomes }, queue: { depth: st.queue.length, capacity: st.queue.capacity, policy: st.queue.policy },
    };
  };

  const stationPort = (st: S): StationPort => ({
    id: st.id,
    cameraId: st.cameraId,
    triggerMode: st.triggerMode,
    triggerable: st.triggerMode === 'software' && Boolean(st.source.trigger),
    live: () => st.live,
    latestFrame: () => st.latestFrame,
    trigger: (partId) => st.trigger(partId),
  });

  return {
    info: () => ({
      version: deps.version, pack: deps.packId(), provider: deps.worker()?.provider ?? 'none', safeMode: deps.safeMode(),
      configFile: deps.configFile, configProblems: [...deps.configProblems], dataDir: deps.dataDir, writable: deps.token() !== undefined,
      stations: [...stations.keys()], startedAt: deps.startedAt, protocol: protocolForUi(),
    }),
    health: () => deps.health(),
    metrics: async () => {
      deps.publishStatuses();
      return { contentType: deps.metrics.registry.contentType, text: await deps.metrics.registry.metrics() };
    },
    counters: () => deps.counters(),
    audit: (limit) => store.auditLog(limit),

    stationIds: () => [...stations.keys()],
    station: (id) => {
      const st = stations.get(id);
      return st && stationPort(st);
    },
    stations: () => [...stations.values()].map(stationView),
    activate: async (stationId, productId, actor): Promise<Activation> => {
      const r = await changeover.activate(stationId, productId, actor);
      deps.metrics.changeoverSeconds.observe(r.ms / 1000);
      deps.publishStatuses();
      return { stationId, productId, referenceVersion: r.reference.version, mode: modeOf(r.reference.shots), shots: r.reference.shots, threshold: r.reference.threshold, thresholdSource: r.reference.thresholdSource, ms: r.ms, encodedShots: r.encodedShots };
    },

    products: () => {
      const active = new Map<number, string[]>();
      for (const st of stations.values()) {
        const pid = changeover.current(st.id).productId;
        if (pid !== null) active.set(pid, [...(active.get(pid) ?? []), st.id]);
      }
      return store.listProducts().map((p) => ({ ...p, activeOn: active.get(p.id) ?? [], mode: modeOf(p.shotCount) }));
    },
    product: (id) => store.requireProduct(id),
    createProduct: (input, actor) => store.createProduct(input, actor),
    updateProduct: async (id, patch, actor) => {
      const p = store.updateProduct(id, patch, actor);
      await changeover.refreshProduct(id);
      return p;
    },
    deleteProduct: (id, actor) => store.deleteProduct(id, actor),
    shots: async (productId) => {
      store.requireProduct(productId);
      return shotsWithScores(productId);
    },
    addShot: async (productId, shot, actor) => {
      const stored = store.addShot(productId, shot, actor);
      await changeover.refreshProduct(productId);
      return { shot: stored, shots: await shotsWithScores(productId) };
    },
    shotPng: (id) => store.shotPng(id),
    deleteShot: async (id, actor) => {
      const shot = store.deleteShot(id, actor);
      await changeover.refreshProduct(shot.productId);
    },

    results: (filter) => store.queryResults(filter),
    result: (id) => store.getResult(id),
    mask: (id) => store.resultMask(id),

    token: () => deps.token(),
    maxUploadPixels: () => deps.maxUploadPixels() ?? httpSchema.parse({}).maxUploadPixels,
    logError: (fields, message) => deps.log.error(fields, message),
    evidence: createEvidence({ store, stationIds: () => [...stations.keys()] }),

    // ---- guided shot capture, shot-quality advice, reference sets ----
    capture: createShotCapture({ store, changeover }),
    shotAdvice: createShotAdvice({ store, changeover }),
    referenceSets: createReferenceSets({ store, changeover, maxUploadPixels: () => deps.maxUploadPixels() ?? httpSchema.parse({}).maxUploadPixels }),

    // ---- threshold workbench ----
    thresholds: createThresholds({ store, changeover }),

    // ---- line overview and shift counters ----
    overview: createOverview({
      store, views: () => [...stations.values()].map(stationView),
      liveOverlay: (stationId, resultId) => { const live = stations.get(stationId)?.live; return Boolean(live?.judged && live.verdict.resultId === resultId); },
    }),

    // ---- inspection regions ----
    regions: createRegions({
      store, changeover,
      stations: () => [...stations.values()].map((st) => ({ id: st.id, frame: st.latestFrame ? { width: st.latestFrame.width, height: st.latestFrame.height } : null })),
    }),
  };
}
