import {
  BUILTIN_OBJECTIVES,
  DEFAULT_GPU_MEMORY_UTILIZATION,
  DEFAULT_MAX_MODEL_LEN,
  DoesNotFitError,
  describeCluster,
  GPU_CATALOG,
  InputError,
  MODEL_CATALOG,
  planDeployment,
  WEIGHT_DTYPES,
  whyItDoesNotFit,
} from "@strata/core";
import type { Command } from "commander";
import { formatPlan } from "../plan/format.js";
import { loadModel } from "../plan/load-model.js";
import { DEFAULT_DTYPE, DEFAULT_GPUS_PER_NODE, type PlanFlags, resolvePlanRequest } from "../plan/resolve.js";
import { addGoodputOptions, type GoodputFlags, goodputObjectives } from "./plan-goodput.js";

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** `strata plan`: how to split a model over a cluster, or why it does not fit (exit 2). */
export function registerPlanCommand(program: Command): void {
  addGoodputOptions(program.command("plan"))
    .description(
      "Plan tensor × pipeline × data parallelism for a model on a GPU cluster, with per-GPU memory",
    )
    .option(
      "--model <name|path>",
      `catalog model (${MODEL_CATALOG.map((m) => m.name).join(", ")}) or a path to a config.json or .gguf file`,
    )
    .option("--gpu <gpu>", `GPU kind: ${GPU_CATALOG.map((g) => g.name).join(", ")}`)
    .option("--nodes <n>", "nodes of --gpu (default 1)")
    .option("--gpus-per-node <n>", `GPUs per node (default ${DEFAULT_GPUS_PER_NODE}, 1 for cpu)`)
    .option(
      "--pool <nodes>x<gpus>x<gpu>",
      "a node pool, repeatable for mixed clusters, e.g. --pool 2x8xh100-sxm-80g --pool 1x8xa100-sxm-80g",
      collect,
    )
    .option(
      "--dtype <dtype>",
      `weight precision: ${WEIGHT_DTYPES.join(", ")} (default: the checkpoint's, else ${DEFAULT_DTYPE}; not for GGUF)`,
    )
    .option(
      "--max-model-len <tokens>",
      `longest sequence, prompt + output (default ${DEFAULT_MAX_MODEL_LEN})`,
    )
    .option("--concurrency <n>", "sequences of --max-model-len to hold at once (default 1)")
    .option(
      "--gpu-memory-utilization <fraction>",
      `share of GPU memory to use, (0, 1] (default ${DEFAULT_GPU_MEMORY_UTILIZATION})`,
    )
    .option(
      "--objective <name>",
      `${[...BUILTIN_OBJECTIVES.values()].map((o) => `${o.name}: ${o.description}`).join("; ")} (default throughput)`,
    )
    .option("--json", "print the plan as JSON")
    .action(async (flags: PlanFlags & GoodputFlags) => {
      if (flags.model === undefined) {
        throw new InputError(
          "--model",
          "is required: a catalog name or a path to a config.json or .gguf file",
        );
      }
      const model = await loadModel(flags.model);
      const request = resolvePlanRequest(flags, model);
      const { plan, ranked } = planDeployment(request, { objectives: goodputObjectives(flags) });
      const closest = ranked[0];
      const problem =
        !plan.fits && closest
          ? whyItDoesNotFit(request, closest, { poolFlags: (flags.pool ?? []).length > 0 })
          : undefined;
      const shown = problem ? { ...plan, notes: [...plan.notes, problem] } : plan;
      process.stdout.write(
        flags.json
          ? `${JSON.stringify(shown, null, 2)}\n`
          : formatPlan(shown, describeCluster(request.cluster)),
      );
      if (problem) throw new DoesNotFitError(problem);
    });
}
