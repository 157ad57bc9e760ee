import { readFileSync } from "node:fs";
import { join } from "node:path";
import { modelDeploymentSpecSchema } from "@strata/core";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { catalogShapes } from "../plan/catalog-shapes.js";
import { CHART_DIR } from "./paths.js";
import { renderGeneratedChartFiles } from "./render.js";
import { chartValuesSchema } from "./values-schema.js";

describe("generated chart files", () => {
  const files = renderGeneratedChartFiles(catalogShapes());

  it.each(Object.keys(files))("%s is up to date (run `npm run gen:crd` when this fails)", (path) => {
    const onDisk = readFileSync(join(CHART_DIR, path), "utf8");
    // Biome may reformat JSON, so JSON files are compared as values.
    if (path.endsWith(".json")) expect(JSON.parse(onDisk)).toEqual(JSON.parse(files[path] ?? ""));
    else expect(onDisk).toBe(files[path]);
  });

  it("CRD has the status and scale subresources, short name md and printer columns", () => {
    const crd = parse(files["crds/modeldeployments.yaml"] ?? "");
    const version = crd.spec.versions[0];
    expect(crd.spec.names.shortNames).toEqual(["md"]);
    expect(version.subresources.status).toEqual({});
    expect(version.subresources.scale.specReplicasPath).toBe(".spec.replicas");
    expect(version.additionalPrinterColumns.map((c: { name: string }) => c.name)).toContain("Ready");
  });

  it("CRD schema is structural: no additionalProperties: false and no boolean exclusiveMinimum", () => {
    const text = files["crds/modeldeployments.yaml"] ?? "";
    expect(text).not.toMatch(/additionalProperties: false/);
    expect(text).not.toMatch(/exclusiveMinimum: true/);
    expect(text).not.toMatch(/9007199254740991/);
  });

  it("the chart's values.yaml satisfies the values schema", () => {
    const values = parse(readFileSync(join(CHART_DIR, "values.yaml"), "utf8"));
    expect(() => chartValuesSchema.parse(values)).not.toThrow();
  });
});

describe("ModelDeployment spec schema", () => {
  const minimal = {
    model: { catalog: "llama-3.1-405b", source: { uri: "s3://models/405b" }, servedName: "llama-405b" },
    engine: "vllm",
    gpu: { type: "h100-sxm-80g" },
  };

  it("fills defaults", () => {
    const spec = modelDeploymentSpecSchema.parse(minimal);
    expect(spec.parallelism.mode).toBe("auto");
    expect(spec.replicas).toBe(1);
    expect(spec.rollout).toEqual({ maxSurge: 0, maxUnavailable: 1, drainTimeoutSeconds: 120 });
    expect(spec.gpu.perNode).toBe(8);
  });

  it.each([
    ["engine", { ...minimal, engine: "tgi" }],
    ["replicas", { ...minimal, replicas: -1 }],
    ["gpu", { ...minimal, gpu: {} }],
  ])("rejects a bad %s", (field, input) => {
    const result = modelDeploymentSpecSchema.safeParse(input);
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.path[0]).toBe(field);
  });
});
