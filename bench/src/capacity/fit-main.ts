/**
 * Regenerates packages/core/src/perf/shipped-factors.ts from a measurements file:
 *   node bench/dist/capacity/fit-main.js bench/data/published.csv > packages/core/src/perf/shipped-factors.ts
 * (fit.test.ts fails while the shipped copy differs from the fit.)
 */
import { readFileSync } from "node:fs";
import { fitTable } from "./fit.js";
import { prepareRows } from "./prepared.js";
import { parsePublishedCsv } from "./published.js";

const file = process.argv[2];
if (file === undefined) {
  process.stderr.write("usage: fit-main.js <published.csv>\n");
  process.exit(2);
}
const table = fitTable(prepareRows(parsePublishedCsv(readFileSync(file, "utf8"), file), file));
process.stdout.write(`/**
 * The factor table Strata ships: fitted by \`bench/src/capacity/fit.ts\` on
 * bench/data/published.csv (regenerate with bench/src/capacity/fit-main.ts; the test
 * fit.test.ts refits and fails when this copy differs), one cell per scope that has
 * at least MIN_ROWS_PER_CELL measurements. Each cell lists the sources it depends on;
 * \`strata bench capacity --validate FILE --cv source\` refits without each source in
 * turn to show how well the factors predict a source they never saw.
 */
import type { FactorTable } from "./efficiency-table.js";

export const SHIPPED_FACTORS: FactorTable = ${JSON.stringify(table, null, 2)};
`);
