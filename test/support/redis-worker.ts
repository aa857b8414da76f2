// A worker process for the Redis multi-process test: runs the three-step line workflow with its
// records in the PostgreSQL schema it is given and its events and roles on Redis under the key
// prefix it is given, triggers runs if asked to, and reports "ready" on stdout.
import { Redis } from "ioredis";
import pg from "pg";
import { PostgresRecordStore, PostgresTimeoutStore } from "stepwise/postgres";
import { redis } from "stepwise/redis";
import { lineWorkflowOn } from "./workflows.js";

const [schema = "", prefix = "", triggerCount = "0", ttlMs = "1000"] = process.argv.slice(2);
const pool = new pg.Pool({ host: process.env.PGHOST ?? "127.0.0.1", user: "postgres", database: "test", max: 10 });
const client = new Redis({ host: process.env.REDIS_HOST ?? "127.0.0.1", port: Number(process.env.REDIS_PORT ?? 6379) });
client.on("error", () => {});
const events = redis({ client, prefix, ttlMs: Number(ttlMs) });
const { wf } = lineWorkflowOn(
  {
    ...events,
    recordStore: new PostgresRecordStore({ pool, schema }),
    timeoutStore: new PostgresTimeoutStore({ pool, schema }),
    outbox: true,
  },
  {
    name: "multi",
    stepOptions: { parallelCount: 2, errBackOff: 50 },
    config: { defaultOptions: { errBackOff: 50 }, logger: { debug: () => {}, error: () => {} } },
  },
);
await wf.run();
process.stdout.write(`ready ${process.pid}\n`);
for (let i = 0; i < Number(triggerCount); i++) {
  await wf.trigger(`item-${i}`, { initialValue: { id: `item-${i}`, count: 0 } });
}
if (Number(triggerCount) > 0) process.stdout.write("triggered\n");
process.on("SIGTERM", () => {
  void wf
    .stop()
    .then(() => events.close())
    .then(() => Promise.all([pool.end(), client.quit()]))
    .then(() => process.exit(0));
});
