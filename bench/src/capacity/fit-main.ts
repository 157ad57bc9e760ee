/**
 * Regenerates packages/core/src/perf/shipped-factors.ts from measurement files:
 *   node bench/dist/capacity/fit-main.js bench/data/published.csv bench/data/published-moe.csv \
 *     > packages/core/src/perf/shipped-factors.ts
 * (fit.test.ts fails while the shipped copy differs from the fit.)
 */
import { readFileSync } from "node:fs";
import { fitTables } from "./fit.js";
import { prepareRows } from "./prepared.js";
import { parsePublishedCsv } from "./published.js";

const files = process.argv.slice(2);
if (files.length === 0) {
  process.stderr.write("usage: fit-main.js <published.csv> [<published-moe.csv>…]\n");
  process.exit(2);
}
const rows = files.flatMap((file) => prepareRows(parsePublishedCsv(readFileSync(file, "utf8"), file), file));
const tables = fitTables(rows);
process.stdout.write(`/**
 * The factor tables Strata ships: fitted by \`bench/src/capacity/fit.ts\` on
 * bench/data/published.csv and bench/data/published-moe.csv (regenerate with
 * bench/src/capacity/fit-main.ts; the test fit.test.ts refits and fails when this copy
 * differs), one cell per scope that has at least MIN_ROWS_PER_CELL measurements: the
 * dense table from the dense models' rows, the mixture-of-experts table from the MoE
 * models' rows over it. Each cell lists the sources it depends on;
 * \`strata bench capacity --validate FILES --cv source\` refits without each source in
 * turn to show how well the factors predict a source they never saw.
 */
import type { FactorTable, MoeFactorTable } from "./efficiency-table.js";

export const SHIPPED_FACTORS: FactorTable = ${JSON.stringify(tables.dense, null, 2)};

export const SHIPPED_MOE_FACTORS: MoeFactorTable = ${JSON.stringify(tables.moe, null, 2)};
`);
