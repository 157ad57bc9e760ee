import { InputError } from "../errors.js";

/**
 * One accelerator kind, with the figures placement and the performance model read.
 * Units are in the field names. Memory in decimal units as datasheets give it
 * (80 GB = 80e9 bytes; drivers report more usable bytes, so the planner's budgets
 * are conservative; reportedMemoryBytes holds the runtime's figure where cited).
 * TFLOPS are dense (without 2:4 sparsity). Link figures are per
 * GPU and per direction (datasheets quote NVLink as both directions added up:
 * "900 GB/s" is 450e9 each way).
 */
/** Who makes the accelerator; efficiency factors fall back to a vendor-wide value. */
export type GpuVendor = "nvidia" | "amd" | "cpu";

/**
 * The architecture generation: GPUs of one family share kernels and libraries, so
 * the performance model's efficiency factors are per family (and engine), not per SKU.
 */
export type GpuFamily = "ampere" | "ada" | "hopper" | "blackwell" | "cdna3" | "cpu";

export interface GpuSpec {
  /** Catalog key, lower-case, as `--gpu` takes it. */
  readonly name: string;
  readonly label: string;
  readonly kind: "gpu" | "cpu";
  readonly vendor: GpuVendor;
  readonly family: GpuFamily;
  readonly memoryBytes: number;
  /**
   * Device memory as the CUDA/ROCm runtime reports it to an engine, where a report
   * is cited: engines take their memory fractions of this figure, so the
   * performance model's KV budget uses it. The planner's budgets keep memoryBytes.
   */
  readonly reportedMemoryBytes?: number;
  readonly memoryBandwidthBytesPerS: number;
  readonly bf16DenseTflops: number;
  /** Absent where the device has no FP8 tensor cores (A100, cpu). */
  readonly fp8DenseTflops?: number;
  /** Per GPU, one direction, to a peer in the same node (NVLink, Infinity Fabric, PCIe). */
  readonly intraNodeLinkBytesPerS: number;
  /** Per GPU, one direction, to a peer in another node (the node's NIC share per GPU). */
  readonly interNodeLinkBytesPerS: number;
  /** Runtime memory outside the planner's budgets: CUDA context, CUDA graphs, NCCL buffers. */
  readonly runtimeOverheadBytes: number;
  /** Public source of each figure, by field name. */
  readonly sources: Readonly<Partial<Record<GpuFigure, string>>>;
}

export type GpuFigure =
  | "memoryBytes"
  | "reportedMemoryBytes"
  | "memoryBandwidthBytesPerS"
  | "bf16DenseTflops"
  | "fp8DenseTflops"
  | "intraNodeLinkBytesPerS"
  | "interNodeLinkBytesPerS"
  | "runtimeOverheadBytes";

const GB = 1e9;
const GIB = 2 ** 30;
// A 400 Gb/s NIC (ConnectX-7 NDR) per GPU is the DGX/HGX H100, H200 and B200 design.
const NDR_400G_PER_GPU = 400e9 / 8;
const DGX_H100 = "https://docs.nvidia.com/dgx/dgxh100-user-guide/introduction-to-dgxh100.html";
const DGX_B200 = "https://docs.nvidia.com/dgx/dgxb200-user-guide/introduction-to-dgxb200.html";
const DGX_A100 = "https://docs.nvidia.com/dgx/dgxa100-user-guide/introduction-to-dgxa100.html";
// vLLM's profiling leaves roughly 1–2 GiB per GPU outside the KV cache for the CUDA
// context, CUDA graphs and NCCL buffers; the planner reserves 1.5 GiB.
// https://docs.vllm.ai/en/latest/configuration/conserving_memory.html
const VLLM_OVERHEAD = "https://docs.vllm.ai/en/latest/configuration/conserving_memory.html";
const CUDA_RUNTIME_OVERHEAD_BYTES = 1.5 * GIB;

const H100_PAGE = "https://www.nvidia.com/en-us/data-center/h100/";
const H200_PAGE = "https://www.nvidia.com/en-us/data-center/h200/";
const A100_DATASHEET =
  "https://www.nvidia.com/content/dam/en-zz/Solutions/Data-Center/a100/pdf/nvidia-a100-datasheet-us-nvidia-1758950-r4-web.pdf";
const L40S_PAGE = "https://www.nvidia.com/en-us/data-center/l40s/";
const HGX_PAGE = "https://www.nvidia.com/en-us/data-center/hgx/";
const MI300X_DATASHEET =
  "https://www.amd.com/content/dam/amd/en/documents/instinct-tech-docs/data-sheets/amd-instinct-mi300x-data-sheet.pdf";
const MI300X_PLATFORM =
  "https://www.amd.com/content/dam/amd/en/documents/instinct-tech-docs/data-sheets/amd-instinct-mi300x-platform-data-sheet.pdf";

export const GPU_CATALOG: readonly GpuSpec[] = [
  {
    name: "h100-sxm-80g",
    label: "H100-SXM-80G",
    kind: "gpu",
    vendor: "nvidia",
    family: "hopper",
    memoryBytes: 80 * GB,
    // PyTorch on an H100 80GB HBM3: "GPU 0 has a total capacity of 79.11 GiB".
    reportedMemoryBytes: 79.11 * GIB,
    memoryBandwidthBytesPerS: 3.35e12,
    // Datasheet: 1,979 BF16 / 3,958 FP8 TFLOPS "with sparsity"; dense is half.
    bf16DenseTflops: 989.5,
    fp8DenseTflops: 1979,
    intraNodeLinkBytesPerS: 450 * GB, // NVLink 900 GB/s bidirectional
    interNodeLinkBytesPerS: NDR_400G_PER_GPU,
    runtimeOverheadBytes: CUDA_RUNTIME_OVERHEAD_BYTES,
    sources: {
      memoryBytes: H100_PAGE,
      reportedMemoryBytes: "https://github.com/vllm-project/vllm/issues/27508",
      memoryBandwidthBytesPerS: H100_PAGE,
      bf16DenseTflops: H100_PAGE,
      fp8DenseTflops: H100_PAGE,
      intraNodeLinkBytesPerS: H100_PAGE,
      interNodeLinkBytesPerS: DGX_H100,
      runtimeOverheadBytes: VLLM_OVERHEAD,
    },
  },
  {
    name: "h200-141g",
    label: "H200-141G",
    kind: "gpu",
    vendor: "nvidia",
    family: "hopper",
    memoryBytes: 141 * GB,
    memoryBandwidthBytesPerS: 4.8e12,
    // Same GH100 compute as H100 SXM: 1,979 BF16 / 3,958 FP8 TFLOPS with sparsity.
    bf16DenseTflops: 989.5,
    fp8DenseTflops: 1979,
    intraNodeLinkBytesPerS: 450 * GB, // NVLink 900 GB/s bidirectional
    interNodeLinkBytesPerS: NDR_400G_PER_GPU,
    runtimeOverheadBytes: CUDA_RUNTIME_OVERHEAD_BYTES,
    sources: {
      memoryBytes: H200_PAGE,
      memoryBandwidthBytesPerS: H200_PAGE,
      bf16DenseTflops: H200_PAGE,
      fp8DenseTflops: H200_PAGE,
      intraNodeLinkBytesPerS: H200_PAGE,
      interNodeLinkBytesPerS: DGX_H100,
      runtimeOverheadBytes: VLLM_OVERHEAD,
    },
  },
  {
    name: "a100-sxm-80g",
    label: "A100-SXM-80G",
    kind: "gpu",
    vendor: "nvidia",
    family: "ampere",
    memoryBytes: 80 * GB,
    memoryBandwidthBytesPerS: 2.039e12,
    bf16DenseTflops: 312,
    intraNodeLinkBytesPerS: 300 * GB, // NVLink 600 GB/s bidirectional
    interNodeLinkBytesPerS: 200e9 / 8, // DGX A100: one 200 Gb/s ConnectX-6 per GPU
    runtimeOverheadBytes: CUDA_RUNTIME_OVERHEAD_BYTES,
    sources: {
      memoryBytes: A100_DATASHEET,
      memoryBandwidthBytesPerS: A100_DATASHEET,
      bf16DenseTflops: A100_DATASHEET,
      intraNodeLinkBytesPerS: A100_DATASHEET,
      interNodeLinkBytesPerS: DGX_A100,
      runtimeOverheadBytes: VLLM_OVERHEAD,
    },
  },
  {
    name: "a100-40g",
    label: "A100-40G",
    kind: "gpu",
    vendor: "nvidia",
    family: "ampere",
    memoryBytes: 40 * GB,
    memoryBandwidthBytesPerS: 1.555e12,
    bf16DenseTflops: 312,
    intraNodeLinkBytesPerS: 300 * GB, // SXM4: NVLink 600 GB/s bidirectional
    interNodeLinkBytesPerS: 200e9 / 8,
    runtimeOverheadBytes: CUDA_RUNTIME_OVERHEAD_BYTES,
    sources: {
      memoryBytes: A100_DATASHEET,
      memoryBandwidthBytesPerS: A100_DATASHEET,
      bf16DenseTflops: A100_DATASHEET,
      intraNodeLinkBytesPerS: A100_DATASHEET,
      interNodeLinkBytesPerS: DGX_A100,
      runtimeOverheadBytes: VLLM_OVERHEAD,
    },
  },
  {
    name: "l40s-48g",
    label: "L40S-48G",
    kind: "gpu",
    vendor: "nvidia",
    family: "ada",
    memoryBytes: 48 * GB,
    memoryBandwidthBytesPerS: 864 * GB,
    // Datasheet: BF16 362.05 / FP8 733 TFLOPS dense (733 / 1,466 with sparsity).
    bf16DenseTflops: 362.05,
    fp8DenseTflops: 733,
    intraNodeLinkBytesPerS: 32 * GB, // no NVLink; PCIe Gen4 x16, 64 GB/s bidirectional
    // No NVIDIA reference figure for L40S servers; assumes one 200 Gb/s NIC per GPU.
    interNodeLinkBytesPerS: 200e9 / 8,
    runtimeOverheadBytes: CUDA_RUNTIME_OVERHEAD_BYTES,
    sources: {
      memoryBytes: L40S_PAGE,
      memoryBandwidthBytesPerS: L40S_PAGE,
      bf16DenseTflops: L40S_PAGE,
      fp8DenseTflops: L40S_PAGE,
      intraNodeLinkBytesPerS: L40S_PAGE,
      runtimeOverheadBytes: VLLM_OVERHEAD,
    },
  },
  {
    name: "b200",
    label: "B200-180G",
    kind: "gpu",
    vendor: "nvidia",
    family: "blackwell",
    // HGX B200: 8 GPUs with 1.4 TB in all (180 GB each), 64 TB/s in all (8 TB/s each).
    memoryBytes: 180 * GB,
    memoryBandwidthBytesPerS: 8e12,
    // HGX B200: FP16/BF16 36 PFLOPS and FP8 72 PFLOPS for 8 GPUs, with sparsity.
    bf16DenseTflops: 2250,
    fp8DenseTflops: 4500,
    intraNodeLinkBytesPerS: 900 * GB, // NVLink 5: 1.8 TB/s bidirectional per GPU
    interNodeLinkBytesPerS: NDR_400G_PER_GPU,
    runtimeOverheadBytes: CUDA_RUNTIME_OVERHEAD_BYTES,
    sources: {
      memoryBytes: HGX_PAGE,
      memoryBandwidthBytesPerS: HGX_PAGE,
      bf16DenseTflops: HGX_PAGE,
      fp8DenseTflops: HGX_PAGE,
      intraNodeLinkBytesPerS: HGX_PAGE,
      interNodeLinkBytesPerS: DGX_B200,
      runtimeOverheadBytes: VLLM_OVERHEAD,
    },
  },
  {
    name: "mi300x",
    label: "MI300X-192G",
    kind: "gpu",
    vendor: "amd",
    family: "cdna3",
    memoryBytes: 192 * GB,
    // AMD states the MI300X's memory as 192 GiB in its vLLM benchmark configuration.
    reportedMemoryBytes: 192 * GIB,
    memoryBandwidthBytesPerS: 5.3e12,
    // Datasheet: peak BF16 1,307.4 and FP8 2,614.9 TFLOPS dense (sparsity doubles them).
    bf16DenseTflops: 1307.4,
    fp8DenseTflops: 2614.9,
    // Seven Infinity Fabric links of 128 GB/s bidirectional: 896 GB/s peer-to-peer in all.
    intraNodeLinkBytesPerS: 448 * GB,
    interNodeLinkBytesPerS: NDR_400G_PER_GPU, // platform: one 400 Gb/s NIC per GPU
    runtimeOverheadBytes: CUDA_RUNTIME_OVERHEAD_BYTES,
    sources: {
      memoryBytes: MI300X_DATASHEET,
      reportedMemoryBytes:
        "https://github.com/ROCm/vllm/blob/040de12d45c16d6de6ad386cc57dd68b8c5b805e/docs/dev-docker/README.md",
      memoryBandwidthBytesPerS: MI300X_DATASHEET,
      bf16DenseTflops: MI300X_DATASHEET,
      fp8DenseTflops: MI300X_DATASHEET,
      intraNodeLinkBytesPerS: MI300X_PLATFORM,
      interNodeLinkBytesPerS: MI300X_PLATFORM,
      runtimeOverheadBytes: VLLM_OVERHEAD,
    },
  },
  {
    // llama.cpp on host memory: a nominal server socket, not a datasheet part.
    // 8 channels of DDR5-4800 (38.4 GB/s each, JEDEC JESD79-5) = 307 GB/s; 64 GB.
    // Between stages on one host, activations cross loopback TCP (~10 GB/s), and
    // 10 GbE between hosts.
    name: "cpu",
    label: "CPU (nominal)",
    kind: "cpu",
    vendor: "cpu",
    family: "cpu",
    memoryBytes: 64 * GB,
    memoryBandwidthBytesPerS: 8 * 38.4 * GB,
    bf16DenseTflops: 2,
    intraNodeLinkBytesPerS: 10 * GB,
    interNodeLinkBytesPerS: 10e9 / 8,
    runtimeOverheadBytes: 0.5 * GIB,
    sources: {
      memoryBandwidthBytesPerS: "https://www.jedec.org/standards-documents/docs/jesd79-5c01",
    },
  },
];

/**
 * A catalog GPU by name, case-insensitive; `h100`, `h200`, `a100` and `l40s`
 * are accepted for the common variant.
 * @throws InputError(field) naming the known GPUs
 */
export function findGpu(name: string, field = "--gpu"): GpuSpec {
  const key = name.trim().toLowerCase();
  const alias: Record<string, string> = {
    h100: "h100-sxm-80g",
    h200: "h200-141g",
    a100: "a100-sxm-80g",
    "a100-80g": "a100-sxm-80g",
    l40s: "l40s-48g",
    "b200-180g": "b200",
    "mi300x-192g": "mi300x",
  };
  const gpu = GPU_CATALOG.find((g) => g.name === (alias[key] ?? key));
  if (!gpu) {
    throw new InputError(field, `unknown GPU "${name}"; known: ${GPU_CATALOG.map((g) => g.name).join(", ")}`);
  }
  return gpu;
}
