// npm run bench:scaling: the three-step workflow with records on PostgreSQL and events and roles
// on NATS, run by 1, 2 and 3 worker processes in turn; prints runs/s for each.
import { parseArgs } from "node:util";
import { RunState } from "stepwise";
import { connectNats, eventually, uniquePrefix } from "../test/support/nats.js";
import { freshSchema } from "../test/support/postgres.js";
import { Workers } from "../test/support/workers.js";

const { values } = parseArgs({ options: { n: { type: "string", default: "2000" } } });
const runs = Number(values.n);
for (const count of [1, 2, 3]) {
  const db = await freshSchema();
  const names = uniquePrefix();
  const connection = await connectNats();
  const workers = new Workers();
  try {
    const args = ["--schema", db.schema, "--prefix", names.prefix, "--ttl-ms", "5000"];
    // The workers start together; the first one triggers every run once all are ready.
    const idle = Array.from({ length: count - 1 }, () => workers.start("nats", args));
    await Promise.all(idle.map((w) => w.said("ready")));
    const started = performance.now();
    const first = workers.start("nats", [...args, "--trigger", String(runs)]);
    const completed = async () =>
      Number((await db.pool.query(`SELECT count(*) FROM "${db.schema}".stepwise_records WHERE run_state = $1`, [RunState.Completed])).rows[0].count);
    await eventually(`${runs} runs to complete`, async () => (await completed()) === runs, 600_000, 100);
    const seconds = (performance.now() - started) / 1000;
    console.log(`${count} worker${count > 1 ? "s" : ""}: ${runs} runs in ${seconds.toFixed(1)} s, ${(runs / seconds).toFixed(0)} runs/s`);
    await Promise.all([first, ...idle].map((w) => w.stop()));
  } finally {
    await workers.killAll();
    await names.removeStreams(connection);
    await connection.close();
    await db.drop();
  }
}
