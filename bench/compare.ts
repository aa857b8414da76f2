// npm run bench:peers [-- --peer NAME ...] [--backend NAME ...] [--n 2000] [--seq 200] [--json]
//
// The workload of bench/main.ts on the peers in bench/peers/ (DBOS Transact, BullMQ at
// concurrency 1 and 50, pg-boss) and on stepwise's backends, each system in a child process of
// its own, then one table of every figure and one of the ratios stepwise ÷ peer. The npm script
// installs bench/peers' own dependencies first (npm ci), so the main install stays light.
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { backends } from "./backends.js";
import { prepareStepwiseCommand, runChild, workloadArgs } from "./child.js";
import { childOptions, watchdogMs, type BenchResult } from "./measure.mjs";
import { formatComparison, ratioLegend } from "./table.js";

const peersDir = join(dirname(fileURLToPath(import.meta.url)), "peers");

/** Each peer's script in bench/peers/ and its arguments. */
const peers: { readonly [system: string]: readonly string[] } = {
  dbos: ["dbos.mjs"],
  "bullmq-c1": ["bullmq.mjs", "--concurrency", "1"],
  "bullmq-c50": ["bullmq.mjs", "--concurrency", "50"],
  pgboss: ["pgboss.mjs"],
};

const { values } = parseArgs({
  options: {
    ...childOptions,
    peer: { type: "string", multiple: true },
    backend: { type: "string", multiple: true },
    json: { type: "boolean", default: false },
  },
});
const peerNames = values.peer ?? Object.keys(peers);
const backendNames = values.backend ?? Object.keys(backends);
for (const name of peerNames) if (!peers[name]) throw new Error(`unknown peer "${name}"; known: ${Object.keys(peers).join(", ")}`);
for (const name of backendNames) if (!backends[name]) throw new Error(`unknown backend "${name}"; known: ${Object.keys(backends).join(", ")}`);
if (peerNames.length > 0 && !existsSync(join(peersDir, "node_modules"))) {
  throw new Error(`bench/peers has no node_modules: run npm ci --prefix bench/peers (npm run bench:peers does)`);
}

// The child bounds its own waits; this only catches one that hangs anyway.
const timeoutMs = watchdogMs(Number(values["timeout-s"])) + 60_000;
const failures: string[] = [];

async function measure(system: string, argv: readonly string[], cwd?: string): Promise<BenchResult | undefined> {
  try {
    const result = await runChild(argv, { timeoutMs, ...(cwd ? { cwd } : {}) });
    if (values.json) console.log(JSON.stringify(result));
    else console.error(`${result.system}: ${result.runs_per_s} runs/s, seq p50 ${result.seq_p50_ms} ms`);
    return result;
  } catch (err) {
    failures.push(system);
    console.error(`${system}: ${err instanceof Error ? err.message : String(err)}`);
    return undefined;
  }
}

const peerResults: BenchResult[] = [];
for (const name of peerNames) {
  const [script, ...args] = peers[name]!;
  const result = await measure(name, [process.execPath, join(peersDir, script!), ...args, ...workloadArgs(values)], peersDir);
  if (result) peerResults.push(result);
}

const stepwiseResults: BenchResult[] = [];
const command = await prepareStepwiseCommand();
try {
  for (const name of backendNames) {
    const result = await measure(`stepwise-${name}`, [...command.argv, "--backend", name, ...workloadArgs(values)]);
    if (result && command.loader === "tsx") result.loader = "tsx";
    if (result) stepwiseResults.push(result);
  }
} finally {
  await command.dispose();
}

if (!values.json) {
  console.log(`\nn = ${values.n} runs at once; sequential p50/p99 over ${values.seq} runs after ${values["warm-up"]} warm-up runs\n`);
  console.log(formatComparison(stepwiseResults, peerResults));
  console.log(`\n${ratioLegend}`);
}
if (failures.length > 0) {
  console.error(`\nfailed: ${failures.join(", ")}`);
  process.exitCode = 1;
}
