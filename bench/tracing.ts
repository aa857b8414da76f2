// Tracing for the benchmark: otel() on an OpenTelemetry SDK set up as a service would (a
// registered provider, spans exported in batches), but whose exporter drops them, so what is
// measured is stepwise's tracing and the SDK's span handling, not a collector.
import { trace } from "@opentelemetry/api";
import { ExportResultCode, type ExportResult } from "@opentelemetry/core";
import { BasicTracerProvider, BatchSpanProcessor, type ReadableSpan, type SpanExporter } from "@opentelemetry/sdk-trace-base";
import type { Tracer } from "stepwise";
import { otel } from "stepwise/otel";

const dropping: SpanExporter = {
  export(_spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    done({ code: ExportResultCode.SUCCESS });
  },
  shutdown: async () => {},
};

/** A tracer whose spans go nowhere, and what shuts its provider down. */
export function benchTracing(): { tracer: Tracer; close(): Promise<void> } {
  const provider = new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(dropping)] });
  trace.setGlobalTracerProvider(provider);
  return { tracer: otel(), close: () => provider.shutdown() };
}
