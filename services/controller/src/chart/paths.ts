import { fileURLToPath } from "node:url";

/** deploy/helm/strata, found from this module's place in src/ or dist/. */
export const CHART_DIR = fileURLToPath(new URL("../../../../deploy/helm/strata/", import.meta.url));
