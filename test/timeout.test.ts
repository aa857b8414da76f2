import assert from "node:assert/strict";
import { test } from "node:test";
import { BuildError, Builder, durationTimer, RunState, timeTimer, type TimeoutRecord, type TimeoutStore, type TimerFn } from "stepwise";
import { memory } from "stepwise/memory";
import { awaitTimeoutInsert, FakeClock, requireStatus, waitFor } from "stepwise/testing";
import { until } from "./support/until.js";
import { errorsTo, quietLogger } from "./support/logger.js";
import { timeoutPageSize } from "../src/timeout.js";

enum Order {
  Unknown = 0,
  Created = 1,
  Paid = 2,
  Shipped = 3,
  Expired = 4,
}
type Cart = { id: string; paidWith?: string; expiredAt?: string };

const hour = 60 * 60_000;

function orders(options: { timer?: TimerFn<Cart, Order> } = {}) {
  const clock = new FakeClock(new Date("2026-01-01T00:00:00Z"));
  const fired: string[] = [];
  const b = new Builder<Cart, Order>("timeout-orders", Order);
  b.addCallback(
    Order.Created,
    async (run, payload) => {
      run.object.paidWith = String(payload);
      return Order.Paid;
    },
    Order.Paid,
  );
  b.addTimeout(
    Order.Created,
    options.timer ?? durationTimer(hour),
    async (run, now) => {
      fired.push(run.foreignId);
      run.object.expiredAt = now.toISOString();
      return Order.Expired;
    },
    Order.Expired,
  );
  b.addStep(Order.Paid, async () => Order.Shipped, Order.Shipped);
  const adapters = memory({ clock });
  const wf = b.build({ ...adapters, clock });
  return { wf, clock, fired, adapters };
}

test("an order unpaid after an hour expires, exactly once and not before", async () => {
  const { wf, clock, fired, adapters } = orders();
  try {
    await wf.run();
    const runId = await wf.trigger("o-1", { initialValue: { id: "o-1" } });
    const timeout = await awaitTimeoutInsert(wf, "o-1", runId, Order.Created);
    assert.equal(timeout.expireAt.toISOString(), "2026-01-01T01:00:00.000Z");

    clock.advance(hour - 1);
    await clock.blockUntil(1); // the poller looked and went back to sleep
    assert.deepEqual(fired, []);
    assert.equal((await adapters.recordStore.lookup(runId)).status, Order.Created);

    clock.advance(500);
    await requireStatus(wf, "o-1", Order.Expired, { id: "o-1", expiredAt: "2026-01-01T01:00:00.499Z" });
    await waitFor(wf, "o-1", (r) => r.runState === RunState.Completed);
    assert.equal((await adapters.timeoutStore.list("timeout-orders")).length, 0);

    clock.advance(hour);
    await clock.blockUntil(1);
    assert.deepEqual(fired, ["o-1"]);
  } finally {
    await wf.stop();
  }
});

test("a timeout never fires for a run that moved on, and is cancelled", async () => {
  const { wf, clock, fired, adapters } = orders();
  try {
    await wf.run();
    const runId = await wf.trigger("o-2", { initialValue: { id: "o-2" } });
    await awaitTimeoutInsert(wf, "o-2", runId, Order.Created);
    await wf.callback("o-2", Order.Created, "card");
    await wf.await("o-2", runId, Order.Shipped);
    clock.advance(hour);
    await clock.blockUntil(1);
    await waitFor(wf, "o-2", () => true);
    assert.deepEqual(fired, []);
    assert.deepEqual(await adapters.timeoutStore.list("timeout-orders"), []);
    const run = await wf.await("o-2", runId, Order.Shipped);
    assert.equal(run.object.paidWith, "card");
  } finally {
    await wf.stop();
  }
});

test("a timer returning null inserts no timeout for that run", async () => {
  const { wf, adapters } = orders({ timer: (run, now) => (run.object.id === "free" ? null : new Date(now.getTime() + hour)) });
  try {
    await wf.run();
    await wf.trigger("free", { initialValue: { id: "free" } });
    const paidRunId = await wf.trigger("o-3", { initialValue: { id: "o-3" } });
    // The auto-inserter handles events in order, so once the second run's timeout exists the first was decided.
    await awaitTimeoutInsert(wf, "o-3", paidRunId, Order.Created);
    const timeouts = await adapters.timeoutStore.list("timeout-orders");
    assert.deepEqual(
      timeouts.map((t) => t.foreignId),
      ["o-3"],
    );
  } finally {
    await wf.stop();
  }
});

test("a timeTimer expires at its fixed time", async () => {
  const { wf } = orders({ timer: timeTimer(new Date("2026-01-01T00:30:00Z")) });
  try {
    await wf.run();
    const runId = await wf.trigger("o-4", { initialValue: { id: "o-4" } });
    const timeout = await awaitTimeoutInsert(wf, "o-4", runId, Order.Created);
    assert.equal(timeout.expireAt.toISOString(), "2026-01-01T00:30:00.000Z");
  } finally {
    await wf.stop();
  }
});

test("a timer that throws is retried after errBackOff, and the run is untouched meanwhile", async () => {
  let calls = 0;
  const errors: unknown[] = [];
  const clock = new FakeClock(new Date("2026-01-01T00:00:00Z"));
  const b = new Builder<Cart, Order>("flaky-timer", Order);
  b.addTimeout(
    Order.Created,
    (_run, now) => {
      if (++calls === 1) throw new Error("timer failed");
      return new Date(now.getTime() + hour);
    },
    async () => Order.Expired,
    Order.Expired,
  ).withOptions({ errBackOff: 1_000 });
  const adapters = memory({ clock });
  const wf = b.build({ ...adapters, clock, logger: errorsTo(errors) });
  try {
    await wf.run();
    const runId = await wf.trigger("o-5", { initialValue: { id: "o-5" } });
    await clock.blockUntil(2); // the poller and the inserter's back-off
    assert.match((errors[0] as Error).message, /timer failed/);
    assert.equal((await adapters.recordStore.lookup(runId)).meta.version, 1);
    clock.advance(1_000);
    await awaitTimeoutInsert(wf, "o-5", runId, Order.Created);
    assert.equal(calls, 2);
  } finally {
    await wf.stop();
  }
});

test("timeouts refuse parallelCount and lag, and need a timeout store", () => {
  const b = new Builder<Cart, Order>("timeout-options", Order);
  const updater = b.addTimeout(Order.Created, durationTimer(1), async () => Order.Expired, Order.Expired);
  assert.throws(() => updater.withOptions({ parallelCount: 2 }), (err: BuildError) => err.code === "BUILD" && /parallelCount/.test(err.message));
  assert.throws(() => updater.withOptions({ lag: 10 }), (err: BuildError) => err instanceof BuildError && /"lag"/.test(err.message));
  const { eventStreamer, recordStore, roleScheduler } = memory();
  assert.throws(() => b.build({ eventStreamer, recordStore, roleScheduler }), /has timeouts, so build\(\) needs a timeoutStore/);
});

test("a timeout function that keeps throwing pauses its run after pauseAfterErrCount errors", async () => {
  let attempts = 0;
  const b = new Builder<Cart, Order>("timeout-pauses", Order);
  b.addTimeout(
    Order.Created,
    durationTimer(0),
    async () => {
      attempts++;
      throw new Error("carrier API down");
    },
    Order.Expired,
  ).withOptions({ pauseAfterErrCount: 3, errBackOff: 1, pollingFrequency: 5 });
  const wf = b.build({ ...memory(), pauseRetry: false, logger: quietLogger });
  try {
    await wf.run();
    await wf.trigger("o-6", { initialValue: { id: "o-6" } });
    const paused = await waitFor(wf, "o-6", (r) => r.runState === RunState.Paused);
    assert.equal(attempts, 3);
    assert.equal(paused.status, Order.Created);
    assert.match(paused.meta.runStateReason, /paused after 3 errors in timeout Created: carrier API down/);
  } finally {
    await wf.stop();
  }
});

test("a status may have several timeouts: a reminder fires first and the expiry later", async () => {
  const clock = new FakeClock(new Date("2026-01-01T00:00:00Z"));
  const reminded: string[] = [];
  const b = new Builder<Cart, Order>("reminder-and-expiry", Order);
  b.addCallback(Order.Created, async () => Order.Paid, Order.Paid);
  b.addTimeout(Order.Created, durationTimer(hour), async (run) => {
    reminded.push(run.foreignId);
    return run.skip();
  }, Order.Expired);
  b.addTimeout(Order.Created, durationTimer(24 * hour), async () => Order.Expired, Order.Expired);
  b.addStep(Order.Paid, async () => Order.Shipped, Order.Shipped);
  const adapters = memory({ clock });
  const wf = b.build({ ...adapters, clock });
  try {
    await wf.run();
    const runId = await wf.trigger("o-7", { initialValue: { id: "o-7" } });
    await awaitTimeoutInsert(wf, "o-7", runId, Order.Created);
    await until("both timeouts inserted", async () => (await adapters.timeoutStore.list("reminder-and-expiry")).length === 2);
    clock.advance(hour);
    await until("the reminder", () => reminded.length === 1);
    assert.equal((await adapters.recordStore.lookup(runId)).status, Order.Created, "the reminder leaves the run waiting");
    clock.advance(23 * hour);
    await requireStatus(wf, "o-7", Order.Expired, { id: "o-7" });
    assert.deepEqual(reminded, ["o-7"], "the reminder fired once, and not again at the expiry");
  } finally {
    await wf.stop();
  }
});

test("the workflow's default lag never delays inserting or firing a timeout", { timeout: 10_000 }, async () => {
  const clock = new FakeClock(new Date("2026-01-01T00:00:00Z"));
  const b = new Builder<Cart, Order>("timeouts-do-not-lag", Order);
  b.addTimeout(Order.Created, durationTimer(100), async () => Order.Expired, Order.Expired).withOptions({ pollingFrequency: 50 });
  const adapters = memory({ clock });
  const wf = b.build({ ...adapters, clock, defaultOptions: { lag: 700 } });
  try {
    await wf.run();
    const runId = await wf.trigger("o-8", { initialValue: { id: "o-8" } });
    const timeout = await awaitTimeoutInsert(wf, "o-8", runId, Order.Created);
    assert.equal(timeout.expireAt.toISOString(), "2026-01-01T00:00:00.100Z");
    clock.advance(100);
    await requireStatus(wf, "o-8", Order.Expired, { id: "o-8" });
  } finally {
    await wf.stop();
  }
});

/**
 * A workflow whose runs each get one timeout, those of runs named "late" an hour on and the others
 * a minute sooner, on a store as the poller sees it: `listValid` goes through `listValid`, which
 * may leave out the page, and each listing's length is noted.
 */
function pagedTimeouts(listValid: (inner: TimeoutStore, ...args: Parameters<TimeoutStore["listValid"]>) => Promise<TimeoutRecord[]>) {
  const clock = new FakeClock(new Date("2026-01-01T00:00:00Z"));
  const adapters = memory({ clock });
  const inner = adapters.timeoutStore;
  const listings: number[] = [];
  const timeoutStore: TimeoutStore = {
    create: (t) => inner.create(t),
    complete: (id) => inner.complete(id),
    cancel: (id) => inner.cancel(id),
    list: (name) => inner.list(name),
    listValid: async (...args) => {
      const listed = await listValid(inner, ...args);
      listings.push(listed.length);
      return listed;
    },
  };
  const fired: string[] = [];
  const b = new Builder<Cart, Order>("timeout-pages", Order);
  b.addTimeout(
    Order.Created,
    (run, now) => new Date(now.getTime() + (run.foreignId === "late" ? hour : hour - 60_000)),
    async (run) => {
      fired.push(run.foreignId);
      return Order.Expired;
    },
    Order.Expired,
  );
  const wf = b.build({ ...adapters, timeoutStore, clock, pauseRetry: false });
  /** Triggers `count` runs and pauses them once their timeouts are in, then (unless told not to) the late run; then lets an hour pass. */
  const pausedThenLate = async (count: number, late = true) => {
    const runIds: string[] = [];
    for (let i = 0; i < count; i++) runIds.push(await wf.trigger(`paused-${i}`, { initialValue: { id: `paused-${i}` } }));
    await until("every paused run's timeout is inserted", async () => (await inner.list("timeout-pages")).length === count, 30_000);
    for (const runId of runIds) await wf.pause(runId, "held for the test");
    if (late) {
      const lateRunId = await wf.trigger("late", { initialValue: { id: "late" } });
      await awaitTimeoutInsert(wf, "late", lateRunId, Order.Created);
    }
    listings.length = 0;
    // The poller among them, waiting for its next sweep.
    const idleSleepers = clock.sleepers;
    clock.advance(hour);
    return idleSleepers;
  };
  return { wf, clock, inner, fired, listings, pausedThenLate };
}

test("due timeouts are read a page at a time, and a page of paused runs' timeouts never keeps a later one from firing", { timeout: 60_000 }, async () => {
  const { wf, inner, fired, listings, pausedThenLate } = pagedTimeouts((store, ...args) => store.listValid(...args));
  try {
    await wf.run();
    const paused = timeoutPageSize + 10;
    await pausedThenLate(paused);
    await requireStatus(wf, "late", Order.Expired, { id: "late" });
    assert.deepEqual(fired, ["late"], "only the run that is not paused fired");
    assert.equal(Math.max(...listings), timeoutPageSize, "no listing handed over more than a page");
    assert.equal((await inner.list("timeout-pages")).length, paused, "the paused runs keep their timeouts");
  } finally {
    await wf.stop();
  }
});

test("a timeout store that ignores the page, listing exactly a page, ends each sweep rather than listing again at once", { timeout: 60_000 }, async () => {
  const { wf, clock, fired, listings, pausedThenLate } = pagedTimeouts((store, name, status, now) => store.listValid(name, status, now));
  try {
    await wf.run();
    const idleSleepers = await pausedThenLate(timeoutPageSize, false);
    // The whole page, then the same again, seen as no page at all; then the poller waits for the
    // clock nobody moves (had it listed again at once, it would never wait).
    await until("the poller lists again", () => listings.length >= 2);
    await clock.blockUntil(idleSleepers);
    assert.deepEqual(listings, [timeoutPageSize, timeoutPageSize]);
    assert.deepEqual(fired, [], "a paused run's timeout waits for its run");
  } finally {
    await wf.stop();
  }
});
