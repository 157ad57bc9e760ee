/**
 * Predicts serving performance of a plan from first principles:
 *
 * - Decode is a roofline per GPU: each step streams the GPU's weight share and the KV
 *   cache of its sequences from HBM, and multiplies them by the batch on the tensor
 *   cores; the two blend (see `rooflineBlendExponent`), then TP all-reduces (two per
 *   layer), PP hand-offs and a fixed latency per layer (kernels and synchronisation
 *   a small batch cannot hide) add on top. For a mixture of experts a step reads only
 *   the experts its tokens touch (`expectedDistinctExperts`), and expert parallelism
 *   adds a dispatch and a combine all-to-all per MoE layer.
 * - Pipeline parallelism splits the batch into up to `pp` microbatches; a token of a
 *   sequence passes all stages per step, so one decode cycle is `pp` stage-times and
 *   stages idle when there are fewer microbatches than stages (the bubble).
 * - Prefill is compute-bound: prompt FLOPs over the replica's dense peak.
 * - The batch is the smallest of the requested concurrency, what the KV cache holds
 *   and the engine's cap. In steady state every finished sequence is replaced, so
 *   prefill of new prompts is interleaved with decode and stretches each step.
 * - Time to first token is the request's handling outside the GPU, its own prefill, the decode steps of the running
 *   batch its prefill chunks share (plus half a step waiting for the one in progress),
 *   queueing behind other users' prefills (M/D/1) and, above the batch, a slot.
 */
import { DoesNotFitError, InputError } from "../errors.js";
import { DEFAULT_EFFICIENCY, type EfficiencyFactors } from "./efficiency.js";
import {
  attentionFlopsPerToken,
  attentionRanks,
  blendRoofline,
  decodeWeightBytesPerGpu,
  denseFlopsPerToken,
  expertParallelCommS,
  gemmSeconds,
  kvBudgetBytesPerGpu,
  kvBytesPerTokenPerGpu,
  moeLayersPerStage,
  peakFlopsPerS,
  pipelineHopS,
  prefillExpertFlops,
  prefillFlops,
  routedExpertFlopsPerToken,
  stageGpus,
  tensorParallelCommS,
  weightBytesPerGpu,
} from "./roofline.js";
import type {
  DecodeStageBreakdown,
  PerfBottleneck,
  PerfGpu,
  PerfLayout,
  PerfModelShape,
  PerfPrediction,
  PerfWorkload,
} from "./types.js";

function requirePositiveInt(field: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new InputError(field, `must be a positive integer, got ${value}`);
  }
}

function validate(layout: PerfLayout, workload: PerfWorkload): void {
  requirePositiveInt("tp", layout.tp);
  requirePositiveInt("pp", layout.pp);
  if (layout.ep !== undefined) {
    requirePositiveInt("ep", layout.ep);
    if (layout.ep > 1 && layout.ep % layout.tp !== 0) {
      throw new InputError("ep", `must be a multiple of tp=${layout.tp}, got ${layout.ep}`);
    }
  }
  requirePositiveInt("replicas", layout.replicas);
  requirePositiveInt("gpusPerNode", layout.gpusPerNode);
  requirePositiveInt("inputTokens", workload.inputTokens);
  requirePositiveInt("outputTokens", workload.outputTokens);
  if (workload.concurrency !== undefined) requirePositiveInt("concurrency", workload.concurrency);
}

/** Tokens one replica's KV cache holds (over all its attention ranks); throws when the weights leave no room. */
export function kvCapacityTokensPerReplica(
  model: PerfModelShape,
  gpu: PerfGpu,
  layout: PerfLayout,
  eff: EfficiencyFactors = DEFAULT_EFFICIENCY,
): number {
  const budget = kvBudgetBytesPerGpu(model, gpu, layout, eff);
  if (budget <= 0) {
    const needGb = (weightBytesPerGpu(model, layout) / 1e9).toFixed(1);
    throw new DoesNotFitError(
      `weights need ${needGb} GB per GPU at tp=${layout.tp} pp=${layout.pp}, more than the GPU offers after its runtime reserve`,
    );
  }
  return Math.floor(budget / kvBytesPerTokenPerGpu(model, layout)) * attentionRanks(layout);
}

interface DecodeCycle {
  readonly cycleS: number;
  readonly stage: DecodeStageBreakdown;
  readonly bubbleFraction: number;
}

/** One decode cycle of a replica: every sequence of the batch advances one token. */
function decodeCycle(
  model: PerfModelShape,
  gpu: PerfGpu,
  layout: PerfLayout,
  batch: number,
  context: number,
  eff: EfficiencyFactors,
): DecodeCycle {
  const microbatches = Math.min(layout.pp, batch);
  // Rows of one microbatch over the whole stage, and of one attention rank within it.
  const rows = batch / microbatches;
  const rankRows = rows / attentionRanks(layout);
  const gpusPerReplica = stageGpus(layout) * layout.pp;
  const bytes =
    decodeWeightBytesPerGpu(model, layout, rows) + rankRows * context * kvBytesPerTokenPerGpu(model, layout);
  const flops =
    (rows * (denseFlopsPerToken(model) + attentionFlopsPerToken(model, context))) / gpusPerReplica;
  const expertFlops = (rows * routedExpertFlopsPerToken(model)) / gpusPerReplica;
  const moeLayers = moeLayersPerStage(model, layout);
  const stage: DecodeStageBreakdown = {
    memoryS: bytes / (gpu.memoryBandwidthBytesPerS * eff.memoryBandwidth),
    computeS: gemmSeconds(
      flops,
      expertFlops,
      peakFlopsPerS(gpu, layout.weightDtype),
      eff.decodeCompute,
      eff.moeComputeEfficiency,
    ),
    tensorParallelCommS: tensorParallelCommS(model, gpu, layout, model.numLayers / layout.pp, rankRows, eff),
    expertParallelCommS: expertParallelCommS(model, gpu, layout, moeLayers, rows, eff),
    pipelineHopS: pipelineHopS(model, gpu, layout, rankRows, eff),
    layerLatencyS: (model.numLayers / layout.pp) * eff.layerLatencyS + moeLayers * eff.moeLayerLatencyS,
  };
  const stageS =
    blendRoofline(stage.memoryS, stage.computeS, eff.rooflineBlendExponent) +
    stage.tensorParallelCommS +
    stage.expertParallelCommS +
    stage.pipelineHopS +
    stage.layerLatencyS;
  return {
    cycleS: layout.pp * stageS + eff.stepOverheadS,
    stage,
    bubbleFraction: (layout.pp - microbatches) / layout.pp,
  };
}

function bottleneckOf(stage: DecodeStageBreakdown, exponent: number): PerfBottleneck {
  const math = blendRoofline(stage.memoryS, stage.computeS, exponent);
  if (stage.tensorParallelCommS + stage.expertParallelCommS + stage.pipelineHopS > math)
    return "interconnect";
  return stage.memoryS >= stage.computeS ? "memory-bandwidth" : "compute";
}

export function predictPerformance(
  model: PerfModelShape,
  gpu: PerfGpu,
  layout: PerfLayout,
  workload: PerfWorkload,
  eff: EfficiencyFactors = DEFAULT_EFFICIENCY,
): PerfPrediction {
  validate(layout, workload);
  const { inputTokens: isl, outputTokens: osl } = workload;
  const capacityTokens = kvCapacityTokensPerReplica(model, gpu, layout, eff);
  const kvLimit = Math.floor(capacityTokens / (isl + osl));
  if (kvLimit < 1) {
    throw new DoesNotFitError(
      `one sequence of ${isl + osl} tokens needs more KV cache than the ${capacityTokens} tokens a replica holds`,
    );
  }
  const requested =
    workload.concurrency === undefined
      ? Number.POSITIVE_INFINITY
      : Math.ceil(workload.concurrency / layout.replicas);
  const batch = Math.min(requested, kvLimit, eff.maxBatchSequences);

  // Mean context a decode step attends over: the prompt plus half the answer.
  const cycle = decodeCycle(model, gpu, layout, batch, isl + osl / 2, eff);

  const peak = peakFlopsPerS(gpu, layout.weightDtype);
  // Tensor-core seconds of one prompt on one GPU; the GPUs doing it divide this.
  const requestGpuS = gemmSeconds(
    prefillFlops(model, isl),
    prefillExpertFlops(model, isl),
    peak,
    eff.prefillCompute,
    eff.moeComputeEfficiency,
  );
  // Replica time one prompt occupies when stages (and attention ranks) work on different prompts at once.
  const width = stageGpus(layout);
  const moeLayers = moeLayersPerStage(model, layout);
  const prefillOccupancyS =
    requestGpuS / (width * layout.pp) +
    tensorParallelCommS(model, gpu, layout, model.numLayers / layout.pp, isl, eff) / attentionRanks(layout) +
    expertParallelCommS(model, gpu, layout, moeLayers, isl, eff);
  // Latency of one prompt alone: the stages run one after the other, on one attention rank.
  const prefillLatencyS =
    requestGpuS / layout.tp +
    tensorParallelCommS(model, gpu, layout, model.numLayers, isl, eff) +
    expertParallelCommS(model, gpu, layout, moeLayers * layout.pp, isl, eff) +
    (layout.pp - 1) * pipelineHopS(model, gpu, layout, isl, eff);

  const tpotS = cycle.cycleS + (batch * prefillOccupancyS) / osl;
  const replicaTokensPerS = batch / tpotS;
  const requestsPerS = replicaTokensPerS / osl;

  const others = (batch - 1) / batch;
  const prefillLoad = requestsPerS * prefillOccupancyS * others;
  const prefillQueueS = (prefillLoad / (2 * (1 - prefillLoad))) * prefillOccupancyS;
  const slotWaitS = Number.isFinite(requested) && requested > batch ? (requested - batch) / requestsPerS : 0;
  // Chunked prefill: a prompt enters in chunks, each riding on one decode step of the
  // running batch, after waiting for the step in progress (half a step on average).
  const chunks = Math.ceil(isl / eff.prefillChunkTokens);
  const sharedStepsS = others * (chunks + 0.5) * cycle.cycleS;
  const ttftS = eff.requestOverheadS + prefillLatencyS + sharedStepsS + prefillQueueS + slotWaitS;

  const gpus = width * layout.pp * layout.replicas;
  const outputTokensPerS = replicaTokensPerS * layout.replicas;
  return {
    batchPerReplica: batch,
    kvCapacityTokensPerReplica: capacityTokens,
    batchLimitedByKv: kvLimit <= Math.min(requested, eff.maxBatchSequences),
    prefillTokensPerS: (layout.replicas * isl) / prefillOccupancyS,
    ttftMs: ttftS * 1000,
    tpotMs: tpotS * 1000,
    outputTokensPerS,
    outputTokensPerSPerGpu: outputTokensPerS / gpus,
    outputTokensPerSPerUser: 1 / tpotS,
    decodeStage: cycle.stage,
    pipelineBubbleFraction: cycle.bubbleFraction,
    bottleneck: bottleneckOf(cycle.stage, eff.rooflineBlendExponent),
  };
}
