import type { HeadWorkerConfig } from "./head.js";
import type { StageWorkerConfig } from "./stage.js";

/** Environment variable carrying a worker's JSON configuration. */
export const WORKER_CONFIG_ENV = "STRATA_WORKER_CONFIG";

export type WorkerConfig = StageWorkerConfig | HeadWorkerConfig;
