/**
 * A keyed work queue in the style of client-go's: a key added many times
 * before a worker takes it is processed once; a key is never processed by
 * two workers at once (an add while it is processing marks it dirty and it
 * runs again after); failed keys come back after an exponential backoff.
 * Urgent keys (a deployment created or changed) go before the others: in a
 * burst, a new deployment's pods are created before another's status is refreshed.
 */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): { unref?: () => void };
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface BackoffSettings {
  readonly baseMs: number;
  readonly maxMs: number;
}

export class WorkQueue {
  private readonly urgent: string[] = [];
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  private readonly processing = new Set<string>();
  /** Keys added while processing, to run again after; true where one of those adds was urgent. */
  private readonly dirty = new Map<string, boolean>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, unknown>();
  private readonly waiters: Array<(key: string | undefined) => void> = [];
  private shuttingDown = false;

  constructor(
    private readonly backoff: BackoffSettings,
    private readonly clock: Clock = systemClock,
  ) {}

  get length(): number {
    return this.urgent.length + this.queue.length;
  }

  /** Queues the key once; an urgent add of a key already queued moves it ahead of the others. */
  add(key: string, urgent = false): void {
    if (this.shuttingDown) return;
    if (this.processing.has(key)) {
      this.dirty.set(key, urgent || (this.dirty.get(key) ?? false));
      return;
    }
    if (this.queued.has(key)) {
      const at = urgent ? this.queue.indexOf(key) : -1;
      if (at >= 0) this.urgent.push(...this.queue.splice(at, 1));
      return;
    }
    const waiter = this.waiters.shift();
    if (waiter) {
      this.processing.add(key);
      waiter(key);
      return;
    }
    this.queued.add(key);
    (urgent ? this.urgent : this.queue).push(key);
  }

  /** Adds the key after `ms`; an earlier pending delayed add for the key wins. */
  addAfter(key: string, ms: number): void {
    if (this.shuttingDown) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const existing = this.timers.get(key) as { at: number; handle: unknown } | undefined;
    const at = this.clock.now() + ms;
    if (existing && existing.at <= at) return;
    if (existing) this.clock.clearTimeout(existing.handle);
    const handle = this.clock.setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, ms);
    (handle as { unref?: () => void }).unref?.();
    this.timers.set(key, { at, handle });
  }

  /** Requeues a failed key with backoff: baseMs · 2^(failures-1), capped at maxMs. */
  addRateLimited(key: string): number {
    const n = (this.failures.get(key) ?? 0) + 1;
    this.failures.set(key, n);
    const delay = Math.min(this.backoff.maxMs, this.backoff.baseMs * 2 ** (n - 1));
    this.addAfter(key, delay);
    return delay;
  }

  /** Clears the failure count of a key that was processed successfully. */
  forget(key: string): void {
    this.failures.delete(key);
  }

  /** The next key to process, or undefined after shutDown. Call done(key) after. */
  get(): Promise<string | undefined> {
    const key = this.urgent.shift() ?? this.queue.shift();
    if (key !== undefined) {
      this.queued.delete(key);
      this.processing.add(key);
      return Promise.resolve(key);
    }
    if (this.shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  done(key: string): void {
    this.processing.delete(key);
    const urgent = this.dirty.get(key);
    if (urgent !== undefined) {
      this.dirty.delete(key);
      this.add(key, urgent);
    }
  }

  shutDown(): void {
    this.shuttingDown = true;
    for (const t of this.timers.values()) this.clock.clearTimeout((t as { handle: unknown }).handle);
    this.timers.clear();
    for (const waiter of this.waiters.splice(0)) waiter(undefined);
  }
}
