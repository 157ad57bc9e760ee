import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { runCommand } from "../host/commands.js";
import { k8sBinaries } from "../k8s/index.js";

/** The chart as users install it: deploy/helm/strata in this checkout. */
export const CHART_DIR = fileURLToPath(new URL("../../../deploy/helm/strata/", import.meta.url));

/**
 * The real helm binary (built by `node test/dist/setup.js`) against one
 * cluster, as a platform team runs it: every call writes its values to a file
 * and passes it with `--values`, so what was installed can be read back.
 */
export class Helm {
  private calls = 0;

  constructor(
    private readonly kubeconfigPath: string,
    private readonly dir: string,
    private readonly log: (line: string) => void,
  ) {}

  /** `helm upgrade --install --wait`: the release's objects exist and its Deployments are available. */
  async apply(release: string, namespace: string, values: object, timeoutS: number): Promise<void> {
    const file = join(this.dir, `values-${++this.calls}.yaml`);
    await writeFile(file, stringify(values));
    await this.run([
      "upgrade",
      "--install",
      release,
      CHART_DIR,
      "--namespace",
      namespace,
      "--create-namespace",
      "--values",
      file,
      "--wait",
      "--timeout",
      `${timeoutS}s`,
    ]);
  }

  /** `helm uninstall --wait`: the release's objects are deleted (the CRD stays, as Helm leaves `crds/` alone). */
  async uninstall(release: string, namespace: string, timeoutS: number): Promise<void> {
    await this.run(["uninstall", release, "--namespace", namespace, "--wait", "--timeout", `${timeoutS}s`]);
  }

  /** The release's revision number, from `helm status`. */
  async revision(release: string, namespace: string): Promise<number> {
    const out = await this.run(["status", release, "--namespace", namespace, "--output", "json"], true);
    return (JSON.parse(out) as { version: number }).version;
  }

  private run(args: readonly string[], quiet = false): Promise<string> {
    if (!quiet) this.log(`helm ${args.join(" ")}`);
    return runCommand(k8sBinaries().helm, [...args, "--kubeconfig", this.kubeconfigPath]);
  }
}
