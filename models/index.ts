// The runtime's public API — what the daemon and the CLI import. Everything is per object: no module state
// (apart from ONNX Runtime's process-wide native log level, set to "fatal" once; see detector.ts).
export { loadPack, type Pack } from './pack.ts';
export {
  createDetector,
  type Detector,
  type DetectorOptions,
  type DetectorLogger,
  type Inference,
  type BranchDiagnostics,
  type Timings,
  type PreparedFrame,
  type Provider,
  type TensorRtOptions,
  type EncodedImage,
  type ShotRegistration,
} from './detector.ts';
export { ShotMemory, deserializeShotMemory } from './shot-memory.ts';
export { decodeImage, resizeForModel, pngKeepingMode, DEFAULT_MAX_PIXELS, type ImageInput, type RawFrame, type RgbImage, type DecodedImage, type PillowMode } from './image.ts';
export { resample, type ResampleFilter, type Raster } from './resample.ts';
export {
  judgeFrame,
  maskPng,
  overlayPng,
  resizeMap,
  calibrateThreshold,
  CALIBRATION_MIN_MARGIN,
  CALIBRATION_SIGMAS,
  CALIBRATION_CAP,
  type FrameVerdict,
  type JudgeOptions,
  type Defects,
  type DefectRegion,
  type Box,
  type ThresholdChoice,
} from './verdict.ts';
export {
  cropRgb, cropDecoded, pointInPolygon, segmentsIntersect, polygonProblem, rectProblem, regionProblems, polygonMask, fuseScore, roiKey,
  type Rect, type Point, type Polygon, type InspectionRegion,
} from './regions.ts';
export { PackError, ImageError, ImageTooLargeError, ShotMemoryError, InferenceError } from './errors.ts';
export { PACK_FORMAT, PACK_FORMAT_VERSION, manifestSchema, type PackManifest } from './manifest.ts';
