// A worker process for the two-process trace test: handles the steps of the traced checkout line
// (test/support/traced-line.ts) on a shared SQLite file, with an OpenTelemetry SDK of its own,
// and prints on stdout "ready" once its workflow runs, then one line per finished span:
//   span {"name","traceId","spanId","parentSpanId","attributes"}
//   traced-worker.ts <sqlite file>
import { trace } from "@opentelemetry/api";
import { ExportResultCode, type ExportResult } from "@opentelemetry/core";
import { BasicTracerProvider, SimpleSpanProcessor, type ReadableSpan, type SpanExporter } from "@opentelemetry/sdk-trace-base";
import { otel } from "stepwise/otel";
import { sqlite } from "stepwise/sqlite";
import { tracedLine } from "./traced-line.js";

const say = (line: string) => void process.stdout.write(`${line}\n`);

/** Hands each finished span to the test process, which has no access to this process's SDK. */
const printing: SpanExporter = {
  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    for (const span of spans) {
      const { traceId, spanId } = span.spanContext();
      say(`span ${JSON.stringify({ name: span.name, traceId, spanId, parentSpanId: span.parentSpanContext?.spanId, attributes: span.attributes })}`);
    }
    done({ code: ExportResultCode.SUCCESS });
  },
  shutdown: async () => {},
};

const [path = ""] = process.argv.slice(2);
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(printing)] });
trace.setGlobalTracerProvider(provider);
const adapters = sqlite(path, { leaseTtl: 5_000, rolePollingFrequency: 20 });
const wf = tracedLine({ ...adapters, tracer: otel() });
await wf.run();
say("ready");

process.on("SIGTERM", () => {
  void wf
    .stop()
    .then(() => adapters.close())
    .then(() => provider.shutdown())
    .then(() => process.exit(0));
});
