/**
 * @blvnet/data: datasets in the official on-disk layouts, TSN-style sampling and augmentation, a
 * prefetching batch loader, video frame extraction, and the synthetic temporal-order benchmark.
 */

export { deriveSeed, Rng } from "@blvnet/core";
export { checkSamples, recordProblem } from "./check.js";
export type { ClipLayout, ClipSpec } from "./clip.js";
export { type Dataset, type DatasetFormat, type OpenOptions, openDataset } from "./dataset.js";
export { type BadSample, DataError, formatBadSample, type SourceLine } from "./errors.js";
export { type ExtractOptions, type ExtractResult, extractVideos } from "./extract.js";
export { DEFAULT_TEMPLATE, TSN_TEMPLATE } from "./frames.js";
export {
  centerCrop,
  defaultScaleSize,
  fixCropOffsets,
  MULTI_SCALES,
  multiScaleCropSizes,
  type Rect,
  scaleShortSide,
  testViews,
  threeCrops,
  trainView,
  type ViewPlan,
} from "./geometry.js";
export { type ListFormat, listLine, parseList } from "./lists.js";
export { type Batch, createLoader, type Loader, type LoaderOptions, type LoaderStats } from "./loader.js";
export type { VideoRecord } from "./record.js";
export { renderClip, SYNTH_CLASSES, SYNTH_LEVELS, SYNTH_MAX_LEVEL, type SynthClass } from "./render.js";
export {
  denseIndicesTest,
  denseIndicesTrain,
  type SamplingMode,
  type SamplingOptions,
  sampleClips,
  segmentIndicesTest,
  segmentIndicesTrain,
} from "./sampling.js";
export { SYNTH_DEFAULT_LEVEL, SYNTH_FORMAT, type SynthOptions, type SynthResult, synthesize } from "./synth.js";
export { createSynthLoader, type SynthLoaderOptions } from "./synth-stream.js";
