export { freeLoopbackPort } from "./free-port.js";
export type { Logger } from "./log.js";
export { jsonLogger, silentLogger } from "./log.js";
export {
  handleMetricsRequest,
  METRICS_PATH,
  type MetricsServer,
  startMetricsServer,
} from "./metrics/http.js";
export {
  BUILD_INFO_METRIC,
  createMetricsRegistry,
  METRIC_PREFIX,
  type MetricsRegistryOptions,
  STRATA_VERSION,
  strataName,
} from "./metrics/registry.js";
export type { ConnectNatsOptions, NatsConnection } from "./nats/connect.js";
export { connectNats, NATS_URL_ENV, resolveNatsUrl } from "./nats/connect.js";
export type { LifecycleConsumer, LifecycleConsumerOptions } from "./nats/lifecycle-stream.js";
export {
  consumeLifecycleEvents,
  ensureLifecycleStream,
  lifecycleStreamConfig,
} from "./nats/lifecycle-stream.js";
export type { NatsMetrics } from "./nats/metrics.js";
export { NATS_METRICS, natsMetrics } from "./nats/metrics.js";
export type { NewLifecycleEvent } from "./nats/outbox.js";
export { LifecycleOutbox } from "./nats/outbox.js";
export type { ValidatedSubscription } from "./nats/validated.js";
export {
  ControlRequestError,
  InvalidMessages,
  publishValidated,
  requestValidated,
  subscribeValidated,
} from "./nats/validated.js";
export {
  findNatsServer,
  installNatsServer,
  NATS_SERVER_BINARY_ENV,
  NATS_SERVER_VERSION,
  NatsServerMissingError,
  natsServerCacheDir,
  requireNatsServer,
} from "./nats-server/binary.js";
export type { LocalEndpoint } from "./nats-server/local-endpoint.js";
export {
  localEndpointFile,
  readLocalEndpoint,
  removeLocalEndpoint,
  writeLocalEndpoint,
} from "./nats-server/local-endpoint.js";
export type { NatsServerOptions } from "./nats-server/process.js";
export { NatsServerProcess } from "./nats-server/process.js";
export { spawnWithLifeline } from "./process/spawn-lifeline.js";
export type { MetadataLike } from "./tracing/propagation.js";
export {
  extractGrpcMetadata,
  extractHttpHeaders,
  extractNatsHeaders,
  injectGrpcMetadata,
  injectHttpHeaders,
  natsTraceHeaders,
} from "./tracing/propagation.js";
export type { Tracing, TracingOptions } from "./tracing/setup.js";
export { OTLP_ENDPOINT_ENV, setupTracing, TRACER_NAME } from "./tracing/setup.js";
