// One stepwise backend's benchmark, in a process of its own so its peak RSS is its own:
//   node --conditions=source --import tsx bench/stepwise.ts --backend memory [--n 2000] [--seq 200]
// prints one JSON line. `npm run bench` starts this once per backend (bench/main.ts), with the
// library's defaults; --parallel-count N shards each step's consumer N ways, to see what that buys.
// --tracing builds the workflow with otel() (see bench/tracing.ts), --metrics with prometheus() (bench/metrics.ts),
// --schema with Builder.withSchema and a zod schema of the object, validated at every transition.
import { parseArgs } from "node:util";
import { performance } from "node:perf_hooks";
import { Builder, type Metrics, type Tracer } from "stepwise";
import { backends, type Backend } from "./backends.js";
import { childOptions, percentile, round3, runBenchmark, type SystemUnderTest } from "./measure.mjs";

enum Step {
  Unknown = 0,
  A = 1,
  B = 2,
  C = 3,
  Done = 4,
}
type Counter = { id: string; count: number };

const { values } = parseArgs({
  options: {
    ...childOptions,
    backend: { type: "string" },
    "parallel-count": { type: "string" },
    tracing: { type: "boolean", default: false },
    metrics: { type: "boolean", default: false },
    schema: { type: "boolean", default: false },
  },
});
const parallelCount = values["parallel-count"] === undefined ? undefined : Number(values["parallel-count"]);
const name = values.backend ?? "memory";
const make = backends[name];
if (!make) throw new Error(`unknown backend "${name}"; known: ${Object.keys(backends).join(", ")}`);

/** A → B → C → Done, each step counting once. `onStep` sees every step start. */
function buildWorkflow(backend: Backend, tracer: Tracer | undefined, metrics: Metrics | undefined, schema: Schema | undefined, onStep: () => void) {
  const b: Builder<Counter, Step> = schema ? Builder.withSchema("bench", Step, schema) : new Builder<Counter, Step>("bench", Step);
  for (const [from, to] of [
    [Step.A, Step.B],
    [Step.B, Step.C],
    [Step.C, Step.Done],
  ] as const) {
    b.addStep(
      from,
      async (run) => {
        onStep();
        run.object.count++;
        return to;
      },
      to,
    );
  }
  const config = { ...(backend.config as Backend["config"] & { recordStore: Backend["config"]["recordStore"] }), ...(tracer ? { tracer } : {}), ...(metrics ? { metrics } : {}) };
  return b.build(parallelCount === undefined ? config : { ...config, defaultOptions: { parallelCount } });
}

type Schema = Awaited<ReturnType<typeof counterSchema>>;

/** The Counter as a zod schema; zod is loaded only when asked for, as tracing is. */
async function counterSchema() {
  const { z } = await import("zod");
  return z.object({ id: z.string().min(1), count: z.number().int().nonnegative() });
}

// A hop: from one step starting to the next step of the same run starting (store, outbox,
// stream, receive, look up). Recorded only during measured sequential runs, where one run is in flight.
const hopMs: number[] = [];
let lastStepAt = 0;
let isMeasuringHops = false;
/** Statements sent to PostgreSQL per transition in the throughput phase, triggers and awaits included. */
let queriesPerTransition: number | undefined;

async function open(): Promise<SystemUnderTest> {
  const backend = await make!();
  // Loaded only when asked for, so a run without tracing never loads OpenTelemetry.
  const tracing = values.tracing ? (await import("./tracing.js")).benchTracing() : undefined;
  const metrics = values.metrics ? (await import("./metrics.js")).benchMetrics() : undefined;
  const schema = values.schema ? await counterSchema() : undefined;
  const wf = buildWorkflow(backend, tracing?.tracer, metrics, schema, () => {
    const now = performance.now();
    if (isMeasuringHops && lastStepAt > 0) hopMs.push(now - lastStepAt);
    lastStepAt = now;
  });
  await wf.run();
  return {
    // No signal for each of the n awaits: an AbortSignal's addEventListener walks every listener
    // already added, so n of them on one signal cost O(n²). runBenchmark bounds the whole wait.
    async runAll(ids) {
      const before = backend.queries?.();
      const runIds = await Promise.all(ids.map((id) => wf.trigger(id, { initialValue: { id, count: 0 } })));
      await Promise.all(runIds.map((runId, i) => wf.await(ids[i]!, runId, Step.Done)));
      const after = backend.queries?.();
      if (before !== undefined && after !== undefined) queriesPerTransition = round3((after - before) / (3 * ids.length));
    },
    async runOne(id, signal, measured) {
      isMeasuringHops = measured;
      lastStepAt = 0;
      const runId = await wf.trigger(id, { initialValue: { id, count: 0 } });
      const done = await wf.await(id, runId, Step.Done, { signal });
      isMeasuringHops = false;
      if (done.object.count !== 3) throw new Error(`run ${id} ended with count ${done.object.count}, not 3`);
    },
    async close() {
      await wf.stop();
      await backend.close();
      await tracing?.close();
    },
  };
}

await runBenchmark({
  system: `stepwise-${name}${parallelCount === undefined ? "" : `-p${parallelCount}`}${values.tracing ? "-tracing" : ""}${values.metrics ? "-metrics" : ""}${values.schema ? "-schema" : ""}`,
  open,
  args: values,
  extra: () => {
    hopMs.sort((a, b) => a - b);
    const hops = {
      hop_p50_ms: round3(percentile(hopMs, 50)),
      hop_p99_ms: round3(percentile(hopMs, 99)),
      ...(queriesPerTransition === undefined ? {} : { queries_per_transition: queriesPerTransition }),
    };
    return parallelCount === undefined ? hops : { ...hops, parallel_count: parallelCount };
  },
});
