import assert from "node:assert/strict";
import { test } from "node:test";
import { Builder, InvalidScheduleError, RunState } from "stepwise";
import { memory } from "stepwise/memory";
import { FakeClock, waitFor } from "stepwise/testing";

enum Report {
  Unknown = 0,
  Requested = 1,
  Sent = 2,
}
type Job = { day: string };

function reports(options: { holdRuns?: boolean } = {}) {
  const clock = new FakeClock(new Date("2026-01-01T00:00:30Z"));
  const b = new Builder<Job, Report>("reports", Report);
  if (options.holdRuns) {
    // Runs wait in Requested until called back, so they stay in progress.
    b.addCallback(Report.Requested, async () => Report.Sent, Report.Sent);
  } else {
    b.addStep(Report.Requested, async () => Report.Sent, Report.Sent);
  }
  const adapters = memory({ clock });
  const wf = b.build({ ...adapters, clock });
  const runs = () => adapters.recordStore.list({ workflowName: "reports", limit: 100 });
  return { wf, clock, runs };
}

test("a one-minute schedule triggers once per advanced minute", async () => {
  const { wf, clock, runs } = reports();
  try {
    await wf.run();
    await wf.schedule("daily-report", "* * * * *", { initialValue: { day: "today" } });
    assert.ok("daily-report-scheduler-* * * * *" in wf.states());
    for (let minute = 1; minute <= 3; minute++) {
      await clock.blockUntil(1);
      clock.advance(minute === 1 ? 30_000 : 60_000);
      await waitFor(wf, "daily-report", (r) => r.runState === RunState.Completed && r.createdAt.getTime() === Date.parse(`2026-01-01T00:0${minute}:00Z`));
      assert.equal((await runs()).length, minute);
    }
    assert.deepEqual(
      (await runs()).map((r) => r.createdAt.toISOString()),
      ["2026-01-01T00:01:00.000Z", "2026-01-01T00:02:00.000Z", "2026-01-01T00:03:00.000Z"],
    );
  } finally {
    await wf.stop();
  }
});

test("a slot is skipped while a run of the foreign id is in progress", async () => {
  const { wf, clock, runs } = reports({ holdRuns: true });
  try {
    await wf.run();
    await wf.schedule("held", "* * * * *");
    await clock.blockUntil(1);
    clock.advance(30_000);
    await waitFor(wf, "held", (r) => r.status === Report.Requested);
    for (let i = 0; i < 3; i++) {
      await clock.blockUntil(1); // the slot was handled and the scheduler sleeps until the next
      clock.advance(60_000);
    }
    await clock.blockUntil(1);
    assert.equal((await runs()).length, 1);
    await wf.callback("held", Report.Requested, null);
    clock.advance(60_000);
    await waitFor(wf, "held", (r) => r.createdAt.toISOString() === "2026-01-01T00:05:00.000Z");
    assert.equal((await runs()).length, 2);
  } finally {
    await wf.stop();
  }
});

test("the filter can skip a slot", async () => {
  const { wf, clock, runs } = reports();
  try {
    await wf.run();
    await wf.schedule("odd-minutes", "* * * * *", { filter: (slot) => slot.getUTCMinutes() % 2 === 1 });
    await clock.blockUntil(1);
    clock.advance(30_000);
    await waitFor(wf, "odd-minutes", (r) => r.runState === RunState.Completed);
    await clock.blockUntil(1);
    clock.advance(60_000); // 00:02, filtered out
    await clock.blockUntil(1);
    clock.advance(60_000); // 00:03
    await waitFor(wf, "odd-minutes", (r) => r.createdAt.toISOString() === "2026-01-01T00:03:00.000Z");
    assert.deepEqual(
      (await runs()).map((r) => r.createdAt.getUTCMinutes()),
      [1, 3],
    );
  } finally {
    await wf.stop();
  }
});

test("six-field specs schedule by the second", async () => {
  const { wf, clock } = reports();
  try {
    await wf.run();
    await wf.schedule("every-10s", "*/10 * * * * *");
    await clock.blockUntil(1);
    clock.advance(10_000);
    const run = await waitFor(wf, "every-10s", () => true);
    assert.equal(run.createdAt.toISOString(), "2026-01-01T00:00:40.000Z");
  } finally {
    await wf.stop();
  }
});

test("a malformed cron spec is refused with InvalidScheduleError", async () => {
  const { wf } = reports();
  try {
    await wf.run();
    for (const spec of ["61 * * * *", "* * *", "every minute", "* * * * * * *"]) {
      await assert.rejects(wf.schedule("bad", spec), (err: InvalidScheduleError) => {
        return err instanceof InvalidScheduleError && err.code === "INVALID_SCHEDULE" && err.message.includes(`"${spec}"`);
      });
    }
  } finally {
    await wf.stop();
  }
});
