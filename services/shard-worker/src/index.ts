export { type LayerAssignment, parseDeviceEndpoint, parseLayerAssignment } from "./engine/layer-report.js";
export {
  type LlamaServerArgsInput,
  llamaServerArgs,
  type OffloadPlan,
  offloadPlanFor,
  rpcServerArgs,
} from "./engine/llamacpp-args.js";
export {
  ensureLlamaCppBinaries,
  type LlamaCppBinaries,
  LlamaCppBuildError,
  llamaCppBinariesIn,
  llamaCppBinaryPaths,
} from "./engine/llamacpp-build.js";
export { httpProbe, type ReadinessProbe, tcpProbe } from "./engine/probes.js";
export {
  DEFAULT_RESTART_POLICY,
  type EngineEvent,
  type EngineProcessSpec,
  EngineStartError,
  EngineSupervisor,
  type RestartPolicy,
} from "./engine/supervisor.js";
export {
  type VllmCpuCompile,
  type VllmCpuSettings,
  type VllmGroupPlan,
  type VllmNodeCommand,
  VllmPlanError,
  validateVllmPlan,
  vllmServeCommand,
} from "./engine/vllm-args.js";
export { type VllmHead, vllmCanary } from "./engine/vllm-head.js";
export {
  type EnsureVllmOptions,
  ensureVllm,
  VLLM_CPU_VERSION,
  type VllmInstall,
  VllmInstallError,
  vllmInstalled,
  vllmInstallPaths,
} from "./engine/vllm-install.js";
export {
  VllmMissingError,
  type VllmNodeFacts,
  vllmCli,
  vllmGroupPlan,
} from "./engine/vllm-node.js";
export { createHeadFront, type HeadFront, type HeadFrontOptions } from "./head/front.js";
export { checkPlacement, type DevicePlacement, PlacementMismatchError } from "./head/head.js";
export {
  handleRequestMark,
  type MarkedTunnel,
  markRequestOnStages,
  REQUEST_MARK_METADATA_KEY,
} from "./head/request-trace.js";
export { WORKER_METRICS } from "./metrics/names.js";
export { type TunnelMetricsObserver, tunnelMetricsObserver } from "./metrics/tunnel-observer.js";
export { scrapeVllm, VLLM_METRIC_NAMES, vllmFigures } from "./metrics/vllm-metrics.js";
export { type EngineFiguresSource, workerMetrics } from "./metrics/worker-metrics.js";
export { modelCacheDir, strataCacheRoot } from "./model/cache-dir.js";
export {
  type ChooseModelOptions,
  type ChosenModel,
  chooseModel,
  DEFAULT_MODEL_NAME,
  generatedModel,
  servedNameOfFile,
} from "./model/choose-model.js";
export { MODEL_DOWNLOADS, SMOLLM2_135M_SOURCE, type WheelModelSource } from "./model/downloads.js";
export {
  canDequantize,
  DEQUANTIZABLE_TYPES,
  dequantize,
  UnsupportedTensorTypeError,
} from "./model/ggml-dequant.js";
export { GgufFile } from "./model/gguf-file.js";
export {
  type ConvertedModel,
  type ConvertOptions,
  convertGgufToHf,
  HF_FILES,
  ModelConvertError,
} from "./model/hf/convert.js";
export { type LlamaShape, llamaHfConfig, llamaShapeFromGguf } from "./model/hf/llama-config.js";
export { hfRowOfGgufRow, unpermuteRopeRows } from "./model/hf/rope-order.js";
export {
  type SafetensorsDtype,
  type SafetensorsTensor,
  safetensorsHeader,
  writeSafetensors,
} from "./model/hf/safetensors.js";
export {
  type HfTokenizerFiles,
  hfTokenizerFromGguf,
  SUPPORTED_PRE_TOKENIZERS,
} from "./model/hf/tokenizer.js";
export {
  ModelPullError,
  type PulledModel,
  type PullFailure,
  type PullOptions,
  pullableModels,
  pulledModelPath,
  pullModel,
  pullWheelModel,
  sha256File,
} from "./model/pull.js";
export { readModelSpec } from "./model/read-spec.js";
export {
  ModelShapeError,
  TINY_LLAMA_DEFAULTS,
  type TinyLlamaOptions,
  tinyLlamaGgufChunks,
} from "./model/tiny-llama.js";
export { writeTinyLlamaGguf } from "./model/write-model.js";
export { WorkerControl, type WorkerIdentity } from "./nats/worker-control.js";
export {
  findPythonWithPip,
  PYTHON_CANDIDATES,
  PythonCommandError,
  PythonMissingError,
  type PythonTool,
} from "./python/python-tool.js";
export { TunnelListener, type TunnelListenerObserver, type TunnelTarget } from "./tunnel/client.js";
export { decodeDataMessage, encodeDataMessage } from "./tunnel/codec.js";
export { TUNNEL_OPEN_PATH } from "./tunnel/definition.js";
export { GrpcByteStream } from "./tunnel/grpc-stream.js";
export {
  DataMessageReader,
  dataMessageHeader,
  encodeGrpcDataMessage,
  GRPC_STATUS,
  GrpcStatusError,
} from "./tunnel/grpc-wire.js";
export type { PipeTotals } from "./tunnel/pipe.js";
export {
  TunnelBindError,
  TunnelServer,
  type TunnelServerObserver,
  type TunnelServerOptions,
} from "./tunnel/server.js";
export { HEALTH_PATHS, type Readiness } from "./worker/http.js";
export { type RunningWorker, type RunWorkerOptions, runWorker, WorkerFailedError } from "./worker/run.js";
