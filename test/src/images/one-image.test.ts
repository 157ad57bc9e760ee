import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { STRATA_IMAGE } from "@strata/core";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

const repo = (path: string): string => fileURLToPath(new URL(`../../../${path}`, import.meta.url));

interface ImageValues {
  readonly repository: string;
  readonly tag: string;
}

describe("the one Strata image", () => {
  it("is what the chart runs the controller and gateway from", () => {
    const values = parse(readFileSync(repo("deploy/helm/strata/values.yaml"), "utf8")) as Record<
      "controller" | "gateway",
      { image: ImageValues }
    >;
    for (const component of ["controller", "gateway"] as const) {
      const { repository, tag } = values[component].image;
      expect(`${repository}:${tag}`).toBe(STRATA_IMAGE);
    }
  });

  it("is the CRD's default worker image", () => {
    const crd = parse(readFileSync(repo("deploy/helm/strata/crds/modeldeployments.yaml"), "utf8"));
    const spec = crd.spec.versions[0].schema.openAPIV3Schema.properties.spec;
    expect(spec.properties.images.properties.worker.default).toBe(STRATA_IMAGE);
    expect(spec.properties.images.default.worker).toBe(STRATA_IMAGE);
  });

  it("has `strata` as its entry point", () => {
    const dockerfile = readFileSync(repo("deploy/images/Dockerfile"), "utf8");
    expect(dockerfile).toMatch(/^ENTRYPOINT \["strata"\]$/m);
  });
});
