// A worker process for the NATS multi-process test: the three-step line workflow with records and
// timeouts on PostgreSQL (outbox mode) and events and roles on NATS. Triggers runs if asked to and
// reports "ready" (then "triggered") on stdout.
import pg from "pg";
import { nats } from "stepwise/nats";
import { PostgresRecordStore, PostgresTimeoutStore } from "stepwise/postgres";
import { connectNats } from "./nats.js";
import { lineWorkflowOn } from "./workflows.js";

const [schema = "", prefix = "", triggerCount = "0", ttlMs = "1000"] = process.argv.slice(2);
const pool = new pg.Pool({ host: process.env.PGHOST ?? "127.0.0.1", user: "postgres", database: "test", max: 10 });
const connection = await connectNats();
const events = nats({ connection, prefix, events: { ackWaitMs: 2_000 }, roles: { ttlMs: Number(ttlMs) } });
const { wf } = lineWorkflowOn(
  {
    ...events,
    recordStore: new PostgresRecordStore({ pool, schema }),
    timeoutStore: new PostgresTimeoutStore({ pool, schema }),
  },
  {
    name: "multi",
    stepOptions: { parallelCount: 3, errBackOff: 50 },
    // The outbox sees other processes' writes by polling its table (pollingFrequency).
    config: {
      // Errors go to the test's output: a worker must not fail quietly.
      logger: { debug: () => {}, error: (err) => void process.stderr.write(`worker ${process.pid}: ${String(err)}\n`) },
      defaultOptions: { pollingFrequency: 50, errBackOff: 50 },
    },
  },
);
await wf.run();
process.stdout.write("ready\n");
// Twenty triggers in flight at a time, as a busy service would send them.
const pending = Array.from({ length: Number(triggerCount) }, (_, i) => i);
await Promise.all(
  Array.from({ length: 20 }, async () => {
    for (let i = pending.shift(); i !== undefined; i = pending.shift()) {
      await wf.trigger(`item-${i}`, { initialValue: { id: `item-${i}`, count: 0 } });
    }
  }),
);
if (Number(triggerCount) > 0) process.stdout.write("triggered\n");
process.on("SIGTERM", () => {
  void wf
    .stop()
    .then(() => events.close())
    .then(() => Promise.all([pool.end(), connection.close()]))
    .then(() => process.exit(0));
});
