// A worker process for the Kafka multi-process test: runs the three-step line workflow with
// records, timeouts and roles on the PostgreSQL schema it is given and events on the Kafka
// brokers it is given, triggers runs if asked to, and reports on stdout: "ready", "triggered",
// "held <role>" when it takes a role, "receiving <topic> <name>" once a receiver has joined its
// group, and "error <message>" for each error the workflow logs.
import pg from "pg";
import type { EventStreamer, RoleScheduler } from "stepwise";
import { kafka } from "stepwise/kafka";
import { PostgresRecordStore, PostgresRoleScheduler, PostgresTimeoutStore } from "stepwise/postgres";
import { lineWorkflowOn } from "./workflows.js";

const [schema = "", brokers = "", name = "", triggerCount = "0", mock = "true"] = process.argv.slice(2);
const say = (line: string) => process.stdout.write(`${line}\n`);

const pool = new pg.Pool({ host: process.env.PGHOST ?? "127.0.0.1", user: process.env.PGUSER ?? "postgres", database: process.env.PGDATABASE ?? "test", max: 10 });
const roles = new PostgresRoleScheduler({ pool, retryMs: 50 });
const reportingRoles: RoleScheduler = {
  await: async (role, signal) => {
    const lease = await roles.await(role, signal);
    say(`held ${role}`);
    return lease;
  },
};
const events = kafka({
  brokers: brokers.split(","),
  // librdkafka's mock cluster cannot hand out producer ids (see test/adapters/kafka.test.ts).
  idempotent: mock !== "true",
  sessionTimeoutMs: 6_000,
  maxWaitTimeMs: mock === "true" ? 50 : 500,
});
const reportingStreamer: EventStreamer = {
  newSender: (topic) => events.eventStreamer.newSender(topic),
  newReceiver: async (topic, receiver, options) => {
    const opened = await events.eventStreamer.newReceiver(topic, receiver, options);
    say(`receiving ${topic} ${receiver}`);
    return opened;
  },
};

const { wf } = lineWorkflowOn(
  {
    eventStreamer: reportingStreamer,
    recordStore: new PostgresRecordStore({ pool, schema }),
    timeoutStore: new PostgresTimeoutStore({ pool, schema }),
    roleScheduler: reportingRoles,
  },
  {
    name,
    stepOptions: { parallelCount: 3, errBackOff: 50 },
    config: {
      // The outbox holder sees other workers' writes by polling the outbox table.
      defaultOptions: { pollingFrequency: 20, errBackOff: 100 },
      logger: { debug: () => {}, error: (err) => say(`error ${err instanceof Error ? err.message : String(err)}`.replaceAll("\n", " ")) },
    },
  },
);
await wf.run();
say("ready");
for (let i = 0; i < Number(triggerCount); i++) {
  await wf.trigger(`item-${i}`, { initialValue: { id: `item-${i}`, count: 0 } });
}
if (Number(triggerCount) > 0) say("triggered");
process.on("SIGTERM", () => {
  void wf
    .stop()
    .then(() => events.close())
    .then(() => pool.end())
    .then(() => process.exit(0));
});
