import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { after, test } from "node:test";
import { RunState } from "stepwise";
import { freshSchema } from "./support/postgres.js";
import { until } from "./support/until.js";
import { Status } from "./support/workflows.js";

const workers: ChildProcess[] = [];
after(() => {
  for (const worker of workers) worker.kill("SIGKILL");
});

function startWorker(schema: string, triggers: number): { child: ChildProcess; said(line: string): Promise<void> } {
  const child = spawn(
    process.execPath,
    ["--conditions=source", "--import", "tsx", new URL("./support/pg-worker.ts", import.meta.url).pathname, schema, String(triggers)],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  workers.push(child);
  const lines: string[] = [];
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => lines.push(line));
  return {
    child,
    said: (line) => until(`a worker to say "${line}"`, () => lines.includes(line), 60_000),
  };
}

test("three worker processes finish 2,000 runs though one is SIGKILLed halfway, each transition stored once", { timeout: 180_000 }, async () => {
  const db = await freshSchema();
  try {
    const runs = 2000;
    const [first, second, third] = [startWorker(db.schema, runs), startWorker(db.schema, 0), startWorker(db.schema, 0)];
    await Promise.all([first, second, third].map((w) => w?.said("ready")));
    const completed = async () =>
      Number(
        (await db.pool.query(`SELECT count(*) FROM "${db.schema}".stepwise_records WHERE run_state = $1`, [RunState.Completed])).rows[0].count,
      );
    await until("half of the runs to complete", async () => (await completed()) >= runs / 2, 120_000);
    second?.child.kill("SIGKILL");
    await once(second?.child as ChildProcess, "exit");
    await until("every run to complete", async () => (await completed()) === runs, 120_000);

    const { rows } = await db.pool.query(
      `SELECT r.status, r.version, (SELECT count(*) FROM "${db.schema}".stepwise_events e WHERE e.headers->>'run_id' = r.run_id)::int AS events
       FROM "${db.schema}".stepwise_records r`,
    );
    assert.equal(rows.length, runs, "no run lost, none duplicated");
    for (const row of rows) {
      assert.equal(row.status, Status.Done);
      // One write at trigger and one per step: a step stored twice would show as version 5.
      assert.equal(row.version, 4);
      assert.equal(row.events, 4, "one event per stored version");
    }
    for (const worker of [first, third]) worker?.child.kill("SIGTERM");
    await Promise.all([first, third].map((w) => once(w?.child as ChildProcess, "exit")));
  } finally {
    await db.drop();
  }
});
