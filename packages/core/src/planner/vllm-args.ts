import { InputError } from "../errors.js";

/** A plan's parallelism as the vLLM engine needs it (Plan, Candidate and PlanStatus all have these). */
export interface ParallelLayout {
  readonly tp: number;
  readonly pp: number;
  /** 1 (or absent): experts split by tensor parallelism; above 1: expert parallelism over ep GPUs per stage. */
  readonly ep?: number;
}

/**
 * The `vllm serve` flags of one replica's parallelism. Without expert
 * parallelism: `--tensor-parallel-size tp --pipeline-parallel-size pp`. With
 * it, vLLM sizes the expert-parallel group as TP × DP
 * (https://docs.vllm.ai/en/latest/serving/expert_parallel_deployment/:
 * "EP_SIZE = TP_SIZE × DP_SIZE"), so ep GPUs per stage are
 * `--data-parallel-size ep/tp --enable-expert-parallel`: attention weights are
 * replicated on the ep/tp data-parallel ranks and the experts split over all ep
 * GPUs. Multi-node launch flags (--nnodes, --node-rank, --data-parallel-address
 * and the like) are the worker's, not the plan's.
 * @throws InputError("ep") when ep is not a multiple of tp
 */
export function vllmParallelArgs(layout: ParallelLayout): string[] {
  const { tp, pp } = layout;
  const ep = layout.ep ?? 1;
  const args = ["--tensor-parallel-size", String(tp), "--pipeline-parallel-size", String(pp)];
  if (ep <= 1) return args;
  if (ep % tp !== 0) throw new InputError("ep", `${ep} is not a multiple of tp=${tp}`);
  return [...args, "--data-parallel-size", String(ep / tp), "--enable-expert-parallel"];
}
