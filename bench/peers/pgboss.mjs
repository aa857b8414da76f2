// The benchmark workload on pg-boss (PostgreSQL): queues a, b and c, one work() loop each; a
// batch's handler inserts the next step's jobs into the next queue, and c's job completing ends
// the run. pg-boss has no completion event (v10 removed onComplete), so completion is found by
// polling the final queue: one run's job by id, or the counts of all of c's jobs.
//   node bench/peers/pgboss.mjs [--n 2000] [--seq 200] [--batch-size 50] [--polling-s 0.5]
// Settings that differ from pg-boss's defaults:
// - pollingIntervalSeconds 0.5 (default 2), the smallest pg-boss allows: a worker sleeps this
//   long between fetches, so it bounds each hop's latency;
// - batchSize 50 (default 1): a worker takes at most batchSize jobs per fetch, so with the
//   default each queue moves at most 2 jobs a second; 50 matches bullmq-c50's 50 jobs in flight;
// - a 20-connection pool (`max`, default 10), as stepwise's and DBOS' benchmarks use;
// - a schema of our own, dropped afterwards.
// pg-boss 10.4 is the last release for Node 20 (11 and later need Node 22).
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import process from "node:process";
import { URL } from "node:url";
import { parseArgs } from "node:util";
import pg from "pg";
import PgBoss from "pg-boss";
import { childOptions, pollUntil, runBenchmark } from "../measure.mjs";

const { values } = parseArgs({
  options: { ...childOptions, "batch-size": { type: "string", default: "50" }, "polling-s": { type: "string", default: "0.5" } },
});
const batchSize = Number(values["batch-size"]);
const pollingIntervalSeconds = Number(values["polling-s"]);
const database = {
  host: process.env.PGHOST ?? "127.0.0.1",
  port: Number(process.env.PGPORT ?? 5432),
  user: process.env.PGUSER ?? "postgres",
  database: process.env.PGDATABASE ?? "test",
};
const version = JSON.parse(readFileSync(new URL("node_modules/pg-boss/package.json", import.meta.url), "utf8")).version;

/** A job id derived from the run and its step, so a retried step inserts the next job only once. */
function jobId(runId, step) {
  const hex = createHash("sha256").update(`${runId}/${step}`).digest("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

async function open() {
  const schema = `bench_pgboss_${randomBytes(4).toString("hex")}`;
  const boss = new PgBoss({ ...database, schema, max: 20 });
  boss.on("error", (err) => process.stderr.write(`pg-boss: ${err.message}\n`));
  await boss.start();
  for (const queue of ["a", "b", "c"]) await boss.createQueue(queue);

  const next = { a: "b", b: "c" };
  const work = { batchSize, pollingIntervalSeconds };
  for (const queue of ["a", "b"]) {
    await boss.work(queue, work, async (jobs) => {
      await boss.insert(
        jobs.map((job) => ({
          id: jobId(job.data.id, next[queue]),
          name: next[queue],
          data: { id: job.data.id, count: job.data.count + 1 },
        })),
      );
    });
  }
  await boss.work("c", work, async (jobs) => {
    for (const job of jobs) job.data.count++;
  });

  const trigger = (id) => boss.send("a", { id, count: 0 }, { id: jobId(id, "a") });

  return {
    async runAll(ids, signal) {
      await Promise.all(ids.map(trigger));
      // Done once all n of c's jobs exist, none is waiting or active, and none failed since:
      // a job's state only moves forward, so these three reads in this order cannot be fooled.
      const inQueue = (before) => boss.getQueueSize("c", { before });
      await pollUntil(
        async () => (await inQueue("cancelled")) === ids.length && (await inQueue("completed")) === 0 && (await inQueue("cancelled")) === ids.length,
        10,
        signal,
      );
    },
    async runOne(id, signal) {
      await trigger(id);
      const last = jobId(id, "c");
      await pollUntil(
        async () => {
          const job = await boss.getJobById("c", last);
          if (job?.state === "failed" || job?.state === "cancelled") throw new Error(`pg-boss: run ${id} ended ${job.state}`);
          return job?.state === "completed";
        },
        // Often enough to add at most 20 ms to a run that takes a hop of polling per step (0.5 s
        // each), seldom enough that the polling doesn't dominate this process's CPU time.
        20,
        signal,
      );
    },
    async close() {
      await boss.stop({ graceful: true, timeout: 5000, wait: true });
      const client = new pg.Client(database);
      await client.connect();
      try {
        await client.query(`DROP SCHEMA "${schema}" CASCADE`);
      } finally {
        await client.end();
      }
    },
  };
}

await runBenchmark({ system: "pgboss", open, args: values, extra: () => ({ version, batch_size: batchSize, polling_s: pollingIntervalSeconds }) });
