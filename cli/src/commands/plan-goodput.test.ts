import { InputError } from "@strata/core";
import { describe, expect, it } from "vitest";
import { goodputObjectives } from "./plan-goodput.js";

describe("goodputObjectives", () => {
  it("adds the goodput objective when asked for, with both SLOs", () => {
    const objectives = goodputObjectives({ objective: "goodput", sloTtftMs: 2000, sloTpotMs: 30 });
    expect([...objectives.keys()]).toEqual(["goodput"]);
  });

  it("adds nothing for the built-in objectives", () => {
    expect(goodputObjectives({ objective: "throughput" }).size).toBe(0);
    expect(goodputObjectives({}).size).toBe(0);
  });

  it.each([
    [{ objective: "goodput", sloTpotMs: 30 }, "--slo-ttft-ms: is required with --objective goodput"],
    [{ objective: "goodput", sloTtftMs: 2000 }, "--slo-tpot-ms: is required with --objective goodput"],
    [{ sloTpotMs: 30 }, "--slo-tpot-ms: only applies with --objective goodput"],
    [{ objective: "latency", isl: 100 }, "--isl: only applies with --objective goodput"],
    [{ engine: "trtllm" as const }, "--engine: only applies with --objective goodput"],
  ])("names the flag at fault: %o", (flags, message) => {
    expect(() => goodputObjectives(flags)).toThrow(InputError);
    expect(() => goodputObjectives(flags)).toThrow(message);
  });
});
