import assert from "node:assert/strict";
import { test } from "node:test";
import pg from "pg";
import { RunState } from "stepwise";
import { postgres } from "stepwise/postgres";
import { freshSchema } from "./support/postgres.js";
import { until } from "./support/until.js";
import { lineWorkflowOn, Status } from "./support/workflows.js";
import { errorsTo } from "./support/logger.js";

test("connections terminated by the server mid-run: steps are retried and every run ends correct", { timeout: 120_000 }, async () => {
  const db = await freshSchema();
  const pool = new pg.Pool({ host: "127.0.0.1", user: "postgres", database: "test", max: 10, application_name: "stepwise-fault" });
  // A terminated connection is reported on the pool too; the workflow already handles it.
  pool.on("error", () => {});
  const errors: unknown[] = [];
  const adapters = postgres({ pool, schema: db.schema });
  const { wf, calls } = lineWorkflowOn(adapters, {
    name: "fault",
    stepOptions: { errBackOff: 20 },
    config: { logger: errorsTo(errors) },
  });
  try {
    await wf.run();
    const runs = 300;
    const runIds: string[] = [];
    let terminated = 0;
    let stopKilling = false;
    const allDone = async () =>
      Number((await db.pool.query(`SELECT count(*) FROM "${db.schema}".stepwise_records WHERE run_state = $1`, [RunState.Completed])).rows[0].count) === runs;
    const killer = (async () => {
      // Keeps ending one of the workflow's connections at random, whatever it is doing (a step's
      // write, the LISTEN connection, the role lock), forty times a second until every run finished.
      while (!stopKilling && (runIds.length < runs || !(await allDone()))) {
        const { rows } = await db.pool.query<{ ended: boolean }>(
          `SELECT pg_terminate_backend(pid) AS ended FROM pg_stat_activity
            WHERE application_name = 'stepwise-fault' AND pid <> pg_backend_pid() ORDER BY random() LIMIT 1`,
        );
        terminated += rows.filter((r) => r.ended).length;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    })();
    for (let i = 0; i < runs; i++) {
      // A trigger whose connection is cut is simply tried again, as a caller would.
      for (;;) {
        try {
          runIds.push(await wf.trigger(`item-${i}`, { initialValue: { id: `item-${i}`, count: 0 } }));
          break;
        } catch (err) {
          if ((err as { code?: string }).code === "WORKFLOW_IN_PROGRESS") {
            runIds.push("");
            break;
          }
        }
      }
    }
    try {
      await until("every run to complete despite the terminations", allDone, 100_000);
    } catch (err) {
      stopKilling = true;
      await killer;
      const { rows } = await db.pool.query(`SELECT status, run_state, count(*) FROM "${db.schema}".stepwise_records GROUP BY 1, 2`);
      throw new Error(`${(err as Error).message} (${terminated} connections ended); runs by status and state: ${JSON.stringify(rows)}`, { cause: err });
    }
    await killer;
    assert.ok(terminated > 0, "connections were terminated");
    assert.ok(errors.length > 0, "the workflow saw the failures");
    const { rows } = await db.pool.query(`SELECT status, version, object FROM "${db.schema}".stepwise_records`);
    assert.equal(rows.length, runs);
    for (const row of rows) {
      assert.equal(row.status, Status.Done);
      assert.equal(row.version, 4, "no half-written or repeated transition");
      assert.equal(JSON.parse(Buffer.from(row.object).toString()).count, 3);
    }
    assert.equal(calls.size, runs * 3);
  } finally {
    await wf.stop();
    await adapters.close();
    await pool.end();
    await db.drop();
  }
});
