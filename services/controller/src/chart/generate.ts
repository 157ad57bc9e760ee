#!/usr/bin/env node
// Writes the generated chart files (CRD, values schema, RBAC rules) into deploy/helm/strata.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { catalogShapes } from "../plan/catalog-shapes.js";
import { CHART_DIR } from "./paths.js";
import { renderGeneratedChartFiles } from "./render.js";

for (const [path, contents] of Object.entries(renderGeneratedChartFiles(catalogShapes()))) {
  const target = join(CHART_DIR, path);
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, contents);
  console.log(`wrote ${target}`);
}
