// npm run bench [-- --backend NAME ...] [--n 2000] [--seq 200] [--warm-up 20] [--json] [--tracing] [--metrics] [--schema]
//
// The fixed workload (A → B → C → done, each step count++ on { id, count }) on every stepwise
// backend in bench/backends.ts, each in a child process of its own (bench/stepwise.ts), so peak
// RSS and CPU time are per backend. --json prints each child's line as it is; otherwise a table.
// Throughput: n runs triggered at once, from the first trigger to the last completion.
// Latency: warm-up runs, then seq runs one after another, each from trigger to completion.
// --tracing: the workflow is built with otel() on an OpenTelemetry SDK whose spans are dropped at
// export, to measure what tracing costs stepwise (systems are then named stepwise-<backend>-tracing).
// --metrics: the workflow is built with prometheus() on a registry of its own, never scraped
// (systems are then named stepwise-<backend>-metrics).
// --schema: the workflow is built with Builder.withSchema and a zod schema of its object, so every
// trigger and transition is validated (systems are then named stepwise-<backend>-schema).
import { parseArgs } from "node:util";
import process from "node:process";
import { backends } from "./backends.js";
import { prepareStepwiseCommand, runChild, workloadArgs } from "./child.js";
import { childOptions, watchdogMs, type BenchResult } from "./measure.mjs";
import { formatResults } from "./table.js";

const { values } = parseArgs({
  options: {
    ...childOptions,
    backend: { type: "string", multiple: true },
    json: { type: "boolean", default: false },
    tracing: { type: "boolean", default: false },
    metrics: { type: "boolean", default: false },
    schema: { type: "boolean", default: false },
  },
});
const names = values.backend ?? Object.keys(backends);
for (const name of names) {
  if (!backends[name]) throw new Error(`unknown backend "${name}"; known: ${Object.keys(backends).join(", ")}`);
}

const command = await prepareStepwiseCommand();
const results: BenchResult[] = [];
const failures: string[] = [];
try {
  for (const name of names) {
    try {
      // The child bounds its own waits; this only catches one that hangs anyway.
      const timeoutMs = watchdogMs(Number(values["timeout-s"])) + 60_000;
      const result = await runChild([...command.argv, "--backend", name, ...workloadArgs(values), ...(values.tracing ? ["--tracing"] : []), ...(values.metrics ? ["--metrics"] : []), ...(values.schema ? ["--schema"] : [])], { timeoutMs });
      if (command.loader === "tsx") result.loader = "tsx";
      results.push(result);
      if (values.json) console.log(JSON.stringify(result));
      else console.error(`${result.system}: ${result.runs_per_s} runs/s, seq p50 ${result.seq_p50_ms} ms`);
    } catch (err) {
      failures.push(name);
      console.error(`stepwise-${name}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
} finally {
  await command.dispose();
}
if (!values.json && results.length > 0) {
  console.log(`\nn = ${values.n} runs at once; sequential p50/p99 over ${values.seq} runs after ${values["warm-up"]} warm-up runs\n`);
  console.log(formatResults(results));
}
if (failures.length > 0) {
  console.error(`\nfailed: ${failures.join(", ")}`);
  process.exitCode = 1;
}
