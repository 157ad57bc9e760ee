import { randomBytes } from "node:crypto";
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import { pollUntil } from "./poll.js";

const DEFAULT_SERVICE_ACCOUNT_TIMEOUT_MS = 30_000;

/**
 * Creates a namespace `<prefix>-<random>` and waits for its `default`
 * ServiceAccount, without which the ServiceAccount admission plugin rejects pods.
 */
export async function createTestNamespace(kc: KubeConfig, prefix: string): Promise<string> {
  const core = kc.makeApiClient(CoreV1Api);
  const name = `${prefix}-${randomBytes(3).toString("hex")}`;
  await core.createNamespace({ body: { metadata: { name } } });
  await pollUntil(`ServiceAccount default in ${name}`, DEFAULT_SERVICE_ACCOUNT_TIMEOUT_MS, async () => {
    await core.readNamespacedServiceAccount({ namespace: name, name: "default" });
    return true;
  });
  return name;
}
