// A worker process for the etcd multi-process test: runs the three-step line workflow with its
// records and events on the PostgreSQL schema it is given and its roles on etcd under the given
// key prefix, triggers runs if asked to, and reports "ready" (and "triggered") on stdout.
import { Etcd3 } from "etcd3";
import pg from "pg";
import { etcd } from "stepwise/etcd";
import { postgres } from "stepwise/postgres";
import { lineWorkflowOn } from "./workflows.js";

const [schema = "", triggerCount = "0", prefix = "", ttl = "1"] = process.argv.slice(2);
const pool = new pg.Pool({ host: process.env.PGHOST ?? "127.0.0.1", user: "postgres", database: "test", max: 10 });
const client = new Etcd3({ hosts: process.env.ETCD_HOSTS ?? "127.0.0.1:2379" });
const records = postgres({ pool, schema });
const roles = etcd({ client, prefix, ttl: Number(ttl) });
const { wf } = lineWorkflowOn(
  { ...records, roleScheduler: roles.roleScheduler },
  {
    name: "multi-etcd",
    stepOptions: { parallelCount: 3, errBackOff: 50 },
    config: { logger: { debug: () => {}, error: () => {} } },
  },
);
await wf.run();
process.stdout.write("ready\n");
for (let i = 0; i < Number(triggerCount); i++) {
  await wf.trigger(`item-${i}`, { initialValue: { id: `item-${i}`, count: 0 } });
}
if (Number(triggerCount) > 0) process.stdout.write("triggered\n");
process.on("SIGTERM", () => {
  void wf
    .stop()
    .then(() => Promise.all([roles.close(), records.close()]))
    .then(() => pool.end())
    .then(() => client.close())
    .then(() => process.exit(0));
});
