// Response shapes of the API in zod: the OpenAPI document is generated from them and the response test checks real
// answers against it. z.object is closed in the document (additionalProperties: false): a field a handler adds
// without declaring it here fails test/http-openapi.test.ts. Open where the shape is open by design (health details).
import { OUTCOMES } from '../../adapters/protocol.ts';
import { z } from 'zod';

const int = () => z.number().int();
const box = z.tuple([z.number(), z.number(), z.number(), z.number()]).describe('x, y, width, height in frame pixels');
const outcome = z.enum(OUTCOMES);
const productMode = z.enum(['few-shot', 'zero-shot']);
const thresholdSource = z.enum(['override', 'shots', 'pack-default']);

export const info = z.object({
  version: z.string(),
  pack: z.string().describe('active model pack, name@sha ("" without one)'),
  provider: z.string().describe('inference provider (cpu, cuda) or none'),
  safeMode: z.boolean(),
  configFile: z.string(),
  configProblems: z.array(z.string()).describe('where and what is wrong in the config, never a value'),
  dataDir: z.string(),
  writable: z.boolean().describe('http.token is set: writes are possible'),
  stations: z.array(z.string()),
  startedAt: int().describe('epoch ms'),
  protocol: z.object({
    outcomes: z.record(z.string(), z.string()),
    noVerdictReasons: z.array(z.string()),
    verdicts: z.record(z.string(), int()),
    partIdMaxLength: int(),
  }).describe('northbound constants the web UI uses (outcome names, NO_VERDICT reasons, verdict codes, part id limit)'),
});

export const health = z.object({
  ok: z.boolean(),
  safeMode: z.boolean(),
  components: z.record(z.string(), z.looseObject({ ok: z.boolean(), reason: z.string() }).describe('one component; details vary by kind')),
}).describe('pipeline health; 503 when any component is unhealthy');

export const stationCounts = z.object({ captured: int(), pending: int(), outcomes: z.record(z.string(), int()) });

export const counters = z.record(z.string(), stationCounts).describe('by station id');

export const audit = z.array(z.object({ id: int(), at: int(), actor: z.string(), action: z.string(), detail: z.unknown() }));

const sourceStatus = z.object({
  state: z.enum(['starting', 'online', 'offline', 'stopped']),
  since: z.number(),
  framesDelivered: int(),
  badFrames: int(),
  restarts: int(),
  reconnectsLastHour: int(),
  lastError: z.string().optional(),
  stderrTail: z.array(z.string()),
});

const stationStatus = z.object({
  stationId: z.string(),
  state: z.enum(['Preoperational', 'Halted', 'Error', 'Operational']),
  stateNumber: int(),
  ready: z.boolean(),
  busy: z.boolean(),
  cameraConnected: z.boolean(),
  recipeId: int(),
  recipeName: z.string(),
  referenceImageCount: int(),
  modelVersion: z.string(),
  pendingResults: int(),
  errorCode: int(),
  errorText: z.string(),
});

const latestVerdict = z.object({
  resultId: z.string(),
  resultSeq: int(),
  stationId: z.string(),
  cameraId: z.string(),
  partId: z.string(),
  triggerSeq: int(),
  recipeId: int(),
  recipeName: z.string(),
  modelVersion: z.string(),
  referenceVersion: int(),
  outcome,
  noVerdictReason: z.string().optional(),
  verdictCode: int(),
  mode: z.enum(['zero-shot', 'few-shot', 'none']),
  shots: int(),
  anomalyScore: z.number(),
  threshold: z.number(),
  defects: z.object({ count: int(), areaPx: z.number(), areaPct: z.number(), bbox: box, boxes: z.array(box) }),
  mask: z.object({ width: int(), height: int(), sha256: z.string(), uri: z.string() }).nullable(),
  timing: z.object({ acquiredAt: z.string(), decidedAt: z.string(), processingMs: z.number(), queueMs: z.number().optional(), inferenceMs: z.number().optional() }),
  replayed: z.boolean().optional(),
});

export const stations = z.array(z.object({
  id: z.string(),
  cameraId: z.string(),
  triggerMode: z.enum(['free-run', 'software', 'hardware']),
  camera: sourceStatus,
  status: stationStatus,
  reference: z.object({
    productId: int().nullable(), recipeId: int(), productName: z.string(), version: int(), state: z.enum(['ready', 'preparing', 'error']),
    shots: int(), mode: productMode, threshold: z.number(), thresholdSource, detail: z.string(),
  }),
  latest: latestVerdict.nullable().describe('newest verdict (mask bytes left out)'),
  counters: stationCounts,
  queue: z.object({ depth: int(), capacity: int(), policy: z.string() }),
}));

export const triggerReceipt = z.object({ triggerId: int().describe("the result's frameSeq"), triggerSeq: int().describe('0: only PLC triggers carry one') });

export const activation = z.object({
  stationId: z.string(), productId: int().nullable(), referenceVersion: int(), mode: productMode, shots: int(), threshold: z.number(),
  thresholdSource, ms: z.number(), encodedShots: int(),
});

export const product = z.object({
  id: int(), recipeId: int(), name: z.string(), threshold: z.number().nullable(), createdAt: int(), updatedAt: int(), shotCount: int(),
});

export const products = z.array(product.extend({ activeOn: z.array(z.string()).describe('stations it is active on'), mode: productMode }));

export const shot = z.object({ id: int(), productId: int(), width: int(), height: int(), source: z.string(), createdBy: z.string(), createdAt: int() });

export const shotList = z.object({
  note: z.string().describe('why scores are missing, if they are'),
  shots: z.array(shot.extend({ looScore: z.number().nullable().describe('leave-one-out score'), imageUrl: z.string() })),
});

export const shotAdded = z.object({ shot, shots: shotList });

export const deleted = z.object({ deleted: z.literal(true) });

export const result = z.object({
  resultId: z.string(),
  stationId: z.string(),
  resultSeq: int(),
  cameraId: z.string(),
  frameSeq: int(),
  partId: z.string(),
  triggerSeq: int(),
  productId: int().nullable(),
  recipeId: int(),
  referenceVersion: int(),
  packId: z.string(),
  outcome,
  reason: z.string().nullable().describe('NO_VERDICT reason'),
  verdictCode: int(),
  mode: z.string(),
  shots: int(),
  score: z.number(),
  threshold: z.number(),
  defectCount: int(),
  defectAreaPx: z.number(),
  bbox: box,
  capturedAt: int(),
  decidedAt: int(),
  queueMs: z.number().nullable(),
  inferenceMs: z.number().nullable(),
  totalMs: z.number(),
  hasMask: z.boolean(),
  width: int(),
  height: int(),
});

export const results = z.array(result);

export const openapiDocument = z.looseObject({ openapi: z.string(), info: z.looseObject({ title: z.string(), version: z.string() }), paths: z.record(z.string(), z.unknown()) });
