// The benchmark workload on BullMQ (Redis): queues a, b and c, one Worker each; a job's processor
// adds the next step's job to the next queue, and c's job completing ends the run. Completion is
// what a BullMQ user awaits: the "completed" event of the last job, read from Redis by QueueEvents
// (what job.waitUntilFinished uses).
//   node bench/peers/bullmq.mjs --concurrency 50 [--n 2000] [--seq 200]
// Settings that differ from BullMQ's defaults: Worker concurrency (1 or 50, the figure measured),
// a key prefix of our own (so runs don't meet, and can be deleted afterwards), and QueueEvents
// reading from the start of its stream, so it can't miss an event written before its first read.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import process from "node:process";
import { URL } from "node:url";
import { parseArgs } from "node:util";
import { Queue, QueueEvents, Worker } from "bullmq";
import { Redis } from "ioredis";
import { bounded, childOptions, runBenchmark } from "../measure.mjs";

const { values } = parseArgs({ options: { ...childOptions, concurrency: { type: "string", default: "1" } } });
const concurrency = Number(values.concurrency);
const connection = { host: process.env.REDIS_HOST ?? "127.0.0.1", port: Number(process.env.REDIS_PORT ?? 6379) };
const version = JSON.parse(readFileSync(new URL("node_modules/bullmq/package.json", import.meta.url), "utf8")).version;

/** Deletes every key under the prefix: the queues, their jobs and event streams. */
async function deleteKeys(prefix) {
  const redis = new Redis(connection);
  try {
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
      if (keys.length > 0) await redis.unlink(...keys);
      cursor = next;
    } while (cursor !== "0");
  } finally {
    redis.disconnect();
  }
}

async function open() {
  const prefix = `bench-bullmq-${randomBytes(4).toString("hex")}`;
  const queueOptions = { connection, prefix };
  const queues = { a: new Queue("a", queueOptions), b: new Queue("b", queueOptions), c: new Queue("c", queueOptions) };
  const events = new QueueEvents("c", { ...queueOptions, lastEventId: "0-0" });
  /** Run id → what its last job's completion resolves. */
  const waiting = new Map();
  events.on("completed", ({ jobId, returnvalue }) => {
    const waiter = waiting.get(jobId);
    if (!waiter) return;
    waiting.delete(jobId);
    const object = typeof returnvalue === "string" ? JSON.parse(returnvalue) : returnvalue;
    if (object.count === 3) waiter.resolve();
    else waiter.reject(new Error(`job ${jobId} ended with count ${object.count}, not 3`));
  });
  events.on("failed", ({ jobId, failedReason }) => waiting.get(jobId)?.reject(new Error(`job ${jobId} failed: ${failedReason}`)));

  const workerOptions = { connection, prefix, concurrency };
  // The next job's id is derived from the run, so a step that is retried adds it only once.
  const workers = [
    new Worker("a", async (job) => {
      await queues.b.add("b", { id: job.data.id, count: job.data.count + 1 }, { jobId: `${job.data.id}-b` });
    }, workerOptions),
    new Worker("b", async (job) => {
      await queues.c.add("c", { id: job.data.id, count: job.data.count + 1 }, { jobId: `${job.data.id}-c` });
    }, workerOptions),
    new Worker("c", async (job) => ({ id: job.data.id, count: job.data.count + 1 }), workerOptions),
  ];
  for (const worker of workers) worker.on("error", (err) => process.stderr.write(`bullmq worker: ${err.message}\n`));
  await Promise.all([...Object.values(queues), ...workers, events].map((x) => x.waitUntilReady()));

  /** Registers the wait for a run's end before it is triggered, so no event can come first. */
  function completion(id) {
    return new Promise((resolve, reject) => waiting.set(`${id}-c`, { resolve, reject }));
  }
  const trigger = (id) => queues.a.add("a", { id, count: 0 }, { jobId: `${id}-a` });

  return {
    async runAll(ids, signal) {
      const done = ids.map(completion);
      await Promise.all(ids.map(trigger));
      await bounded(Promise.all(done), signal, "bullmq: completions");
    },
    async runOne(id, signal) {
      const done = completion(id);
      await trigger(id);
      await bounded(done, signal, `bullmq: run ${id}`);
    },
    async close() {
      await Promise.all(workers.map((w) => w.close()));
      await events.close();
      await Promise.all(Object.values(queues).map((q) => q.close()));
      await deleteKeys(prefix);
    },
  };
}

await runBenchmark({ system: `bullmq-c${concurrency}`, open, args: values, extra: () => ({ version }) });
