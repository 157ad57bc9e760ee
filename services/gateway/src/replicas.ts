/**
 * The gateway's view of replica heads: what discovery reported (endpoint,
 * heartbeat load) plus what the gateway itself knows (requests it has in
 * flight to each head, recent connection failures).
 */

/** One replica head as a discovery source reports it. */
export interface ReplicaEndpoint {
  /** Unique across sources, e.g. `default/llama-405b/0` or `static/llama/1`. */
  readonly id: string;
  /** The served model name clients put in `model`. */
  readonly model: string;
  /** Base URL of the head's OpenAI server, e.g. `http://10.0.0.7:8080`. */
  readonly url: string;
}

/** Load a head reported in its latest heartbeat. */
export interface ReplicaLoad {
  /** Requests queued at the head, not yet scheduled. */
  readonly waiting: number;
  /** Fraction of the KV cache in use, 0..1. */
  readonly kvUsage: number;
  /** When the heartbeat was taken (epoch ms); stale load is ignored. */
  readonly atMs: number;
}

/** Where a discovery source pushes what it sees. */
export interface ReplicaSink {
  upsert(endpoint: ReplicaEndpoint): void;
  /** Removes the replica; with `url`, only if it is still the head at that URL. */
  remove(id: string, url?: string): void;
  reportLoad(id: string, load: ReplicaLoad): void;
  /**
   * Whether the head takes new requests (it reports `ready`); a draining head
   * stays known, so its in-flight requests finish, but gets nothing new. With
   * `url`, only if it is still the head at that URL.
   */
  setServing(id: string, serving: boolean, url?: string): void;
}

/**
 * A discovery source: Kubernetes EndpointSlices, NATS heartbeats, or a static
 * list. `start` resolves once the initial listing is in the sink.
 */
export interface ReplicaSource {
  readonly name: string;
  start(sink: ReplicaSink): Promise<void>;
  stop(): Promise<void>;
}

export interface ReplicaState {
  readonly endpoint: ReplicaEndpoint;
  /** Requests this gateway has sent and not yet finished. */
  outstanding: number;
  load: ReplicaLoad | undefined;
  /** Until this time (epoch ms) the head is skipped after a failed connection. */
  ejectedUntilMs: number;
  /** False while the head drains, stops or restarts its engine: no new requests. */
  serving: boolean;
}

/** The live set of replicas, keyed by id; discovery sources write, the router reads. */
export class ReplicaTable implements ReplicaSink {
  private readonly byId = new Map<string, ReplicaState>();
  private readonly onChange: (() => void) | undefined;

  constructor(onChange?: () => void) {
    this.onChange = onChange;
  }

  upsert(endpoint: ReplicaEndpoint): void {
    const existing = this.byId.get(endpoint.id);
    if (existing && existing.endpoint.url === endpoint.url && existing.endpoint.model === endpoint.model)
      return;
    // A moved head (new URL) keeps its in-flight count: those requests still finish.
    this.byId.set(endpoint.id, {
      endpoint,
      outstanding: existing?.outstanding ?? 0,
      load: undefined,
      ejectedUntilMs: 0,
      serving: true,
    });
    this.onChange?.();
  }

  remove(id: string, url?: string): void {
    const state = this.byId.get(id);
    if (!state || (url !== undefined && state.endpoint.url !== url)) return;
    this.byId.delete(id);
    this.onChange?.();
  }

  setServing(id: string, serving: boolean, url?: string): void {
    const state = this.byId.get(id);
    if (!state || (url !== undefined && state.endpoint.url !== url)) return;
    state.serving = serving;
  }

  reportLoad(id: string, load: ReplicaLoad): void {
    const state = this.byId.get(id);
    if (state) state.load = load;
  }

  get(id: string): ReplicaState | undefined {
    return this.byId.get(id);
  }

  /** Replicas serving `model`. */
  forModel(model: string): ReplicaState[] {
    const out: ReplicaState[] = [];
    for (const r of this.byId.values()) if (r.endpoint.model === model) out.push(r);
    return out;
  }

  /** Served model names, sorted. */
  models(): string[] {
    return [...new Set([...this.byId.values()].map((r) => r.endpoint.model))].sort();
  }

  all(): ReplicaState[] {
    return [...this.byId.values()];
  }
}
