// npm run bench:scaling: the three-step workflow with records on PostgreSQL and events and roles
// on NATS, run by 1, 2 and 3 worker processes in turn; prints runs/s for each.
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { RunState } from "stepwise";
import { connectNats, eventually, uniquePrefix } from "../test/support/nats.js";
import { freshSchema } from "../test/support/postgres.js";

const { values } = parseArgs({ options: { n: { type: "string", default: "2000" } } });
const runs = Number(values.n);
const worker = new URL("../test/support/nats-worker.ts", import.meta.url).pathname;

function start(schema: string, prefix: string, triggers: number): { child: ChildProcess; lines: string[] } {
  const child = spawn(process.execPath, ["--conditions=source", "--import", "tsx", worker, schema, prefix, String(triggers), "5000"], {
    stdio: ["ignore", "pipe", "ignore"],
  });
  const lines: string[] = [];
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => lines.push(line));
  return { child, lines };
}

for (const count of [1, 2, 3]) {
  const db = await freshSchema();
  const names = uniquePrefix();
  const connection = await connectNats();
  try {
    // The workers start together; the first one triggers every run once all are ready.
    const idle = Array.from({ length: count - 1 }, () => start(db.schema, names.prefix, 0));
    await eventually("idle workers to be ready", async () => idle.every((w) => w.lines.includes("ready")), 60_000);
    const started = performance.now();
    const first = start(db.schema, names.prefix, runs);
    const completed = async () =>
      Number((await db.pool.query(`SELECT count(*) FROM "${db.schema}".stepwise_records WHERE run_state = $1`, [RunState.Completed])).rows[0].count);
    await eventually(`${runs} runs to complete`, async () => (await completed()) === runs, 600_000, 100);
    const seconds = (performance.now() - started) / 1000;
    console.log(`${count} worker${count > 1 ? "s" : ""}: ${runs} runs in ${seconds.toFixed(1)} s, ${(runs / seconds).toFixed(0)} runs/s`);
    for (const w of [first, ...idle]) w.child.kill("SIGTERM");
    await Promise.all([first, ...idle].map((w) => once(w.child, "exit")));
  } finally {
    await names.removeStreams(connection);
    await connection.close();
    await db.drop();
  }
}
