/**
 * @blvnet/data: datasets in the official on-disk layouts, TSN-style sampling and augmentation, a
 * prefetching batch loader, video frame extraction, and the synthetic temporal-order benchmark.
 */
export { openDataset, type Dataset, type DatasetFormat, type OpenOptions } from "./dataset.js";
export { createLoader, type Batch, type Loader, type LoaderOptions, type LoaderStats } from "./loader.js";
export { synthesize, SYNTH_DEFAULT_LEVEL, SYNTH_FORMAT, type SynthOptions, type SynthResult } from "./synth.js";
export { createSynthLoader, type SynthLoaderOptions } from "./synth-stream.js";
export { renderClip, SYNTH_CLASSES, SYNTH_LEVELS, SYNTH_MAX_LEVEL, type SynthClass } from "./render.js";
export { extractVideos, type ExtractOptions, type ExtractResult } from "./extract.js";
export { DataError, formatBadSample, type BadSample, type SourceLine } from "./errors.js";
export { checkSamples, recordProblem } from "./check.js";
export type { VideoRecord } from "./record.js";
export type { ClipLayout, ClipSpec } from "./clip.js";
export { parseList, listLine, type ListFormat } from "./lists.js";
export { DEFAULT_TEMPLATE, TSN_TEMPLATE } from "./frames.js";
export { Rng, deriveSeed } from "@blvnet/core";
export {
  segmentIndicesTrain,
  segmentIndicesTest,
  denseIndicesTrain,
  denseIndicesTest,
  sampleClips,
  type SamplingMode,
  type SamplingOptions,
} from "./sampling.js";
export {
  fixCropOffsets,
  multiScaleCropSizes,
  trainView,
  testViews,
  scaleShortSide,
  centerCrop,
  threeCrops,
  defaultScaleSize,
  MULTI_SCALES,
  type Rect,
  type ViewPlan,
} from "./geometry.js";
