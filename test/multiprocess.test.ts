import assert from "node:assert/strict";
import { test } from "node:test";
import { RunState } from "stepwise";
import { freshSchema } from "./support/postgres.js";
import { until } from "./support/until.js";
import { Workers } from "./support/workers.js";
import { Status } from "./support/workflows.js";

test("three worker processes finish 2,000 runs though one is SIGKILLed halfway, each transition stored once", { timeout: 180_000 }, async () => {
  const db = await freshSchema();
  const workers = new Workers();
  try {
    const runs = 2000;
    const schema = ["--schema", db.schema];
    const [first, second, third] = [
      workers.start("postgres", [...schema, "--trigger", String(runs)]),
      workers.start("postgres", schema),
      workers.start("postgres", schema),
    ];
    await Promise.all([first, second, third].map((w) => w.said("ready")));
    const completed = async () =>
      Number(
        (await db.pool.query(`SELECT count(*) FROM "${db.schema}".stepwise_records WHERE run_state = $1`, [RunState.Completed])).rows[0].count,
      );
    await until("half of the runs to complete", async () => (await completed()) >= runs / 2, 120_000);
    await second.kill();
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
    await Promise.all([first.stop(), third.stop()]);
  } finally {
    await workers.killAll();
    await db.drop();
  }
});

test("a worker SIGKILLed in the middle of a batch's commit loses no run and stores no transition twice", { timeout: 180_000 }, async () => {
  const db = await freshSchema();
  const workers = new Workers();
  try {
    const runs = 600;
    const schema = ["--schema", db.schema];
    const dying = workers.start("postgres", [...schema, "--trigger", String(runs), "--in-flight", "200", "--die-in-commit", "3"]);
    await dying.said("dying in a commit");
    await dying.kill();
    const survivor = workers.start("postgres", schema);
    const completed = async () =>
      Number(
        (await db.pool.query(`SELECT count(*) FROM "${db.schema}".stepwise_records WHERE run_state = $1`, [RunState.Completed])).rows[0].count,
      );
    const triggered = Number((await db.pool.query(`SELECT count(*) FROM "${db.schema}".stepwise_records`)).rows[0].count);
    assert.ok(triggered > 0, "the dying worker triggered runs before it died");
    await until("every triggered run to complete", async () => (await completed()) === triggered, 120_000);

    const { rows } = await db.pool.query(
      `SELECT r.status, r.version, convert_from(r.object, 'UTF8')::jsonb->>'count' AS count,
         (SELECT count(*) FROM "${db.schema}".stepwise_events e WHERE e.headers->>'run_id' = r.run_id)::int AS events
       FROM "${db.schema}".stepwise_records r`,
    );
    for (const row of rows) {
      assert.equal(row.status, Status.Done);
      // One write at trigger and one per step: a step stored twice would show as version 5, or a count of 4.
      assert.equal(row.version, 4);
      assert.equal(row.count, "3", "each step's change applied once");
      assert.equal(row.events, 4, "one event per stored version");
    }
    await survivor.stop();
  } finally {
    await workers.killAll();
    await db.drop();
  }
});
