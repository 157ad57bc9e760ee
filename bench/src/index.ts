export {
  type CapacitySweepArgs,
  parseFleets,
  runCapacitySweep,
  runCapacityValidation,
  validatePublishedFile,
} from "./capacity/run.js";
export type { SweepPoint } from "./capacity/sweep.js";
export { CV_MODES, type CvMode, type ValidationReport, type ValidationRow } from "./capacity/validate.js";
export type { LoadOptions, LoadResult } from "./load/run-load.js";
export { runLoad } from "./load/run-load.js";
export {
  DEFAULT_LOAD_TIME_LAYERS,
  formatLoadTimeReport,
  LOAD_TIME_MODEL_SHAPE,
  type LoadTimeOptions,
  type LoadTimeResult,
  runLoadTimeBench,
} from "./load-time/run.js";
export {
  DEFAULT_MESSAGE_SIZES,
  formatTransportReport,
  runTransportBench,
  type TransportBenchOptions,
  type TransportBenchResult,
  type TransportSummary,
  transportSummary,
} from "./transport/run.js";
