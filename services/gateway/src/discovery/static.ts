import { InputError } from "@strata/core";
import type { ReplicaEndpoint, ReplicaSink, ReplicaSource } from "../replicas.js";

/**
 * A fixed list of heads, e.g. from `strata gateway --upstream llama=http://127.0.0.1:8081`.
 * The table can still be changed at run time through `add` and `remove`.
 */
export class StaticReplicaSource implements ReplicaSource {
  readonly name = "static";
  private readonly endpoints: ReplicaEndpoint[];
  private sink: ReplicaSink | undefined;

  constructor(endpoints: readonly ReplicaEndpoint[]) {
    this.endpoints = [...endpoints];
  }

  async start(sink: ReplicaSink): Promise<void> {
    this.sink = sink;
    for (const e of this.endpoints) sink.upsert(e);
  }

  async stop(): Promise<void> {
    this.sink = undefined;
  }

  add(endpoint: ReplicaEndpoint): void {
    this.endpoints.push(endpoint);
    this.sink?.upsert(endpoint);
  }

  remove(id: string): void {
    const i = this.endpoints.findIndex((e) => e.id === id);
    if (i >= 0) this.endpoints.splice(i, 1);
    this.sink?.remove(id);
  }
}

/**
 * Parses `name=url` upstream specs; repeated names become replicas of one
 * model (`static/<name>/<n>`). Only http:// URLs on any host are accepted.
 */
export function parseUpstreams(specs: readonly string[], field = "--upstream"): ReplicaEndpoint[] {
  const counts = new Map<string, number>();
  return specs.map((spec) => {
    const eq = spec.indexOf("=");
    const model = eq > 0 ? spec.slice(0, eq).trim() : "";
    const raw = eq > 0 ? spec.slice(eq + 1).trim() : "";
    if (model === "" || raw === "") throw new InputError(field, `expected name=url, got "${spec}"`);
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new InputError(field, `"${raw}" is not a URL`);
    }
    if (url.protocol !== "http:") throw new InputError(field, `"${raw}" must be an http:// URL`);
    const n = counts.get(model) ?? 0;
    counts.set(model, n + 1);
    return { id: `static/${model}/${n}`, model, url: url.origin };
  });
}
