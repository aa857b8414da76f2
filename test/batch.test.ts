import assert from "node:assert/strict";
import { test } from "node:test";
import { Builder, durationTimer, RunState, type BuildError, type Record, type RecordStore } from "stepwise";
import { memory } from "stepwise/memory";
import { sqlite } from "stepwise/sqlite";
import { until } from "./support/until.js";
import { Status, type Item } from "./support/workflows.js";
import { errorsTo } from "./support/logger.js";

const item = (id: string): Item => ({ id, count: 0 });

/** A gate the step functions wait at until the test opens it. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

test("a batch runs its step functions concurrently, never more than `concurrency` at once", async () => {
  const b = new Builder<Item, Status>("concurrent", Status);
  const release = gate();
  let running = 0;
  let most = 0;
  b.addStep(
    Status.Created,
    async (run) => {
      running++;
      most = Math.max(most, running);
      await release.opened;
      running--;
      run.object.count++;
      return Status.Done;
    },
    Status.Done,
  ).withOptions({ batchSize: 10, concurrency: 4 });
  const wf = b.build(memory());
  try {
    await wf.run();
    const ids = Array.from({ length: 12 }, (_, i) => `run-${i}`);
    const runIds = await Promise.all(ids.map((id) => wf.trigger(id, { initialValue: item(id) })));
    await until("four step functions to run at once", () => running === 4);
    release.open();
    const done = await Promise.all(runIds.map((runId, i) => wf.await(ids[i]!, runId, Status.Done)));
    assert.ok(done.every((run) => run.object.count === 1), "each step applied once");
    assert.equal(most, 4, "at most `concurrency` step functions ran at once");
  } finally {
    await wf.stop();
  }
});

test("events that arrived together are stored with one storeMany, and a run that fails backs off alone", async () => {
  const adapters = sqlite(":memory:");
  const batches: Record[][] = [];
  const store = adapters.recordStore;
  // The store's own methods, but storeMany also tells which records went together.
  const recordStore = new Proxy<RecordStore>(store, {
    get: (target, key) => {
      const value: unknown = Reflect.get(target, key);
      if (key === "storeMany") {
        return (records: Record[]) => {
          batches.push(records);
          return store.storeMany?.(records);
        };
      }
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  const b = new Builder<Item, Status>("batched", Status);
  const release = gate();
  let failures = 0;
  b.addStep(
    Status.Created,
    async (run) => {
      await release.opened;
      if (run.foreignId === "fails") {
        failures++;
        throw new Error("this run fails");
      }
      run.object.count++;
      return Status.Done;
    },
    Status.Done,
  ).withOptions({ batchSize: 50, errBackOff: 10, pauseAfterErrCount: 3 });
  const errors: unknown[] = [];
  const wf = b.build({ ...adapters, recordStore, logger: errorsTo(errors) });
  try {
    await wf.run();
    const ids = ["fails", ...Array.from({ length: 20 }, (_, i) => `run-${i}`)];
    const runIds = await Promise.all(ids.map((id) => wf.trigger(id, { initialValue: item(id) })));
    release.open();
    await Promise.all(runIds.slice(1).map((runId, i) => wf.await(ids[i + 1]!, runId, Status.Done)));
    const steps = batches.map((batch) => batch.filter((record) => record.status === Status.Done).length).filter((n) => n > 0);
    assert.ok(Math.max(...steps) > 1, `step transitions were stored together (batches of ${steps.join(", ")})`);
    assert.equal(steps.reduce((sum, n) => sum + n, 0), 20, "each run's transition stored once");
    await until("the failing run to be paused after its third error", async () => (await wf.get(runIds[0]!)).runState === RunState.Paused);
    assert.equal(failures, 3);
  } finally {
    await wf.stop();
    await adapters.close();
  }
});

test("batchSize and concurrency are whole numbers of at least 1, and only steps take them", () => {
  const b = new Builder<Item, Status>("options", Status);
  const step = b.addStep(Status.Created, async () => Status.Done, Status.Done);
  for (const [key, value] of [["batchSize", 0], ["concurrency", 1.5], ["batchSize", -1]] as const) {
    assert.throws(() => step.withOptions({ [key]: value }), (err: BuildError) => err.code === "BUILD" && err.message.includes(`"${key}"`));
  }
  step.withOptions({ batchSize: 1, concurrency: 200 });
  const timeout = b.addTimeout(Status.Processed, durationTimer(1000), async () => Status.Done, Status.Done);
  assert.throws(() => timeout.withOptions({ batchSize: 10 }), (err: BuildError) => err.code === "BUILD" && /batchSize/.test(err.message));
  assert.throws(() => timeout.withOptions({ concurrency: 10 }), (err: BuildError) => err.code === "BUILD" && /concurrency/.test(err.message));
});
