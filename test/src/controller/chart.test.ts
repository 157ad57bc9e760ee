import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parse, parseAllDocuments, stringify } from "yaml";
import { KUBERNETES_VERSION, k8sBinaries } from "../k8s/index.js";
import { CHART_DIR, smallSpec } from "./fixture.js";

// The chart through the real helm binary (built by `node test/dist/setup.js`):
// lint, render, and the values schema generated from the ModelDeployment schema.

const helm = k8sBinaries().helm;

beforeAll(() => {
  if (!existsSync(helm)) throw new Error(`${helm} is missing: run \`node test/dist/setup.js\` first`);
});

function runHelm(args: readonly string[]) {
  const r = spawnSync(helm, args, { encoding: "utf8" });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function render(values?: object) {
  const args = [
    "template",
    "strata",
    CHART_DIR,
    "--namespace",
    "strata-system",
    "--kube-version",
    KUBERNETES_VERSION,
  ];
  if (values) {
    const file = join(mkdtempSync(join(tmpdir(), "strata-values-")), "values.yaml");
    writeFileSync(file, stringify(values));
    args.push("--values", file);
  }
  return runHelm(args);
}

type Doc = { kind?: string; metadata?: { name?: string }; rules?: unknown; spec?: Record<string, unknown> };

describe("Helm chart", () => {
  it("lints clean", () => {
    const r = runHelm(["lint", CHART_DIR]);
    expect(r.err + r.out).not.toMatch(/\[ERROR\]/);
    expect(r.code).toBe(0);
  });

  it("renders the controller with the generated ClusterRole rules, leader election and probes", () => {
    const r = render();
    expect(r.err).toBe("");
    const docs = parseAllDocuments(r.out)
      .map((d) => d.toJS() as Doc)
      .filter(Boolean);
    const role = docs.find((d) => d.kind === "ClusterRole" && d.metadata?.name === "strata-controller");
    const rules = parse(readFileSync(`${CHART_DIR}files/controller-rbac-rules.yaml`, "utf8"));
    expect(role?.rules).toEqual(rules);
    const deploy = docs.find((d) => d.kind === "Deployment" && d.metadata?.name === "strata-controller");
    const text = JSON.stringify(deploy);
    expect(text).toContain("--leader-elect");
    expect(text).toContain("nats://strata-nats.strata-system.svc:4222");
    expect(text).toContain("/readyz");
    expect(docs.map((d) => d.kind)).toEqual(
      expect.arrayContaining(["ServiceAccount", "ClusterRoleBinding", "StatefulSet", "Service"]),
    );
  });

  it("keeps NATS's JetStream store in a volume claim by default, in an emptyDir when asked, and refuses other kinds", () => {
    const nats = (values?: object) =>
      parseAllDocuments(render(values).out)
        .map((d) => d.toJS() as Doc)
        .find((d) => d?.kind === "StatefulSet" && d.metadata?.name === "strata-nats");
    const claimed = nats();
    expect(claimed?.spec?.volumeClaimTemplates).toHaveLength(1);
    expect(JSON.stringify(claimed)).not.toContain("emptyDir");
    const inPod = nats({ nats: { storageType: "emptyDir", storageSize: "256Mi" } });
    expect(inPod?.spec?.volumeClaimTemplates).toBeUndefined();
    expect(JSON.stringify(inPod)).toContain('"emptyDir":{"sizeLimit":"256Mi"}');
    const bad = render({ nats: { storageType: "hostPath" } });
    expect(bad.code).not.toBe(0);
    expect(bad.err).toContain("storageType");
  });

  it("creates ModelDeployments from values, checked by the schema generated from the CRD's source", () => {
    const good = render({ modelDeployments: [{ name: "small", spec: smallSpec() }] });
    expect(good.err).toBe("");
    const md = parseAllDocuments(good.out)
      .map((d) => d.toJS() as Doc)
      .find((d) => d?.kind === "ModelDeployment");
    expect(md?.spec?.engine).toBe("llamacpp");

    const bad = render({ modelDeployments: [{ name: "small", spec: { ...smallSpec(), engine: "tgi" } }] });
    expect(bad.code).not.toBe(0);
    expect(bad.err).toContain("engine");
  });
});
