import { describe, expect, it } from "vitest";
import { WorkQueue } from "./workqueue.js";

describe("WorkQueue", () => {
  it("merges duplicate keys added before a worker takes them", async () => {
    const q = new WorkQueue({ baseMs: 10, maxMs: 100 });
    q.add("a");
    q.add("b");
    q.add("a");
    expect(q.length).toBe(2);
    expect(await q.get()).toBe("a");
    expect(await q.get()).toBe("b");
  });

  it("never hands a key to two workers; an add while processing runs it again after done", async () => {
    const q = new WorkQueue({ baseMs: 10, maxMs: 100 });
    q.add("a");
    const key = await q.get();
    q.add("a");
    expect(q.length).toBe(0);
    q.done(key ?? "");
    expect(q.length).toBe(1);
    expect(await q.get()).toBe("a");
  });

  it("hands out urgent keys first, moving a queued key ahead when it turns urgent", async () => {
    const q = new WorkQueue({ baseMs: 10, maxMs: 100 });
    q.add("a");
    q.add("b");
    q.add("c", true);
    q.add("b", true);
    q.add("c");
    expect(q.length).toBe(3);
    expect([await q.get(), await q.get(), await q.get()]).toEqual(["c", "b", "a"]);
  });

  it("keeps an urgent add made while the key is processed urgent when it runs again", async () => {
    const q = new WorkQueue({ baseMs: 10, maxMs: 100 });
    q.add("a");
    const key = await q.get();
    q.add("b");
    q.add("a", true);
    q.add("a");
    q.done(key ?? "");
    expect([await q.get(), await q.get()]).toEqual(["a", "b"]);
  });

  it("backs off exponentially per key and forgets on success", () => {
    const q = new WorkQueue({ baseMs: 10, maxMs: 35 });
    expect([q.addRateLimited("a"), q.addRateLimited("a"), q.addRateLimited("a")]).toEqual([10, 20, 35]);
    q.forget("a");
    expect(q.addRateLimited("a")).toBe(10);
    q.shutDown();
  });

  it("adds a key after a delay", async () => {
    const q = new WorkQueue({ baseMs: 10, maxMs: 100 });
    q.addAfter("a", 20);
    expect(q.length).toBe(0);
    expect(await q.get()).toBe("a");
    q.shutDown();
    expect(await q.get()).toBeUndefined();
  });
});
