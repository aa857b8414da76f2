// The benchmark workload on pg-boss 12 (PostgreSQL): queues a, b and c, one work() loop each; a
// batch's handler inserts the next step's jobs into the next queue in the transaction that
// completes the batch, and c's job completing ends the run.
//   node bench/peers/pgboss.mjs [--n 2000] [--seq 200] [--batch-size 50] [--local-concurrency 1]
// pg-boss has no completion event, so c's handler sends one itself: a pg_notify, in the
// transaction that completes c's jobs, naming the runs it ends. PostgreSQL delivers a NOTIFY only
// once its transaction commits, so the notification means the jobs' completion is committed, and
// the benchmark learns it without polling (polling added up to its interval to every run).
// Settings that differ from pg-boss's defaults, from its documentation on workers:
// - useListenNotify on the instance and notify on each queue (default off for both): a job's
//   insert wakes its queue's worker at once instead of at the next poll (2 s by default);
// - transactional workers (default off): the handler's inserts commit with the batch's completion,
//   one transaction per batch, and a step's next job exists exactly when the step is complete;
// - batchSize 50 (default 1): a worker takes up to 50 jobs per fetch, so with the default each
//   queue moves one job per fetch; 50 matches bullmq-c50's 50 jobs in flight;
// - burstWhenBatchFull (default off): a worker whose fetch came back full fetches again at once;
// - a 20-connection pool (`max`, default 10), as stepwise's and DBOS' benchmarks use;
// - a schema of our own, dropped afterwards.
// pg-boss 12 declares Node 22.12 or later in its engines; it runs on Node 20 here (npm warns).
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import process from "node:process";
import { URL } from "node:url";
import { parseArgs } from "node:util";
import pg from "pg";
import { PgBoss } from "pg-boss";
import { bounded, childOptions, runBenchmark } from "../measure.mjs";

const { values } = parseArgs({
  options: {
    ...childOptions,
    "batch-size": { type: "string", default: "50" },
    "local-concurrency": { type: "string", default: "1" },
  },
});
const batchSize = Number(values["batch-size"]);
const localConcurrency = Number(values["local-concurrency"]);
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
  // The channel c's handler announces completed runs on.
  const channel = schema;
  /** Run id → what its completion resolves. */
  const waiting = new Map();
  const listener = new pg.Client(database);
  await listener.connect();
  listener.on("notification", ({ payload }) => {
    for (const [id, count] of JSON.parse(payload)) {
      const waiter = waiting.get(id);
      if (!waiter) continue;
      waiting.delete(id);
      if (count === 3) waiter.resolve();
      else waiter.reject(new Error(`pg-boss: run ${id} ended with count ${count}, not 3`));
    }
  });
  await listener.query(`LISTEN "${channel}"`);

  const boss = new PgBoss({ ...database, schema, max: 20, useListenNotify: true });
  boss.on("error", (err) => process.stderr.write(`pg-boss: ${err.message}\n`));
  await boss.start();
  for (const queue of ["a", "b", "c"]) await boss.createQueue(queue, { notify: true });

  const next = { a: "b", b: "c" };
  const work = { batchSize, localConcurrency, burstWhenBatchFull: true, transactional: true };
  for (const queue of ["a", "b"]) {
    await boss.work(queue, work, async (jobs, tx) => {
      const inserts = jobs.map((job) => ({ id: jobId(job.data.id, next[queue]), data: { id: job.data.id, count: job.data.count + 1 } }));
      await boss.insert(next[queue], inserts, { db: tx });
    });
  }
  await boss.work("c", work, async (jobs, tx) => {
    const ended = jobs.map((job) => [job.data.id, job.data.count + 1]);
    await tx.executeSql("SELECT pg_notify($1, $2)", [channel, JSON.stringify(ended)]);
  });

  /** Registers the wait for a run's end before it is triggered, so no notification can come first. */
  function completion(id) {
    return new Promise((resolve, reject) => waiting.set(id, { resolve, reject }));
  }
  const trigger = (id) => boss.send("a", { id, count: 0 }, { id: jobId(id, "a") });

  return {
    async runAll(ids, signal) {
      const done = ids.map(completion);
      await Promise.all(ids.map(trigger));
      await bounded(Promise.all(done), signal, "pg-boss: completions");
    },
    async runOne(id, signal) {
      const done = completion(id);
      await trigger(id);
      await bounded(done, signal, `pg-boss: run ${id}`);
    },
    async close() {
      await boss.stop({ graceful: true, timeout: 5000, wait: true });
      await listener.end();
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

await runBenchmark({
  system: "pgboss",
  open,
  args: values,
  extra: () => ({ version, batch_size: batchSize, local_concurrency: localConcurrency }),
});
