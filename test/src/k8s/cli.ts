// `npm run k8s:up` / `npm run k8s:down`: the test control plane for people.
// `up` starts it detached in a fixed directory and prints how to use it;
// `down` stops every process group it recorded and removes the directory.
import { existsSync } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startControlPlane, stopInOrder } from "./control-plane.js";
import { stopProcessGroup } from "./processes.js";

/** Where `up` keeps etcd data, certificates, kubeconfig and logs; `STRATA_K8S_DIR` overrides. */
const DIR = process.env.STRATA_K8S_DIR ?? join(tmpdir(), "strata-k8s-dev");
const STATE_FILE = join(DIR, "state.json");

interface State {
  readonly components: readonly { readonly name: string; readonly pid: number }[];
  readonly kubeconfigPath: string;
}

async function up(): Promise<void> {
  if (existsSync(STATE_FILE)) {
    const state = JSON.parse(await readFile(STATE_FILE, "utf8")) as State;
    console.log(`already running; export KUBECONFIG=${state.kubeconfigPath}  (npm run k8s:down to stop)`);
    return;
  }
  await rm(DIR, { recursive: true, force: true }); // leftovers of a run that never finished starting
  const started = Date.now();
  await mkdir(DIR, { recursive: true });
  const cp = await startControlPlane({ dir: DIR, detached: true });
  const state: State = { components: cp.components, kubeconfigPath: cp.kubeconfigPath };
  await writeFile(STATE_FILE, JSON.stringify(state, null, 2));
  console.log(`control plane ready in ${((Date.now() - started) / 1000).toFixed(1)} s at ${cp.server}`);
  for (const c of cp.components) console.log(`  ${c.name.padEnd(24)} pid ${c.pid}  log ${c.logPath}`);
  console.log(`export KUBECONFIG=${cp.kubeconfigPath}`);
  console.log(
    "Fake GPU nodes: createGpuNodePool() from test/src/k8s, or a Node annotated kwok.x-k8s.io/node=fake.",
  );
  console.log("Stop with: npm run k8s:down");
}

async function down(): Promise<void> {
  if (!existsSync(STATE_FILE)) {
    console.log(`nothing running (no ${STATE_FILE})`);
    await rm(DIR, { recursive: true, force: true });
    return;
  }
  const state = JSON.parse(await readFile(STATE_FILE, "utf8")) as State;
  await stopInOrder(state.components, (c) => stopProcessGroup(c.pid));
  await rm(DIR, { recursive: true, force: true });
  console.log(`stopped ${state.components.length} processes and removed ${DIR}`);
}

const command = process.argv[2];
const action = command === "up" ? up : command === "down" ? down : undefined;
if (action === undefined) {
  console.error("usage: node test/dist/k8s/cli.js up|down");
  process.exit(2);
}
action().catch((err: unknown) => {
  console.error(`k8s:${command}: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
