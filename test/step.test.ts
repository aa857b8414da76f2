import assert from "node:assert/strict";
import { test } from "node:test";
import {
  Builder,
  HeaderKey,
  InvalidTransitionError,
  ObjectDecodeError,
  RunState,
  topic,
  type Codec,
  type RecordStore,
} from "stepwise";
import { memory } from "stepwise/memory";
import { FakeClock, waitFor } from "stepwise/testing";
import { until } from "./support/until.js";
import { Status, type Item } from "./support/workflows.js";
import { errorsTo, quietLogger } from "./support/logger.js";

const item = (id: string): Item => ({ id, count: 0 });

test("saveAndRepeat stores the object and hands the run back until it moves on", async () => {
  const b = new Builder<Item, Status>("repeat", Status);
  const seen: number[] = [];
  b.addStep(
    Status.Created,
    async (run) => {
      seen.push(run.object.count);
      run.object.count++;
      return run.object.count < 5 ? run.saveAndRepeat() : Status.Done;
    },
    Status.Done,
  );
  const wf = b.build(memory());
  try {
    await wf.run();
    const runId = await wf.trigger("r-1", { initialValue: item("r-1") });
    const done = await wf.await("r-1", runId, Status.Done);
    assert.deepEqual(seen, [0, 1, 2, 3, 4]);
    assert.equal(done.object.count, 5);
    assert.equal(done.meta.version, 6);
  } finally {
    await wf.stop();
  }
});

test("a step's pause and cancel store the run state with the reason", async () => {
  const b = new Builder<Item, Status>("controls", Status);
  b.addStep(Status.Created, async (run) => (run.object.id === "p" ? run.pause("needs review") : run.cancel("not wanted")), Status.Done);
  const adapters = memory();
  const wf = b.build(adapters);
  try {
    await wf.run();
    await wf.trigger("p", { initialValue: item("p") });
    await wf.trigger("c", { initialValue: item("c") });
    const paused = await waitFor(wf, "p", (r) => r.runState === RunState.Paused);
    assert.equal(paused.meta.runStateReason, "needs review");
    assert.equal(paused.status, Status.Created);
    const cancelled = await waitFor(wf, "c", (r) => r.runState === RunState.Cancelled);
    assert.equal(cancelled.meta.runStateReason, "not wanted");
  } finally {
    await wf.stop();
  }
});

test("skip leaves the run as it is", async () => {
  const b = new Builder<Item, Status>("skipping", Status);
  let calls = 0;
  b.addStep(
    Status.Created,
    async (run) => {
      calls++;
      return run.skip();
    },
    Status.Done,
  );
  const adapters = memory();
  const wf = b.build(adapters);
  try {
    await wf.run();
    const runId = await wf.trigger("s", { initialValue: item("s") });
    await waitFor(wf, "s", () => calls === 1);
    // A second run proves the consumer went past the skipped event rather than stalling on it.
    await wf.trigger("s2", { initialValue: item("s2") });
    await waitFor(wf, "s2", () => calls === 2);
    const stored = await adapters.recordStore.lookup(runId);
    assert.equal(stored.meta.version, 1);
    assert.equal(stored.runState, RunState.Initiated);
  } finally {
    await wf.stop();
  }
});

test("a failing step is retried after errBackOff and then succeeds", async () => {
  const clock = new FakeClock(new Date("2026-01-01T00:00:00Z"));
  const b = new Builder<Item, Status>("retrying", Status);
  let attempts = 0;
  b.addStep(
    Status.Created,
    async () => {
      attempts++;
      if (attempts < 3) throw new Error(`flaky ${attempts}`);
      return Status.Done;
    },
    Status.Done,
  ).withOptions({ errBackOff: 5_000 });
  const errors: unknown[] = [];
  const wf = b.build({ ...memory({ clock }), clock, logger: errorsTo(errors) });
  try {
    await wf.run();
    const runId = await wf.trigger("f", { initialValue: item("f") });
    for (let i = 1; i < 3; i++) {
      await clock.blockUntil(1);
      assert.equal(attempts, i);
      clock.advance(5_000);
    }
    const done = await wf.await("f", runId, Status.Done);
    assert.equal(done.runState, RunState.Completed);
    assert.equal(attempts, 3);
    assert.deepEqual(
      errors.map((e) => (e as Error).message),
      ["flaky 1", "flaky 2"],
    );
  } finally {
    await wf.stop();
  }
});

test("pauseAfterErrCount pauses a run after that many errors and moves on to other runs", async () => {
  const b = new Builder<Item, Status>("pausing", Status);
  const attempts = new Map<string, number>();
  b.addStep(
    Status.Created,
    async (run) => {
      attempts.set(run.foreignId, (attempts.get(run.foreignId) ?? 0) + 1);
      if (run.object.id === "bad") throw new Error("card declined");
      return Status.Done;
    },
    Status.Done,
  ).withOptions({ pauseAfterErrCount: 3, errBackOff: 1 });
  const wf = b.build({ ...memory(), logger: quietLogger });
  try {
    await wf.run();
    const badId = await wf.trigger("bad", { initialValue: item("bad") });
    const paused = await waitFor(wf, "bad", (r) => r.runState === RunState.Paused);
    assert.equal(attempts.get("bad"), 3);
    assert.match(paused.meta.runStateReason, /paused after 3 errors in step Created: card declined/);
    const goodId = await wf.trigger("good", { initialValue: item("good") });
    assert.equal((await wf.await("good", goodId, Status.Done)).runState, RunState.Completed);
    assert.equal(attempts.get("bad"), 3);
    // A resumed run gets a fresh count of errors.
    await wf.resume(badId);
    await waitFor(wf, "bad", (r) => r.runState === RunState.Paused && r.meta.version === 4);
    assert.equal(attempts.get("bad"), 6);
  } finally {
    await wf.stop();
  }
});

test("a status the step did not declare is refused at runtime with InvalidTransitionError", async () => {
  const b = new Builder<Item, Status>("undeclared", Status);
  // The cast hides the undeclared status from the compiler, as JavaScript callers could.
  b.addStep(Status.Created, (async () => Status.Failed) as unknown as () => Promise<Status.Done>, Status.Done).withOptions({
    pauseAfterErrCount: 1,
  });
  const errors: unknown[] = [];
  const wf = b.build({ ...memory(), logger: errorsTo(errors) });
  try {
    await wf.run();
    await wf.trigger("u", { initialValue: item("u") });
    const paused = await waitFor(wf, "u", (r) => r.runState === RunState.Paused);
    assert.equal(paused.status, Status.Created);
    assert.match(paused.meta.runStateReason, /invalid transition from Created to Failed: not declared \(declared: Done\)/);
    assert.ok(errors[0] instanceof InvalidTransitionError);
    assert.equal((errors[0] as InvalidTransitionError).code, "INVALID_TRANSITION");
  } finally {
    await wf.stop();
  }
});

test("an object that does not decode is an ObjectDecodeError and the stored run stays intact", async () => {
  const json: Codec<Item> = {
    encode: (value) => new TextEncoder().encode(JSON.stringify(value)),
    decode: (bytes) => {
      const value = JSON.parse(new TextDecoder().decode(bytes)) as Item;
      if (typeof value.count !== "number") throw new TypeError("count must be a number");
      return value;
    },
  };
  const b = new Builder<Item, Status>("decoding", Status);
  let calls = 0;
  b.addStep(
    Status.Created,
    async () => {
      calls++;
      return Status.Done;
    },
    Status.Done,
  ).withOptions({ pauseAfterErrCount: 1 });
  const adapters = memory();
  const errors: unknown[] = [];
  const wf = b.build({ ...adapters, codec: json, logger: errorsTo(errors) });
  try {
    await wf.run();
    const runId = await wf.trigger("d", { initialValue: { id: "d" } as unknown as Item });
    await until("the undecodable run to pause", async () => (await adapters.recordStore.lookup(runId)).runState === RunState.Paused);
    const stored = await adapters.recordStore.lookup(runId);
    assert.equal(stored.runState, RunState.Paused);
    assert.equal(new TextDecoder().decode(stored.object), '{"id":"d"}');
    assert.equal(calls, 0);
    assert.ok(errors[0] instanceof ObjectDecodeError);
    assert.match((errors[0] as Error).message, new RegExp(`object of run "${runId}" could not be decoded`));
    await assert.rejects(wf.await("d", runId, Status.Created), ObjectDecodeError);
  } finally {
    await wf.stop();
  }
});

test("events for a missing run, an older version or a stopped run do not reach the step", async () => {
  const b = new Builder<Item, Status>("skips", Status);
  const handled: string[] = [];
  b.addStep(
    Status.Created,
    async (run) => {
      handled.push(run.foreignId);
      return run.object.id === "hold" ? run.pause("hold") : Status.Done;
    },
    Status.Done,
  );
  const adapters = memory();
  const wf = b.build(adapters);
  try {
    await wf.run();
    const heldId = await wf.trigger("hold", { initialValue: item("hold") });
    const held = await waitFor(wf, "hold", (r) => r.runState === RunState.Paused);
    const sender = await adapters.eventStreamer.newSender(topic("skips", Status.Created));
    const headers = (runId: string, version: number) => ({
      [HeaderKey.workflowName]: "skips",
      [HeaderKey.runId]: runId,
      [HeaderKey.recordVersion]: String(version),
    });
    await sender.send("ghost", Status.Created, headers("00000000-0000-4000-8000-000000000000", 1)); // missing run
    await sender.send("hold", Status.Created, headers(heldId, 1)); // older than the stored version 2
    await sender.send("hold", Status.Created, headers(heldId, held.meta.version)); // current, but paused
    // A last real run shows the consumer got through the three events before it.
    const lastId = await wf.trigger("last", { initialValue: item("last") });
    await wf.await("last", lastId, Status.Done);
    assert.deepEqual(handled, ["hold", "last"]);
  } finally {
    await wf.stop();
  }
});

test("a stale read is retried until the store catches up, and the step runs once", async () => {
  const inner = memory();
  let staleReads = 1;
  // A store that, once, answers with the version before the one the event announced, as a lagging replica would.
  const lagging: RecordStore = Object.assign(Object.create(inner.recordStore) as RecordStore, {
    lookup: async (runId: string) => {
      const history = inner.recordStore.snapshots(runId);
      const current = history.at(-1);
      if (staleReads > 0 && current && current.meta.version > 1) {
        staleReads--;
        return history.at(-2) ?? current;
      }
      return inner.recordStore.lookup(runId);
    },
  });
  const b = new Builder<Item, Status>("stale", Status);
  const calls = new Map<Status, number>();
  for (const [from, to] of [
    [Status.Created, Status.Processed],
    [Status.Processed, Status.Done],
  ] as const) {
    b.addStep(
      from,
      async () => {
        calls.set(from, (calls.get(from) ?? 0) + 1);
        return to;
      },
      to,
    ).withOptions({ errBackOff: 1 });
  }
  const errors: unknown[] = [];
  const wf = b.build({ ...inner, recordStore: lagging, logger: errorsTo(errors) });
  try {
    await wf.run();
    const runId = await wf.trigger("st", { initialValue: item("st") });
    await wf.await("st", runId, Status.Done);
    assert.equal(staleReads, 0);
    assert.equal((errors[0] as { code?: string }).code, "STALE_READ");
    assert.deepEqual([...calls.entries()].sort(), [
      [Status.Created, 1],
      [Status.Processed, 1],
    ]);
  } finally {
    await wf.stop();
  }
});

test("stop() during a slow step leaves its event un-acked, and a new instance finishes the run", async () => {
  const adapters = memory();
  let started!: () => void;
  const stepStarted = new Promise<void>((resolve) => (started = resolve));
  const build = (slow: boolean) => {
    const b = new Builder<Item, Status>("slow", Status);
    b.addStep(
      Status.Created,
      async (run, ctx) => {
        if (slow) {
          started();
          // Waits until the workflow stops, as a step honouring ctx.signal does.
          await new Promise((_, reject) => ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason)));
        }
        run.object.count++;
        return Status.Done;
      },
      Status.Done,
    );
    return b.build(adapters);
  };
  const first = build(true);
  const second = build(false);
  try {
    await first.run();
    const runId = await first.trigger("slow", { initialValue: item("slow") });
    await stepStarted;
    await first.stop();
    const intact = await adapters.recordStore.lookup(runId);
    assert.equal(intact.meta.version, 1);
    assert.equal(intact.runState, RunState.Initiated);

    await second.run();
    const done = await second.await("slow", runId, Status.Done);
    assert.equal(done.object.count, 1);
    assert.equal(done.meta.version, 2);
  } finally {
    await Promise.all([first.stop(), second.stop()]);
  }
});

test("lag holds events back until they are old enough", async () => {
  const clock = new FakeClock(new Date("2026-01-01T00:00:00Z"));
  const b = new Builder<Item, Status>("lagging", Status);
  b.addStep(Status.Created, async () => Status.Done, Status.Done).withOptions({ lag: 60_000 });
  const adapters = memory({ clock });
  const wf = b.build({ ...adapters, clock });
  try {
    await wf.run();
    const runId = await wf.trigger("l", { initialValue: item("l") });
    await clock.blockUntil(1);
    clock.advance(59_999);
    assert.equal((await adapters.recordStore.lookup(runId)).status, Status.Created);
    clock.advance(1);
    const done = await wf.await("l", runId, Status.Done);
    assert.equal(done.runState, RunState.Completed);
  } finally {
    await wf.stop();
  }
});

test("a run whose step keeps failing backs off alone: the runs behind it go on", { timeout: 10_000 }, async () => {
  const clock = new FakeClock(new Date("2026-01-01T00:00:00Z"));
  const attempts = new Map<string, number>();
  const b = new Builder<Item, Status>("head-of-line", Status);
  b.addStep(
    Status.Created,
    async (run) => {
      attempts.set(run.foreignId, (attempts.get(run.foreignId) ?? 0) + 1);
      if (run.foreignId === "bad") throw new Error("always fails");
      return Status.Done;
    },
    Status.Done,
  ).withOptions({ errBackOff: 60_000, pauseAfterErrCount: 0 });
  const wf = b.build({ ...memory(), clock, logger: quietLogger });
  try {
    await wf.run();
    await wf.trigger("bad", { initialValue: item("bad") });
    const good: string[] = [];
    for (let i = 0; i < 5; i++) good.push(await wf.trigger(`good-${i}`, { initialValue: item(`good-${i}`) }));
    // The clock stands still, so the failing run cannot have been retried meanwhile.
    for (const [i, runId] of good.entries()) assert.equal((await wf.await(`good-${i}`, runId, Status.Done)).status, Status.Done);
    assert.equal(attempts.get("bad"), 1);
    clock.advance(60_000);
    await until("the failing run's retry", () => attempts.get("bad") === 2);
  } finally {
    await wf.stop();
  }
});
