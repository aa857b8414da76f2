// npm run bench:scaling [-- --backend postgres|redis-only ...] [--n 2000] [--step-ms 5] [--batch-size N] [--json]
//
// Does a second and a third process add throughput? The three-step line workflow
// (test/support/line-worker.ts), each step first awaiting --step-ms of simulated I/O so that the
// steps wait rather than compute, run by 1, 2 and 3 worker processes in turn on each backend:
// - postgres: the `postgres()` bundle (records, events, timeouts and roles on PostgreSQL);
// - redis-only: the `redis({ client })` bundle (all of it on one Redis).
// Each count gets a fresh schema or key prefix. Every worker starts and says it is ready; then the
// first triggers n runs (100 in flight), timed until the record store lists n completed runs.
// Prints runs/s per count and 3 workers ÷ 1; --json prints one JSON line per count instead, on
// stdout, and the human lines go to stderr. Each line keeps the 1-minute load it started under,
// and how many roles each worker took (a worker reports every role it is granted).
import { loadavg } from "node:os";
import process from "node:process";
import { parseArgs } from "node:util";
import { RunState, type RecordStore } from "stepwise";
import { PostgresRecordStore } from "stepwise/postgres";
import { RedisRecordStore } from "stepwise/redis";
import { eventually } from "../test/support/nats.js";
import { freshSchema } from "../test/support/postgres.js";
import { deleteKeys, freshPrefix, redisClient } from "../test/support/redis.js";
import { Workers, type Worker, type WorkerBackend } from "../test/support/workers.js";
import { round3 } from "./measure.mjs";

/** Where one measurement keeps its runs: the workers' arguments, a store to count them, and its removal. */
interface Storage {
  args: string[];
  store: RecordStore;
  drop(): Promise<void>;
}

const storages: { readonly [backend: string]: () => Promise<Storage> } = {
  postgres: async () => {
    const db = await freshSchema();
    return { args: ["--schema", db.schema], store: new PostgresRecordStore({ pool: db.pool, schema: db.schema }), drop: db.drop };
  },
  "redis-only": async () => {
    const client = redisClient();
    const prefix = freshPrefix("scaling");
    return {
      args: ["--prefix", prefix],
      store: new RedisRecordStore({ client, prefix }),
      drop: async () => {
        await deleteKeys(client, prefix);
        await client.quit();
      },
    };
  },
};

const { values } = parseArgs({
  options: {
    backend: { type: "string", multiple: true },
    n: { type: "string", default: "2000" },
    "step-ms": { type: "string", default: "5" },
    // The steps' batchSize; 1 handles one event at a time, where waiting on I/O is the limit.
    "batch-size": { type: "string" },
    json: { type: "boolean", default: false },
  },
});
const backendNames = values.backend ?? Object.keys(storages);
for (const name of backendNames) if (!storages[name]) throw new Error(`unknown backend "${name}"; known: ${Object.keys(storages).join(", ")}`);
const runs = Number(values.n);
const stepMs = Number(values["step-ms"]);
const workflowName = "scaling";
const say = (line: string) => (values.json ? console.error(line) : console.log(line));

/** The distinct roles a worker reported taking. */
function rolesHeld(worker: Worker): number {
  return new Set(worker.lines.filter((l) => l.text.startsWith("held ")).map((l) => l.text)).size;
}

/** Runs/s of `count` workers on a fresh storage of `backend`, and the roles each took. */
async function measure(backend: string, count: number): Promise<{ seconds: number; roles: number[]; load: number }> {
  const storage = await storages[backend]!();
  const workers = new Workers();
  try {
    const args = [...storage.args, "--name", workflowName, "--ttl-ms", "5000", "--step-delay-ms", String(stepMs), "--in-flight", "100",
      ...(values["batch-size"] === undefined ? [] : ["--batch-size", values["batch-size"]])];
    const started = Array.from({ length: count }, () => workers.start(backend as WorkerBackend, args));
    await Promise.all(started.map((w) => w.said("ready")));
    const load = loadavg()[0]!;
    const startedMs = performance.now();
    const triggered = started[0]!.trigger("run", runs);
    // A list of one run at offset n - 1 is non-empty once n runs have completed.
    const query = { workflowName, offset: runs - 1, limit: 1, filter: { runState: [RunState.Completed] } };
    await eventually(
      `${runs} runs to complete`,
      async () => {
        const dead = started.find((w) => w.child.exitCode !== null || w.child.signalCode !== null);
        if (dead) throw new Error(`worker ${dead.pid} exited: ${dead.lines.map((l) => l.text).join(" | ")}`);
        return (await storage.store.list(query)).length > 0;
      },
      600_000,
      50,
    );
    const seconds = (performance.now() - startedMs) / 1000;
    await triggered;
    const roles = started.map(rolesHeld);
    await Promise.all(started.map((w) => w.stop()));
    return { seconds, roles, load };
  } finally {
    await workers.killAll();
    await storage.drop();
  }
}

for (const backend of backendNames) {
  let one: number | undefined;
  for (const count of [1, 2, 3]) {
    const { seconds, roles, load } = await measure(backend, count);
    const runsPerS = runs / seconds;
    one ??= runsPerS;
    const vsOne = runsPerS / one;
    say(
      `${backend}, ${count} worker${count > 1 ? "s" : ""}: ${runs} runs in ${seconds.toFixed(1)} s, ${runsPerS.toFixed(0)} runs/s ` +
        `(${vsOne.toFixed(2)}× one worker; roles taken ${roles.join("/")}; load ${load.toFixed(2)})`,
    );
    if (values.json) {
      const line = {
        system: `stepwise-${backend}`,
        workers: count,
        n: runs,
        step_ms: stepMs,
        runs_per_s: Math.round(runsPerS),
        transitions_per_s: Math.round(3 * runsPerS),
        seconds: round3(seconds),
        vs_one_worker: round3(vsOne),
        roles_taken: roles,
        load_avg_1m: round3(load),
      };
      process.stdout.write(`${JSON.stringify(line)}\n`);
    }
    if (count === 3) say(`${backend}: 3 workers ÷ 1 worker = ${vsOne.toFixed(2)}×`);
  }
}
