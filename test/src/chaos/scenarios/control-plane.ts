/**
 * Scenarios about the controller itself, on KWOK pods (placement only, no
 * workers needed): killing the leader, a node going NotReady, and a restart
 * of kube-apiserver under the controller and the gateway.
 */
import { CoreV1Api } from "@kubernetes/client-node";
import { LABELS } from "@strata/core";
import { liveScenario, liveSpec } from "../../controller/live-fixture.js";
import { isAlive } from "../../e2e/processes.js";
import { setNodeNotReady } from "../../k8s/index.js";
import { restartApiServer } from "../apiserver.js";
import { startGatewayProcess } from "../gateway-process.js";
import { type ChaosContext, check, type Scenario, type ScenarioResult, seconds, until } from "../scenario.js";

const WAIT_MS = 120_000;
/** A group of 2 pods × 4 GPUs fills one 8-GPU node: one group per rack. */
const placementOnly = (pool: string, replicas: number) =>
  liveSpec(pool, { replicas, parallelism: { mode: "explicit", tp: 4, pp: 2 } });

export const leaderScenario: Scenario = {
  name: "kill_leader",
  title: "SIGKILL the leading controller: seconds until the other instance acts",
  async run(ctx: ChaosContext): Promise<ScenarioResult> {
    const env = await ctx.live();
    const s = await liveScenario(env, "chaos-leader", { racks: ["a", "b"], workers: false });
    try {
      const b = await s.addController("chaos-leader-ctl-b");
      const a = s.controllers[0];
      if (!a) throw new Error("no first controller");
      await until("a leader", 30_000, async () => (await a.isLeader()) || (await b.isLeader()));
      const [leader, other] = (await a.isLeader()) ? [a, b] : [b, a];
      const t0 = Date.now();
      leader.kill();
      await s.mds.create("after", placementOnly(s.pool, 1));
      const actedAt = await until("the other controller to create the group", WAIT_MS, async () =>
        (await s.mds.pods("after")).length === 2 ? Date.now() : undefined,
      );
      const leads = await other.isLeader();
      return {
        figures: { seconds_until_other_acts: seconds(t0, actedAt) },
        checks: [check("the standby took the lease and acted", leads, `standby leads: ${leads}`)],
        notes: [
          "`strata controller --leader-elect` ×2, lease 4 s, renew deadline 3 s, retry 0.5 s (the test settings)",
        ],
      };
    } finally {
      await s.stop();
    }
  },
};

const GRACE_SECONDS = 10;

export const nodeNotReadyScenario: Scenario = {
  name: "node_not_ready",
  title: `A node goes NotReady: the controller recreates the group with a pod there after its grace period (${GRACE_SECONDS} s here, 60 s by default)`,
  async run(ctx: ChaosContext): Promise<ScenarioResult> {
    const env = await ctx.live();
    const s = await liveScenario(env, "chaos-node", {
      racks: ["a", "b", "c"],
      workers: false,
      controllerArgs: [`--node-not-ready-grace-seconds=${GRACE_SECONDS}`],
    });
    try {
      await s.mds.create("node", placementOnly(s.pool, 2));
      await s.mds.waitFor("two groups", "node", WAIT_MS, (m) => m.status?.readyReplicas === 2);
      const groups = await s.mds.groups("node");
      const victim = groups.get(0)?.[0]?.spec?.nodeName ?? "";
      const uids = (i: number) => (groups.get(i) ?? []).map((p) => p.metadata?.uid ?? "").sort();
      const [g0, g1] = [uids(0), uids(1)];
      const t0 = Date.now();
      await setNodeNotReady(env.admin, victim);
      const movedAt = await until("group 0 recreated on another node", WAIT_MS, async () => {
        const pods = (await s.mds.groups("node")).get(0) ?? [];
        const moved =
          pods.length === 2 &&
          pods.every(
            (p) => !g0.includes(p.metadata?.uid ?? "") && !!p.spec?.nodeName && p.spec.nodeName !== victim,
          );
        return moved ? Date.now() : undefined;
      });
      const after = ((await s.mds.groups("node")).get(1) ?? []).map((p) => p.metadata?.uid ?? "").sort();
      const untouched = JSON.stringify(after) === JSON.stringify(g1);
      const waited = seconds(t0, movedAt);
      return {
        figures: {
          grace_seconds: GRACE_SECONDS,
          seconds_until_recreated: waited,
          other_groups_touched: untouched ? 0 : 1,
        },
        checks: [
          // The grace counts from the Ready condition's lastTransitionTime, which the
          // API server keeps in whole seconds: up to 1 s before the change.
          check("recreated only after the grace period", waited >= GRACE_SECONDS - 1, `${waited} s`),
          check("the other group is untouched", untouched, untouched ? "same pods" : "group 1 changed"),
        ],
        notes: [
          "KWOK node made NotReady through its Ready condition; the node lifecycle controller would evict after 300 s",
        ],
      };
    } finally {
      await s.stop();
    }
  },
};

export const apiserverScenario: Scenario = {
  name: "apiserver_restart",
  title: "Restart kube-apiserver: controller and gateway recover without restarting, no group duplicated",
  async run(ctx: ChaosContext): Promise<ScenarioResult> {
    const env = await ctx.live();
    const s = await liveScenario(env, "chaos-api", {
      racks: ["a", "b", "c", "d"],
      workers: false,
      // The leader keeps its lease through the restart (it would exit, as it must, past the deadline).
      controllerArgs: [
        "--lease-duration-seconds=60",
        "--renew-deadline-seconds=45",
        "--retry-period-seconds=2",
      ],
    });
    const gateway = await startGatewayProcess(["--kubernetes", "--namespace", s.ns], {
      KUBECONFIG: env.cp.kubeconfigPath,
    });
    let restarted: Awaited<ReturnType<typeof restartApiServer>> | undefined;
    try {
      await s.mds.create("before", placementOnly(s.pool, 2));
      await s.mds.waitFor("two groups", "before", WAIT_MS, (m) => m.status?.readyReplicas === 2);
      await until("the gateway lists the model", 60_000, async () =>
        (await models(gateway.url)).includes("tiny"),
      );
      const controller = s.controllers[0];
      const controllerPid = controller?.child.pid ?? -1;
      restarted = await restartApiServer(env.cp);
      const upAt = Date.now();
      ctx.log(`kube-apiserver back after ${restarted.downMs} ms`);
      await s.mds.create("after", {
        ...placementOnly(s.pool, 1),
        model: { ...placementOnly(s.pool, 1).model, servedName: "after" },
      });
      const controllerAt = await until("the controller to act on a new deployment", WAIT_MS, async () =>
        (await s.mds.pods("after")).length === 2 ? Date.now() : undefined,
      );
      const gatewayAt = await until("the gateway to route the new deployment", WAIT_MS, async () =>
        (await models(gateway.url)).includes("after") ? Date.now() : undefined,
      );
      const duplicates = await duplicatedGroups(env.admin.makeApiClient(CoreV1Api), s.ns, {
        before: 2,
        after: 1,
      });
      const controllerAlive = isAlive(controllerPid) && controller?.child.exitCode === null;
      const gatewayAlive = gateway.alive();
      return {
        figures: {
          apiserver_down_seconds: Math.round(restarted.downMs / 100) / 10,
          seconds_until_controller_acts: seconds(upAt, controllerAt),
          seconds_until_gateway_routes: seconds(upAt, gatewayAt),
          duplicated_groups: duplicates,
          process_restarts: (controllerAlive ? 0 : 1) + (gatewayAlive ? 0 : 1),
        },
        checks: [
          check(
            "controller and gateway kept running",
            controllerAlive && gatewayAlive,
            `controller ${controllerAlive}, gateway ${gatewayAlive}`,
          ),
          check("no group duplicated", duplicates === 0, `${duplicates} groups with more pods than stages`),
        ],
        notes: [
          "kube-apiserver SIGTERMed and started again with the same flags and etcd; `strata gateway --kubernetes` and `strata controller` (lease 60 s, renew deadline 45 s)",
        ],
      };
    } finally {
      await gateway.stop();
      await s.stop();
      await restarted?.stop();
    }
  },
};

async function models(url: string): Promise<string[]> {
  try {
    const body = (await (await fetch(`${url}/v1/models`)).json()) as { data?: { id: string }[] };
    return (body.data ?? []).map((m) => m.id);
  } catch {
    return [];
  }
}

/** Stages with more than one pod, plus groups beyond the replicas each deployment wants. */
async function duplicatedGroups(
  core: CoreV1Api,
  namespace: string,
  replicas: Record<string, number>,
): Promise<number> {
  const pods = (await core.listNamespacedPod({ namespace, labelSelector: LABELS.deployment })).items;
  const perStage = new Map<string, number>();
  const groups = new Map<string, Set<string>>();
  for (const p of pods) {
    const l = p.metadata?.labels ?? {};
    const deployment = l[LABELS.deployment] ?? "";
    const key = `${deployment}/${l[LABELS.replica]}/${l[LABELS.stage]}`;
    perStage.set(key, (perStage.get(key) ?? 0) + 1);
    groups.set(deployment, (groups.get(deployment) ?? new Set()).add(l[LABELS.replica] ?? ""));
  }
  let extra = [...perStage.values()].filter((n) => n > 1).length;
  for (const [deployment, set] of groups) extra += Math.max(0, set.size - (replicas[deployment] ?? 0));
  return extra;
}
