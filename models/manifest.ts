// The model-pack contract (DESIGN.md, "Model pack contract"). The Python exporter writes exactly this;
// the runtime validates every field before it opens an ONNX file.
import { z } from 'zod';

export const PACK_FORMAT = 'adaptclip-edge/pack';
export const PACK_FORMAT_VERSION = 1;

const sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'a lowercase hex sha256');
const dimension = z.union([z.number().int().positive(), z.string().min(1)]); // number = fixed, string = dynamic axis name

export const tensorSpec = z.strictObject({
  name: z.string().min(1),
  dtype: z.enum(['uint8', 'float32']),
  shape: z.array(dimension).min(1),
});
export type TensorSpec = z.infer<typeof tensorSpec>;

export const onnxFileSpec = z.strictObject({
  path: z.string().regex(/^[A-Za-z0-9._-]+\.onnx$/, 'a plain file name ending in .onnx inside the pack'),
  sha256,
  bytes: z.number().int().positive(),
  inputs: z.array(tensorSpec).min(1),
  outputs: z.array(tensorSpec).min(1),
});
export type OnnxFileSpec = z.infer<typeof onnxFileSpec>;

const sourceFile = z.strictObject({ file: z.string().min(1), sha256 });

export const manifestSchema = z.strictObject({
  format: z.literal(PACK_FORMAT),
  formatVersion: z.literal(PACK_FORMAT_VERSION),
  name: z.string().regex(/^[A-Za-z0-9._-]+$/),
  backbone: z.string().min(1), // e.g. "ViT-L/14@336px", or "tiny-random" for seeded test packs
  image: z.strictObject({
    size: z.number().int().positive(), // S
    patch: z.number().int().positive(), // P
    grid: z.number().int().positive(), // G = S / P
    mean: z.tuple([z.number(), z.number(), z.number()]),
    std: z.tuple([z.number(), z.number(), z.number()]),
    resize: z.literal('bicubic'),
  }),
  model: z.strictObject({
    dim: z.number().int().positive(), // D
    patches: z.number().int().positive(), // N = G*G
    featureLayers: z.array(z.number().int().positive()).min(1), // 1-based block indices
    dpam: z.number().int().positive(),
    nCtx: z.number().int().positive(),
    reduction: z.number().int().positive(), // r of the visual adapter's residual MLPs
    midDim: z.number().int().positive(), // m of the prompt-query heads
    sigma: z.number().positive(),
    topk: z.number().int().positive(), // pooled classification: mean + mean of top-k
    temperature: z.number().positive(), // 0.07
  }),
  // Default image-level threshold when a product has too few shots to calibrate one.
  defaultThreshold: z.number().min(0).max(1),
  provenance: z.strictObject({
    exporter: z.string().min(1),
    clip: sourceFile,
    adapter: sourceFile,
    vocab: sourceFile,
    seed: z.number().int().nullable(), // set for tiny random packs
  }),
  // Absent: fp32 (packs from pack export). int8 / fp16: made by pack convert from the fp32 pack `conversion.from`.
  precision: z.enum(['fp32', 'int8', 'fp16']).optional(),
  conversion: z
    .strictObject({
      from: sha256, // sha256 of the fp32 pack's manifest.json
      method: z.string().min(1),
      tolerance: z.strictObject({ score: z.number().positive(), map: z.number().positive() }),
      worst: z.record(z.string(), z.number()), // the check's largest |converted − fp32| (and the feature cosine)
    })
    .optional(),
  files: z.strictObject({
    encoder: onnxFileSpec,
    zeroShot: onnxFileSpec,
    fewShot: onnxFileSpec,
  }),
});
export type PackManifest = z.infer<typeof manifestSchema>;
