/**
 * OpenTelemetry for one Strata process. Spans are recorded and exported over
 * OTLP/HTTP only when OTEL_EXPORTER_OTLP_ENDPOINT (or
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set, or when a test passes its own
 * exporter. Otherwise only the W3C propagator and the async context manager
 * are installed: spans are non-recording no-ops, and a trace context that
 * arrives with a request is still passed on to the next hop.
 */
import { context, propagation, type Tracer, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  BatchSpanProcessor,
  SimpleSpanProcessor,
  type SpanExporter,
  type SpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";

export const OTLP_ENDPOINT_ENV = "OTEL_EXPORTER_OTLP_ENDPOINT";
export const OTLP_TRACES_ENDPOINT_ENV = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
/** The tracer name (instrumentation scope) every Strata span is created under. */
export const TRACER_NAME = "strata";

export interface TracingOptions {
  /** `service.name` of the spans, e.g. "strata-shard-worker". */
  readonly serviceName: string;
  /** Extra resource attributes, e.g. deployment/replica/stage. */
  readonly attributes?: Readonly<Record<string, string | number>>;
  readonly env?: NodeJS.ProcessEnv;
  /** Tests pass an InMemorySpanExporter; exported synchronously, span by span. */
  readonly exporter?: SpanExporter;
}

export interface Tracing {
  readonly enabled: boolean;
  readonly tracer: Tracer;
  /** Exports what is buffered; call before exit. */
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}

let contextInstalled = false;

/** Installs the context manager and propagator once per process (the OTel API keeps them global). */
function installContextPropagation(): void {
  if (contextInstalled) return;
  contextInstalled = true;
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
}

export function setupTracing(options: TracingOptions): Tracing {
  installContextPropagation();
  const env = options.env ?? process.env;
  const endpoint = env[OTLP_TRACES_ENDPOINT_ENV] || env[OTLP_ENDPOINT_ENV];
  let processor: SpanProcessor | undefined;
  if (options.exporter) processor = new SimpleSpanProcessor(options.exporter);
  // The exporter reads the endpoint (and headers) from the same environment variables itself.
  else if (endpoint) processor = new BatchSpanProcessor(new OTLPTraceExporter());
  if (processor === undefined) {
    return {
      enabled: false,
      tracer: trace.getTracer(TRACER_NAME),
      forceFlush: async () => {},
      shutdown: async () => {},
    };
  }
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ "service.name": options.serviceName, ...options.attributes }),
    spanProcessors: [processor],
  });
  trace.setGlobalTracerProvider(provider);
  return {
    enabled: true,
    tracer: provider.getTracer(TRACER_NAME),
    forceFlush: () => provider.forceFlush(),
    shutdown: async () => {
      await provider.shutdown();
      trace.disable();
    },
  };
}
