import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import Database from "better-sqlite3";
import { RunState } from "stepwise";
import { until } from "./support/until.js";
import { Workers } from "./support/workers.js";
import { Status } from "./support/workflows.js";

const dir = mkdtempSync(join(tmpdir(), "stepwise-sqlite-crash-"));
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

test("a process SIGKILLed mid-way through 1,000 runs leaves a SQLite file on which a new process completes every run, none twice", { timeout: 60_000 }, async (t) => {
  const path = join(dir, "crash.db");
  const runs = 1000;
  const args = ["--path", path, "--parallel", "2"];
  const workers = new Workers();
  try {
    // The worker triggers every run at once (the store commits them together, well before the steps
    // catch up), then kills itself once its steps ran 1,500 times of 3,000.
    const first = workers.start("sqlite", [...args, "--trigger", String(runs), "--in-flight", String(runs), "--halfway", String((3 * runs) / 2), "--die-halfway"]);
    await first.said("halfway");
    await first.kill();

    const db = new Database(path);
    try {
      const completed = () => (db.prepare("SELECT count(*) AS n FROM stepwise_records WHERE run_state = ?").get(RunState.Completed) as { n: number }).n;
      const records = () => (db.prepare("SELECT count(*) AS n FROM stepwise_records").get() as { n: number }).n;
      const completedAtKill = completed();
      t.diagnostic(`killed with ${completedAtKill} of ${runs} runs completed`);
      assert.equal(records(), runs, "every run was triggered before the kill");
      assert.ok(completedAtKill < runs, `the kill came mid-way (${completedAtKill} of ${runs} runs had completed)`);

      const second = workers.start("sqlite", args);
      await second.said("ready");
      await until("every run to complete", () => completed() === runs, 45_000);
      await second.stop();

      const rows = db
        .prepare(
          `SELECT r.run_id, r.status, r.version, r.run_state,
             (SELECT count(*) FROM stepwise_events e WHERE json_extract(e.headers, '$.run_id') = r.run_id) AS events
           FROM stepwise_records r`,
        )
        .all() as { run_id: string; status: number; version: number; run_state: number; events: number }[];
      assert.equal(rows.length, runs, "no run lost, none duplicated");
      for (const row of rows) {
        assert.equal(row.status, Status.Done, `run ${row.run_id} is done`);
        assert.equal(row.run_state, RunState.Completed);
        // One write at trigger and one per step: a transition stored twice would show as version 5.
        assert.equal(row.version, 4, `run ${row.run_id} went through exactly four versions`);
        assert.equal(row.events, 4, `run ${row.run_id} has one event per stored version`);
      }
    } finally {
      db.close();
    }
  } finally {
    await workers.killAll();
  }
});
