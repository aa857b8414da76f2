// npm run bench:redis-persistence [-- --n 2000] [--seq 200] [--bullmq] [--json]
//
// What Redis's persistence costs the all-Redis backend: the workload of bench/main.ts on
// stepwise-redis-only (and with --bullmq on BullMQ at concurrency 50, from bench/peers/) against
// a redis-server of its own, started afresh for each setting in turn: an append-only file fsynced
// on every write (`appendfsync always`), one fsynced once a second (`everysec`), and no
// persistence at all. RDB snapshots are off in each. The server keeps its files in a temporary
// directory under the system's one (on the same disk as PostgreSQL's data here), removed afterwards.
// The system Redis (REDIS_PORT) is not touched.
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { freePort, privateRedisServer, type RedisPersistence } from "../test/support/redis.js";
import { prepareStepwiseCommand, runChild, workloadArgs } from "./child.js";
import { childOptions, watchdogMs, type BenchResult } from "./measure.mjs";
import { formatResults } from "./table.js";

const peersDir = join(dirname(fileURLToPath(import.meta.url)), "peers");
const settings: readonly RedisPersistence[] = ["always", "everysec", "none"];

const { values } = parseArgs({
  options: {
    ...childOptions,
    bullmq: { type: "boolean", default: false },
    json: { type: "boolean", default: false },
  },
});
if (values.bullmq && !existsSync(join(peersDir, "node_modules"))) {
  throw new Error("bench/peers has no node_modules: run npm ci --prefix bench/peers");
}
const timeoutMs = watchdogMs(Number(values["timeout-s"])) + 60_000;

/** Each system measured against one server: its command line and working directory. */
async function systems(): Promise<{ argv: string[]; cwd?: string; dispose(): Promise<void> }[]> {
  const stepwise = await prepareStepwiseCommand();
  const all = [{ argv: [...stepwise.argv, "--backend", "redis-only", ...workloadArgs(values)], dispose: stepwise.dispose }];
  if (!values.bullmq) return all;
  const bullmq = [process.execPath, join(peersDir, "bullmq.mjs"), "--concurrency", "50", ...workloadArgs(values)];
  return [...all, { argv: bullmq, cwd: peersDir, dispose: async () => {} }];
}

const commands = await systems();
const results: BenchResult[] = [];
try {
  for (const persistence of settings) {
    const dir = await mkdtemp(join(tmpdir(), "stepwise-redis-persistence-"));
    const port = await freePort();
    const server = privateRedisServer(port, dir, persistence);
    await server.start();
    try {
      for (const { argv, cwd } of commands) {
        const result = await runChild(argv, { timeoutMs, env: { REDIS_PORT: String(port) }, ...(cwd ? { cwd } : {}) });
        result.system = `${result.system} (${persistence === "none" ? "no persistence" : `AOF ${persistence}`})`;
        result.redis_persistence = persistence;
        results.push(result);
        if (values.json) console.log(JSON.stringify(result));
        else console.error(`${result.system}: ${result.transitions_per_s} transitions/s, seq p50 ${result.seq_p50_ms} ms, load ${result.load_avg_1m}`);
      }
    } finally {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    }
  }
} finally {
  await Promise.all(commands.map((c) => c.dispose()));
}
if (!values.json) {
  console.log(`\nn = ${values.n} runs at once; sequential p50/p99 over ${values.seq} runs after ${values["warm-up"]} warm-up runs\n`);
  console.log(formatResults(results));
}
