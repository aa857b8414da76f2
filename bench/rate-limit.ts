// npm run bench:ratelimit [-- --backend postgres|sqlite] [--workers 3] [--max 200] [--per-ms 1000]
//                          [--parallel 3] [--limited 6000] [--free 10000] [--json]
//
// Does a fleet hold a step's rateLimit, and do its other steps keep their speed meanwhile? One
// workflow, run by --workers child processes on one store (PostgreSQL in a fresh schema, or one
// shared SQLite file): a step with rateLimit { max, perMs } and parallelCount --parallel
// (Limited → LimitedDone), and an unlimited one with the same parallelCount (Free → FreeDone).
// Neither step waits on anything, so the limit alone sets the limited step's pace.
// 1. The unlimited step alone: --free runs, triggered by the workers together (100 in flight
//    each), timed until the store lists them all done; after as many runs to warm up (and to let
//    the roles settle).
// 2. --limited runs of the limited step are triggered, and once they all wait, --free more runs
//    of the unlimited step are timed the same way, beside the limited step.
// 3. Once every limited run is done, the unlimited step is timed alone again; "alone" is the mean
//    of before and after. The workers hand in the wall-clock time of each start of the
//    limited step. Counted from the first start after the backlog was all triggered, in windows of
//    --per-ms, until the first shard ran out of waiting runs: mean, max and min starts per window,
//    their error against max in %, the mean of the windows while the timed unlimited runs went on
//    beside them and of those after, and the most starts in any sliding window of --per-ms.
// Prints a summary; --json prints it as one JSON line on stdout instead (the human lines on stderr).
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import process from "node:process";
import { Builder, fnv1a32, type BuildConfig, type RecordStore, type RoleScheduler } from "stepwise";
import { postgres, PostgresRecordStore } from "stepwise/postgres";
import { sqlite } from "stepwise/sqlite";
import { eventually } from "../test/support/nats.js";
import { freshSchema, testPool } from "../test/support/postgres.js";
import { inFlight } from "../test/support/soak-worker.js";
import { round3 } from "./measure.mjs";

const { values } = parseArgs({
  options: {
    backend: { type: "string", default: "postgres" },
    workers: { type: "string", default: "3" },
    max: { type: "string", default: "200" },
    "per-ms": { type: "string", default: "1000" },
    parallel: { type: "string", default: "3" },
    limited: { type: "string", default: "6000" },
    free: { type: "string", default: "10000" },
    json: { type: "boolean", default: false },
    // A worker's own arguments.
    child: { type: "boolean", default: false },
    schema: { type: "string", default: "" },
    path: { type: "string", default: "" },
  },
});

enum Status {
  Unknown = 0,
  Limited = 1,
  LimitedDone = 2,
  Free = 3,
  FreeDone = 4,
}

const workflowName = "rate-limit-bench";
const max = Number(values.max);
const perMs = Number(values["per-ms"]);
const parallelCount = Number(values.parallel);

/** A start of the limited step: when (wall clock, ms) and in which shard (0-based). */
interface Start {
  atMs: number;
  shard: number;
}

/** A worker's request and its reply, over IPC. */
type Request = { id: number } & ({ kind: "trigger"; status: Status; prefix: string; from: number; count: number } | { kind: "starts" });

/** A worker: runs the workflow, triggers what it is asked to, and hands in its limited step's starts. */
async function worker(): Promise<void> {
  const { adapters, close } = openBackend();
  const starts: Start[] = [];
  const held = new Set<string>();
  const b = new Builder<{ n: number }, Status>(workflowName, Status);
  b.addStep(
    Status.Limited,
    async (run) => {
      starts.push({ atMs: Date.now(), shard: fnv1a32(run.runId) % parallelCount });
      return Status.LimitedDone;
    },
    Status.LimitedDone,
  ).withOptions({ rateLimit: { max, perMs }, parallelCount });
  b.addStep(Status.Free, async () => Status.FreeDone, Status.FreeDone).withOptions({ parallelCount });
  const wf = b.build({ ...adapters, roleScheduler: noting(adapters.roleScheduler, held), defaultOptions: { pollingFrequency: 50 } });
  await wf.run();
  process.on("message", (request: Request) => {
    const reply = (body: object) => process.send?.({ id: request.id, ...body });
    if (request.kind === "starts") {
      reply({ starts, roles: [...held].filter((role) => role.includes(`-${Status.Limited}-consumer-`)).length });
      return;
    }
    const ids = Array.from({ length: request.count }, (_, i) => `${request.prefix}-${request.from + i}`);
    void inFlight(ids, 100, (id) => wf.trigger(id, { initialValue: { n: 0 }, startAt: request.status })).then(
      () => reply({}),
      (err: unknown) => reply({ error: String(err) }),
    );
  });
  process.on("SIGTERM", () => {
    void wf
      .stop()
      .then(close)
      .then(() => process.exit(0));
  });
  console.log("ready");
}

/** The workers' adapters on the store the parent made. */
function openBackend(): { adapters: BuildConfig<{ n: number }>; close(): Promise<unknown> } {
  if (values.backend === "sqlite") {
    const adapters = sqlite(values.path, { rolePollingFrequency: 50 });
    return { adapters, close: () => adapters.close() };
  }
  const pool = testPool({ max: 10 });
  return { adapters: postgres({ pool, schema: values.schema }), close: () => pool.end() };
}

/** The role scheduler, noting the roles this worker holds now. */
function noting(roles: RoleScheduler, held: Set<string>): RoleScheduler {
  return {
    await: async (role, signal) => {
      const lease = await roles.await(role, signal);
      held.add(role);
      lease.signal.addEventListener("abort", () => held.delete(role), { once: true });
      return lease;
    },
  };
}

/** A started worker: requests over IPC, and its end. */
interface Worker {
  child: ChildProcess;
  request<R>(body: object): Promise<R>;
}

function startWorker(args: readonly string[]): Promise<Worker> {
  const child = spawn(process.execPath, ["--conditions=source", "--import", "tsx", fileURLToPath(import.meta.url), "--child", ...args], {
    stdio: ["ignore", "pipe", "inherit", "ipc"],
  });
  const replies = new Map<number, (reply: { error?: string }) => void>();
  child.on("message", (message: { id: number; error?: string }) => replies.get(message.id)?.(message));
  let nextId = 0;
  const request = <R>(body: object) =>
    new Promise<R>((resolve, reject) => {
      const id = nextId++;
      replies.set(id, (reply) => {
        replies.delete(id);
        if (reply.error !== undefined) reject(new Error(reply.error));
        else resolve(reply as R);
      });
      child.send({ ...body, id });
    });
  return new Promise((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`a worker exited with ${code} before it was ready`)));
    createInterface({ input: child.stdout! }).on("line", (line) => {
      if (line === "ready") resolve({ child, request });
    });
  });
}

/** The store the workers share, its arguments for them, a record store to count runs with, and its removal. */
async function openStorage(): Promise<{ args: string[]; store: RecordStore; drop(): Promise<void> }> {
  if (values.backend === "sqlite") {
    const path = join(tmpdir(), `stepwise-rate-limit-${randomBytes(4).toString("hex")}.db`);
    const adapters = sqlite(path);
    return {
      args: ["--backend", "sqlite", "--path", path],
      store: adapters.recordStore,
      drop: async () => {
        await adapters.close();
        for (const suffix of ["", "-wal", "-shm"]) rmSync(path + suffix, { force: true });
      },
    };
  }
  if (values.backend !== "postgres") throw new Error(`unknown backend "${values.backend}"; known: postgres, sqlite`);
  const db = await freshSchema();
  return { args: ["--backend", "postgres", "--schema", db.schema], store: new PostgresRecordStore({ pool: db.pool, schema: db.schema }), drop: db.drop };
}

/** Resolves once the store lists at least `count` runs in `status`. */
async function listed(store: RecordStore, status: Status, count: number): Promise<void> {
  // A list of one run at offset count - 1 is non-empty once count runs are there.
  const query = { workflowName, offset: count - 1, limit: 1, filter: { status: [status] } };
  await eventually(`${count} runs in ${Status[status]}`, async () => (await store.list(query)).length > 0, 600_000, 20);
}

/** Triggers `count` runs in `status` with ids `<prefix>-<i>`, the workers taking a part each. */
async function triggerAcross(workers: readonly Worker[], status: Status, prefix: string, count: number): Promise<void> {
  const part = Math.ceil(count / workers.length);
  await Promise.all(
    workers.map((w, i) => w.request({ kind: "trigger", status, prefix, from: i * part, count: Math.max(0, Math.min(part, count - i * part)) })),
  );
}

/** Runs/s of the unlimited step: `count` runs triggered and timed until all are done. */
async function freeRunsPerS(workers: readonly Worker[], store: RecordStore, prefix: string, count: number, doneBefore: number): Promise<number> {
  const startedMs = performance.now();
  await triggerAcross(workers, Status.Free, prefix, count);
  await listed(store, Status.FreeDone, doneBefore + count);
  return count / ((performance.now() - startedMs) / 1000);
}

/**
 * Starts per fixed window of `perMs` from `fromMs`, for the windows that end by `untilMs`: while
 * every shard still had runs waiting, so the limit alone set the pace.
 */
function fullWindows(starts: readonly number[], fromMs: number, untilMs: number): number[] {
  const windows = Array.from({ length: Math.max(0, Math.floor((untilMs - fromMs) / perMs)) }, () => 0);
  for (const t of starts) {
    const w = Math.floor((t - fromMs) / perMs);
    if (t >= fromMs && w < windows.length) windows[w]!++;
  }
  return windows;
}

/** The mean of `values`; NaN (null in JSON) when there are none. */
function meanOf(values: readonly number[]): number {
  return values.reduce((sum, n) => sum + n, 0) / values.length;
}

/** The most starts in any window of `perMs` (each window opening at a start). */
function slidingMax(sorted: readonly number[]): number {
  let most = 0;
  let end = 0;
  for (let i = 0; i < sorted.length; i++) {
    while (end < sorted.length && sorted[end]! < sorted[i]! + perMs) end++;
    most = Math.max(most, end - i);
  }
  return most;
}

async function main(): Promise<void> {
  const say = (line: string) => (values.json ? console.error(line) : console.log(line));
  const limitedRuns = Number(values.limited);
  const freeRuns = Number(values.free);
  const storage = await openStorage();
  const workers: Worker[] = [];
  try {
    const args = [...storage.args, "--max", String(max), "--per-ms", String(perMs), "--parallel", String(parallelCount)];
    workers.push(...(await Promise.all(Array.from({ length: Number(values.workers) }, () => startWorker(args)))));
    const load = loadavg()[0]!;
    // Warms the workers up (code, connections, roles), so that the first timed phase is no slower for it.
    await freeRunsPerS(workers, storage.store, "warm-up", freeRuns, 0);
    const before = await freeRunsPerS(workers, storage.store, "before", freeRuns, freeRuns);
    await triggerAcross(workers, Status.Limited, "limited", limitedRuns);
    const backlogMs = Date.now();
    const beside = await freeRunsPerS(workers, storage.store, "beside", freeRuns, 2 * freeRuns);
    const besideEndMs = Date.now();
    await listed(storage.store, Status.LimitedDone, limitedRuns);
    const after = await freeRunsPerS(workers, storage.store, "after", freeRuns, 3 * freeRuns);
    // Timed before and after the limited step's runs, so that neither a slow start nor a slowing machine favours one side.
    const alone = (before + after) / 2;
    say(`unlimited step alone: ${alone.toFixed(0)} runs/s (${before.toFixed(0)} before, ${after.toFixed(0)} after)`);
    say(`unlimited step beside the limited one: ${beside.toFixed(0)} runs/s (${((beside / alone) * 100).toFixed(0)} % of alone)`);
    const handedIn = await Promise.all(workers.map((w) => w.request<{ starts: Start[]; roles: number }>({ kind: "starts" })));
    const all = handedIn.flatMap((h) => h.starts);
    const starts = all.map((s) => s.atMs).sort((a, b) => a - b);
    const fromMs = starts.find((t) => t >= backlogMs) ?? backlogMs;
    // Shards run out of waiting runs one after another; the first to run out ends the full windows.
    const lastOfShard = Array.from({ length: parallelCount }, (_, shard) => Math.max(...all.filter((s) => s.shard === shard).map((s) => s.atMs)));
    const windows = fullWindows(starts, fromMs, Math.min(...lastOfShard));
    const mean = meanOf(windows);
    // The windows over while the unlimited step's timed runs went on beside the limited step, and the others.
    const besideCount = Math.min(windows.length, Math.floor((besideEndMs - fromMs) / perMs));
    const [meanBeside, meanAfter] = [meanOf(windows.slice(0, besideCount)), meanOf(windows.slice(besideCount))];
    const most = Math.max(...windows);
    const sliding = slidingMax(starts);
    if (windows.length === 0) throw new Error("no full window: trigger more limited runs (--limited)");
    // The unlimited step's runs were timed beside the limited step only if its backlog lasted as long.
    const besideThroughout = Math.min(...lastOfShard) >= besideEndMs;
    const errorPct = (n: number) => ((n - max) / max) * 100;
    say(
      `limited step: limit ${max} per ${perMs} ms; ${windows.length} full windows: mean ${mean.toFixed(1)} (${errorPct(mean).toFixed(1)} %), ` +
        `max ${most} (${errorPct(most).toFixed(1)} %), min ${Math.min(...windows)}; sliding-window max ${sliding} (${errorPct(sliding).toFixed(1)} %); ` +
        `mean ${meanBeside.toFixed(1)} in the ${besideCount} windows beside the timed unlimited runs, ${meanAfter.toFixed(1)} after`,
    );
    if (!besideThroughout) say("the limited step's backlog ran out before the unlimited step's runs were done: raise --limited");
    say(`starts per worker ${handedIn.map((h) => h.starts.length).join("/")}, limited shards held ${handedIn.map((h) => h.roles).join("/")}; load ${load.toFixed(2)}`);
    if (values.json) {
      const line = {
        system: `stepwise-${values.backend}`,
        workers: workers.length,
        parallel_count: parallelCount,
        limit_max: max,
        limit_per_ms: perMs,
        limited_runs: limitedRuns,
        windows: windows.length,
        starts_per_window_mean: round3(mean),
        starts_per_window_max: most,
        starts_per_window_min: Math.min(...windows),
        windows_beside_free: besideCount,
        starts_per_window_mean_beside_free: round3(meanBeside),
        starts_per_window_mean_after_free: round3(meanAfter),
        mean_error_pct: round3(errorPct(mean)),
        max_error_pct: round3(errorPct(most)),
        sliding_window_max: sliding,
        sliding_max_error_pct: round3(errorPct(sliding)),
        starts_per_worker: handedIn.map((h) => h.starts.length),
        free_runs: freeRuns,
        free_alone_runs_per_s: Math.round(alone),
        free_alone_before_runs_per_s: Math.round(before),
        free_alone_after_runs_per_s: Math.round(after),
        free_beside_limited_runs_per_s: Math.round(beside),
        free_beside_vs_alone: round3(beside / alone),
        beside_throughout: besideThroughout,
        load_avg_1m: round3(load),
      };
      process.stdout.write(`${JSON.stringify(line)}\n`);
    }
    await Promise.all(
      workers.map(async (w) => {
        const exited = new Promise((resolve) => w.child.once("exit", resolve));
        w.child.kill("SIGTERM");
        await exited;
      }),
    );
  } finally {
    for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill("SIGKILL");
    await storage.drop();
  }
}

if (values.child) await worker();
else await main();
