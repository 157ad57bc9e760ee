import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { InputError, WORKER_ENV, type WorkerConfig } from "@strata/core";

/**
 * A worker that reads the model (a llama.cpp head, a llama.cpp stage filling
 * its tensor cache, every vLLM node) refuses to start without it: one line
 * naming the variable and the path, instead of an engine failing later with
 * a message of its own. In a pod that line becomes the container's
 * termination message, which the controller puts into the deployment's status.
 */
export function checkModelPresent(config: WorkerConfig): void {
  const reads = config.engine === "vllm" || config.role === "head" || config.rpcCacheDir !== undefined;
  if (!reads) return;
  const path = config.modelPath;
  const fail = (why: string) => {
    throw new InputError(WORKER_ENV.modelPath, `${path} ${why}`);
  };
  if (!existsSync(path)) fail("does not exist on this node");
  const folder = statSync(path).isDirectory();
  if (config.engine === "vllm") {
    if (!folder || !existsSync(join(path, "config.json")))
      fail("is not a Hugging Face model folder on this node (no config.json)");
  } else if (folder) {
    // A folder where the file should be (the controller mounts a hostPath model through its
    // folder, so a missing file stays missing; a folder here is on the node or in the volume).
    fail("is a folder, not a GGUF file, on this node (is the model file there?)");
  }
}
