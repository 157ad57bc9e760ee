/**
 * GPU datasheet figures for the capacity bench (dense tensor throughput, no
 * sparsity; link bandwidth per GPU and direction). Memory sizes are the
 * datasheet's "GB", which the drivers report as GiB.
 * - H100 SXM: https://www.nvidia.com/en-us/data-center/h100/ (80 GB, 3.35 TB/s,
 *   FP8 3,958 / BF16 1,979 TFLOPS with sparsity, NVLink 900 GB/s both ways)
 * - H200 SXM: https://www.nvidia.com/en-us/data-center/h200/ (141 GB, 4.8 TB/s,
 *   same tensor cores and NVLink as H100)
 * - MI300X: https://www.amd.com/en/products/accelerators/instinct/mi300/mi300x.html
 *   (192 GB, 5.3 TB/s, FP8 2,614.9 / BF16 1,307.4 dense TFLOPS, 7 Infinity Fabric
 *   links of 64 GB/s each way to the other 7 GPUs of the node)
 * Inter-node: one 400 Gb/s NIC per GPU (50 GB/s), as in DGX/HGX and OCI MI300X nodes.
 */
import { InputError } from "@strata/core";
import type { NamedGpu } from "./inputs.js";

const GIB = 2 ** 30;
const NIC_400G_BYTES_PER_S = 50e9;

export const GPU_FIGURES: readonly NamedGpu[] = [
  {
    name: "h100",
    memoryBytes: 80 * GIB,
    memoryBandwidthBytesPerS: 3.35e12,
    bf16DenseTflops: 989.5,
    fp8DenseTflops: 1979,
    intraNodeLinkBytesPerS: 450e9,
    interNodeLinkBytesPerS: NIC_400G_BYTES_PER_S,
  },
  {
    name: "h200",
    memoryBytes: 141 * GIB,
    memoryBandwidthBytesPerS: 4.8e12,
    bf16DenseTflops: 989.5,
    fp8DenseTflops: 1979,
    intraNodeLinkBytesPerS: 450e9,
    interNodeLinkBytesPerS: NIC_400G_BYTES_PER_S,
  },
  {
    name: "mi300x",
    memoryBytes: 192 * GIB,
    memoryBandwidthBytesPerS: 5.3e12,
    bf16DenseTflops: 1307.4,
    fp8DenseTflops: 2614.9,
    intraNodeLinkBytesPerS: 7 * 64e9,
    interNodeLinkBytesPerS: NIC_400G_BYTES_PER_S,
  },
];

const ALIASES: Readonly<Record<string, string>> = { "h100-sxm": "h100", "h200-sxm": "h200" };

export function findGpuFigures(name: string, field: string): NamedGpu {
  const key = name.trim().toLowerCase();
  const gpu = GPU_FIGURES.find((g) => g.name === (ALIASES[key] ?? key));
  if (!gpu) {
    throw new InputError(field, `unknown GPU "${name}"; known: ${GPU_FIGURES.map((g) => g.name).join(", ")}`);
  }
  return gpu;
}
