import { describe, expect, it } from "vitest";
import { findModel } from "../model/catalog.js";
import { parsePool } from "../planner/cluster.js";
import { type PlanRequest, planDeployment } from "../planner/search.js";
import { GOODPUT_OBJECTIVE_NAME, goodputObjective } from "./goodput-objective.js";

function request(pools: string[]): PlanRequest {
  return {
    model: findModel("llama-3.1-70b"),
    dtype: "fp8",
    cluster: { pools: pools.map((p) => parsePool(p)) },
    workload: { maxModelLen: 4096 },
    objective: GOODPUT_OBJECTIVE_NAME,
  };
}

function plan(pools: string[], slo: { ttftMs: number; tpotMs: number }) {
  const objective = goodputObjective({ slo, inputTokens: 1000, outputTokens: 500 });
  return planDeployment(request(pools), { objectives: new Map([[objective.name, objective]]) });
}

describe("the goodput objective", () => {
  it("picks the layout with the most goodput per GPU and says why", () => {
    const { plan: p, ranked } = plan(["1x8xh100-sxm-80g"], { ttftMs: 2000, tpotMs: 50 });
    expect(p.fits).toBe(true);
    expect(p.objective).toBe("goodput");
    expect(p.why).toMatch(
      /^goodput: most goodput within TTFT ≤ 2000 ms and TPOT ≤ 50.0 ms: [\d.]+ output tokens\/s per GPU/,
    );
    expect(ranked.length).toBeGreaterThan(1);
  });

  it("moves to wider tensor parallelism as the TPOT SLO tightens", () => {
    const loose = plan(["1x8xh100-sxm-80g"], { ttftMs: 10_000, tpotMs: 200 }).plan;
    const tight = plan(["1x8xh100-sxm-80g"], { ttftMs: 10_000, tpotMs: 12 }).plan;
    expect(tight.tp).toBeGreaterThan(loose.tp);
    expect(tight.tp).toBe(8);
  });

  it("says so when no layout meets the SLOs", () => {
    const { plan: p } = plan(["1x8xh100-sxm-80g"], { ttftMs: 1, tpotMs: 1 });
    expect(p.why).toMatch(/no layout meets TTFT ≤ 1.0 ms and TPOT ≤ 1.0 ms; the closest is tp=8/);
  });
});
