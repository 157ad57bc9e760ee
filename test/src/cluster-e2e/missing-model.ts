import { existsSync } from "node:fs";
import { CONDITION_TYPES, type ModelDeployment } from "@strata/core";
import type { Deployments } from "../controller/fixture.js";
import { serving } from "../controller/live-fixture.js";
import { deploymentSpec, type ReleaseShape, SERVED_NAME } from "./chart-values.js";
import { requireThat } from "./checks.js";
import { greedyTokens, type openaiClient } from "./gateway-client.js";

const NAME = "nomodel";
const WAIT_MS = 240_000;

/**
 * Bad input on the real nodes: a ModelDeployment whose model file is not on
 * the node. Its worker exits 2 with one line naming STRATA_MODEL_PATH; that
 * line (the container's termination message) reaches the Degraded condition,
 * and after a second failure the group backs off instead of crash-looping.
 * The node is left as it was (no folder made where the file belongs), and
 * the deployment `other` keeps serving with its pods untouched.
 */
export async function checkMissingModel(
  mds: Deployments,
  shape: ReleaseShape,
  other: string,
  client: ReturnType<typeof openaiClient>,
  say: (line: string) => void,
): Promise<void> {
  const uids = async () =>
    (await mds.pods(other))
      .map((p) => p.metadata?.uid ?? "")
      .sort()
      .join(",");
  const before = await uids();
  const base = deploymentSpec({ ...shape, replicas: 1 });
  say(`ModelDeployment ${NAME}: its hostPath model file is missing on the nodes`);
  await mds.create(NAME, {
    ...base,
    model: { ...base.model, source: { hostPath: `${shape.modelDir}/missing.gguf` }, servedName: NAME },
    parallelism: { mode: "explicit", tp: 1, pp: 1 },
  });
  const degraded = (md: ModelDeployment) => mds.condition(md, CONDITION_TYPES.degraded)?.message ?? "";
  const md = await mds.waitFor(
    "the missing model in the status, backing off",
    NAME,
    WAIT_MS,
    (m) =>
      /STRATA_MODEL_PATH: .* does not exist on this node/.test(
        `${degraded(m)} ${m.status?.groups?.[0]?.message ?? ""}`,
      ) && m.status?.groups?.[0]?.phase === "Backoff",
  );
  say(`${NAME}: Degraded: ${degraded(md)}`);
  say(`${NAME}: group 0: ${md.status?.groups?.[0]?.phase}: ${md.status?.groups?.[0]?.message}`);
  requireThat(degraded(md).split("\n").length === 1, "the Degraded condition is one line");
  const missing = `/models${shape.modelDir}/missing.gguf`;
  requireThat(
    [degraded(md), md.status?.groups?.[0]?.message ?? ""].some(
      (text) => text.includes(missing) && / on node \S+ exited/.test(text),
    ),
    `the status names the node and the model's path there (${missing})`,
  );
  // The real nodes share this machine's file system: the missing file must stay missing there
  // (mounted itself, containerd would have made it an empty folder).
  const onNode = `${shape.modelDir}/missing.gguf`;
  requireThat(!existsSync(onNode), `nothing was created at ${onNode} on the node`);
  const still = await mds.get(other);
  requireThat(serving(still, 2), `${other} still serves 2 replicas beside ${NAME}`);
  requireThat((await uids()) === before, `${other}'s pods are untouched`);
  const answer = await greedyTokens(client, SERVED_NAME, "Hello", 2);
  requireThat(answer.tokens.length === 2, `${other} answers beside ${NAME}`);
  await mds.delete(NAME);
}
