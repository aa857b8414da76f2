// A worker process for the multi-process tests: runs the three-step line workflow on the
// PostgreSQL schema it is given, triggers runs if asked to, and reports "ready" on stdout.
import pg from "pg";
import { postgres } from "stepwise/postgres";
import { lineWorkflowOn } from "./workflows.js";

const [schema = "", triggerCount = "0"] = process.argv.slice(2);
const pool = new pg.Pool({ host: process.env.PGHOST ?? "127.0.0.1", user: "postgres", database: "test", max: 10 });
const adapters = postgres({ pool, schema });
const { wf } = lineWorkflowOn(adapters, {
  name: "multi",
  stepOptions: { parallelCount: 3, errBackOff: 50 },
  config: { logger: { debug: () => {}, error: () => {} } },
});
await wf.run();
process.stdout.write("ready\n");
for (let i = 0; i < Number(triggerCount); i++) {
  await wf.trigger(`item-${i}`, { initialValue: { id: `item-${i}`, count: 0 } });
}
if (Number(triggerCount) > 0) process.stdout.write("triggered\n");
process.on("SIGTERM", () => {
  void wf
    .stop()
    .then(() => adapters.close())
    .then(() => pool.end())
    .then(() => process.exit(0));
});
