/**
 * vLLM's CPU backend pins each rank's OpenMP threads to the cores named in
 * VLLM_CPU_OMP_THREADS_BIND: one entry per local rank, separated by `|`
 * (docs/getting_started/installation/cpu.md in vLLM). When every node of a
 * group shares one machine (`strata up`), each node must get its own cores or
 * the ranks' spin-waiting threads fight over the same ones.
 */

/**
 * A VLLM_CPU_OMP_THREADS_BIND value per node that deals `cores` out to the
 * group's ranks in order: 2 cores, 2 nodes of 1 rank → ["0", "1"]; 2 cores,
 * 1 node of 2 ranks → ["0|1"]; 4 cores, 2 nodes of 1 rank → ["0-1", "2-3"].
 * With fewer cores than ranks, ranks share cores round-robin (2 cores, 2
 * nodes of 2 ranks → ["0|1", "0|1"]): slower, but it runs.
 */
export function cpuBindPerNode(cores: number, nodes: number, ranksPerNode: number): string[] {
  const ranks = nodes * ranksPerNode;
  const perRank = Math.max(1, Math.floor(cores / ranks));
  const span = (rank: number) => {
    const first = (rank * perRank) % Math.max(1, cores);
    return perRank === 1 ? String(first) : `${first}-${first + perRank - 1}`;
  };
  return Array.from({ length: nodes }, (_, node) =>
    Array.from({ length: ranksPerNode }, (_, local) => span(node * ranksPerNode + local)).join("|"),
  );
}
