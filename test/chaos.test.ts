import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { setImmediate as nextTurn } from "node:timers/promises";
import {
  Builder,
  durationTimer,
  HeaderKey,
  hasErrorCode,
  RunState,
  type BuildConfig,
  type Clock,
  type Event,
  type EventReceiver,
  type ProcessOptions,
  type Record,
  type RecordStore,
  type Workflow,
} from "stepwise";
import { memory, MemoryEventStreamer, type MemoryAdapters, MemoryRecordStore, MemoryRoleScheduler, MemoryTimeoutStore } from "stepwise/memory";
import { sqlite } from "stepwise/sqlite";
import {
  chaos,
  FakeClock,
  chaosEventStreamer,
  chaosRecordStore,
  chaosRoleScheduler,
  chaosTimeoutStore,
  InjectedFaultError,
  type ChaosOptions,
  type EventStreamerMethod,
  type ChaosStats,
} from "stepwise/testing";
import { quietLogger } from "./support/logger.js";
import { until } from "./support/until.js";

const bounded = { timeout: 10_000 };
const at = new Date("2026-01-01T00:00:00Z");

function record(runId: string, version: number): Record {
  return {
    workflowName: "chaos",
    foreignId: `f-${runId}`,
    runId,
    runState: version === 1 ? RunState.Initiated : RunState.Running,
    status: 1,
    object: new Uint8Array([version]),
    createdAt: at,
    updatedAt: at,
    meta: { runStateReason: "", statusDescription: "Started", version, workflowVersion: 1, traceOrigin: "" },
  };
}

/** "ok", or how the call failed: "before" / "after". */
async function outcome(call: Promise<unknown>): Promise<string> {
  try {
    await call;
    return "ok";
  } catch (err) {
    if (err instanceof InjectedFaultError) return err.when;
    throw err;
  }
}

/** Stores 40 runs through a chaos store and reads each back from the store underneath. */
async function storeThrough(seed: number): Promise<{ outcomes: string[]; stored: boolean[]; failedBefore: number; failedAfter: number }> {
  const inner = new MemoryRecordStore();
  const store = chaosRecordStore(inner, { seed, failRate: 0.2, failAfterRate: 0.2, only: ["store"] });
  const outcomes: string[] = [];
  const stored: boolean[] = [];
  for (let i = 0; i < 40; i++) {
    outcomes.push(await outcome(store.store(record(`r${i}`, 1))));
    stored.push(await inner.lookup(`r${i}`).then(
      () => true,
      () => false,
    ));
  }
  const { failedBefore, failedAfter } = store.stats();
  return { outcomes, stored, failedBefore, failedAfter };
}

test("chaos record store: a seed fixes which calls fail; a fault after the call stored the record, one before did not", async () => {
  const first = await storeThrough(7);
  assert.deepEqual(await storeThrough(7), first);
  assert.notDeepEqual((await storeThrough(8)).outcomes, first.outcomes);
  assert.equal(first.failedBefore, first.outcomes.filter((o) => o === "before").length);
  assert.equal(first.failedAfter, first.outcomes.filter((o) => o === "after").length);
  assert.ok(first.failedBefore > 0 && first.failedAfter > 0, "both kinds of fault happened");
  assert.deepEqual(
    first.stored,
    first.outcomes.map((o) => o !== "before"),
  );
});

test("chaos record store: the error is a typed StepwiseError naming the call; methods left out by only pass through", async () => {
  const store = chaosRecordStore(new MemoryRecordStore(), { seed: 1, failRate: 1, only: ["lookup"] });
  await store.store(record("r1", 1));
  const err = await store.lookup("r1").then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(err instanceof InjectedFaultError);
  assert.ok(hasErrorCode(err, "INJECTED_FAULT"));
  assert.equal(err.method, "lookup");
  assert.equal(err.when, "before");
  assert.equal(err.call, 1);
  assert.deepEqual(store.stats().byMethod["store"], undefined);
  assert.equal(store.stats().byMethod["lookup"]?.failedBefore, 1);
});

test("chaos record store: optional methods exist only where the wrapped store has them", () => {
  const memoryStore = new MemoryRecordStore();
  const wrapped = chaosRecordStore(memoryStore, { seed: 1 });
  assert.equal(typeof wrapped.storeMany, typeof memoryStore.storeMany);
  assert.equal(typeof wrapped.lookupMany, typeof memoryStore.lookupMany);
  const bare = chaosRecordStore(
    {
      store: (r) => memoryStore.store(r),
      lookup: (id) => memoryStore.lookup(id),
      latest: (w, f) => memoryStore.latest(w, f),
      list: (q) => memoryStore.list(q),
      listOutboxEvents: (w, l) => memoryStore.listOutboxEvents(w, l),
      deleteOutboxEvent: (id) => memoryStore.deleteOutboxEvent(id),
    },
    { seed: 1 },
  );
  for (const method of ["storeMany", "lookupMany", "deleteOutboxEvents", "countByStatus", "workflowNames"] as const) {
    assert.equal(bare[method], undefined, `${method} is absent`);
    assert.equal(method in bare, false, `${method} is not even a key`);
  }
});

test("chaos options: bad rates, ranges, seeds and method names are refused with INVALID_OPTION", () => {
  const store = new MemoryRecordStore();
  const bad: ChaosOptions<"store">[] = [
    { seed: 1.5 },
    { seed: 1, failRate: 1.5 },
    { seed: 1, failRate: -0.1 },
    { seed: 1, failRate: 0.6, failAfterRate: 0.6 },
    { seed: 1, delayMs: [5, 1] },
    { seed: 1, delayMs: -1 },
    { seed: 1, duplicateRate: Number.NaN },
  ];
  for (const options of bad) assert.throws(() => chaosRecordStore(store, options), (err) => hasErrorCode(err, "INVALID_OPTION"), JSON.stringify(options));
  assert.throws(
    // @ts-expect-error "send" is not a record store method
    () => chaosRecordStore(store, { seed: 1, only: ["send"] }),
    (err) => hasErrorCode(err, "INVALID_OPTION"),
  );
});

test("chaos delays: a seed fixes which calls wait and for how long", bounded, async () => {
  const delays = async (seed: number) => {
    const store = chaosTimeoutStore(new MemoryTimeoutStore(), { seed, delayMs: [0, 3], delayRate: 0.5 });
    for (let i = 0; i < 30; i++) await store.list("chaos");
    const { delayed, delayedMs, calls } = store.stats();
    return { delayed, delayedMs, calls };
  };
  const first = await delays(3);
  assert.deepEqual(await delays(3), first);
  assert.equal(first.calls, 30);
  assert.ok(first.delayed > 0 && first.delayed < 30, `some calls waited: ${first.delayed}`);
});

/** Sends `runs` × `perRun` events, the runs interleaved, and returns the topic's streamer. */
async function sentEvents(runs: number, perRun: number): Promise<MemoryEventStreamer> {
  const streamer = new MemoryEventStreamer();
  const sender = await streamer.newSender("t");
  for (let n = 0; n < perRun; n++) {
    for (let r = 0; r < runs; r++) await sender.send(`f${r}`, n, { [HeaderKey.runId]: `run${r}` });
  }
  return streamer;
}

const label = (event: Event) => `${event.headers[HeaderKey.runId]}:${event.type}`;

/** Receives until `count` distinct events came, acking each, and returns them in the order handed out. */
async function drain(receiver: EventReceiver, count: number): Promise<Event[]> {
  const events: Event[] = [];
  const distinct = new Set<string>();
  const signal = new AbortController().signal;
  while (distinct.size < count) {
    const { event, ack } = await receiver.recv(signal);
    events.push(event);
    distinct.add(event.id);
    await ack();
  }
  return events;
}

/** The first event a new receiver of the name gets once `sentinel` was sent last: what the name never acked comes first. */
async function nextUnacked(streamer: MemoryEventStreamer, name: string): Promise<string> {
  const sender = await streamer.newSender("t");
  await sender.send("sentinel", 99, { [HeaderKey.runId]: "sentinel" });
  const receiver = await streamer.newReceiver("t", name);
  try {
    const { event } = await receiver.recv(new AbortController().signal);
    return label(event);
  } finally {
    await receiver.close();
  }
}

async function deliveries(seed: number, options: Omit<ChaosOptions<EventStreamerMethod>, "seed">, count: number): Promise<{ labels: string[]; duplicated: number; reordered: number; next: string }> {
  const inner = await sentEvents(5, 6);
  const streamer = chaosEventStreamer(inner, { seed, ...options });
  const receiver = await streamer.newReceiver("t", "consumer");
  const labels = (await drain(receiver, count)).map(label);
  await receiver.close();
  const { duplicated, reordered } = streamer.stats();
  return { labels, duplicated, reordered, next: await nextUnacked(inner, "consumer") };
}

test("chaos receiver duplicates: a seed fixes which events come twice; each comes once or twice, and all are acked", bounded, async () => {
  const all = await deliveries(11, { duplicateRate: 0.3 }, 30);
  assert.deepEqual(await deliveries(11, { duplicateRate: 0.3 }, 30), all);
  assert.notDeepEqual((await deliveries(12, { duplicateRate: 0.3 }, 30)).labels, all.labels);
  assert.ok(all.duplicated > 0);
  const counts = new Map<string, number>();
  for (const l of all.labels) counts.set(l, (counts.get(l) ?? 0) + 1);
  assert.equal(counts.size, 30, "every event was handed out");
  assert.equal([...counts.values()].filter((c) => c === 2).length, all.duplicated);
  assert.ok([...counts.values()].every((c) => c === 1 || c === 2));
  assert.equal(all.next, "sentinel:99", "every event was acked underneath");
});

test("chaos receiver reorder: a seed fixes the swaps; one run's events keep their order; all are acked", bounded, async () => {
  const first = await deliveries(5, { reorderRate: 0.5 }, 30);
  assert.deepEqual(await deliveries(5, { reorderRate: 0.5 }, 30), first);
  assert.notDeepEqual((await deliveries(6, { reorderRate: 0.5 }, 30)).labels, first.labels);
  assert.ok(first.reordered > 0);
  const inOrder = (await deliveries(5, {}, 30)).labels;
  assert.notDeepEqual(first.labels, inOrder, "some events came early");
  assert.deepEqual([...first.labels].sort(), [...inOrder].sort(), "each event came once");
  for (let r = 0; r < 5; r++) {
    const ofRun = first.labels.filter((l) => l.startsWith(`run${r}:`));
    assert.deepEqual(ofRun, [0, 1, 2, 3, 4, 5].map((n) => `run${r}:${n}`), `run${r} kept its order`);
  }
  assert.equal(first.next, "sentinel:99");
});

test("chaos receiver reorder: an event swapped ahead is not acked underneath past the earlier one", bounded, async () => {
  const inner = await sentEvents(2, 1);
  const streamer = chaosEventStreamer(inner, { seed: 1, reorderRate: 1 });
  const receiver = await streamer.newReceiver("t", "consumer");
  const signal = new AbortController().signal;
  const early = await receiver.recv(signal);
  assert.equal(label(early.event), "run1:0", "the second event came first");
  await early.ack();
  await receiver.close();
  assert.equal(await nextUnacked(inner, "consumer"), "run0:0", "the earlier event, never acked, comes back");
});

test("chaos receiver: a failed recv or ack loses no event for the next receiver of the name", bounded, async () => {
  const inner = await sentEvents(3, 4);
  const streamer = chaosEventStreamer(inner, { seed: 9, failRate: 0.2, failAfterRate: 0.2, only: ["recv", "ack"] });
  const seen = new Set<string>();
  const signal = new AbortController().signal;
  // As the engine does: any failure closes the receiver and opens a new one of the same name.
  while (seen.size < 12) {
    const receiver = await streamer.newReceiver("t", "consumer");
    try {
      for (;;) {
        const { event, ack } = await receiver.recv(signal);
        seen.add(label(event));
        await ack();
        if (seen.size === 12) break;
      }
    } catch (err) {
      assert.ok(hasErrorCode(err, "INJECTED_FAULT"));
    } finally {
      await receiver.close();
    }
  }
  const { failedBefore, failedAfter } = streamer.stats();
  assert.ok(failedBefore > 0 && failedAfter > 0);
  assert.equal(await nextUnacked(inner, "consumer"), "sentinel:99");
});

test("chaos role scheduler: a seed fixes which awaits fail; a fault after the await gives the role back", bounded, async () => {
  const awaits = async (seed: number) => {
    const inner = new MemoryRoleScheduler();
    const scheduler = chaosRoleScheduler(inner, { seed, failRate: 0.25, failAfterRate: 0.25 });
    const signal = new AbortController().signal;
    const outcomes: string[] = [];
    for (let i = 0; i < 20; i++) {
      outcomes.push(
        await outcome(
          scheduler.await(`role-${i}`, signal).then((lease) => lease.release()),
        ),
      );
      // Taken again at once: no fault left the role held.
      await (await inner.await(`role-${i}`, signal)).release();
    }
    return outcomes;
  };
  const first = await awaits(4);
  assert.deepEqual(await awaits(4), first);
  assert.ok(first.includes("before") && first.includes("after"));
});

test("chaos(bundle): wraps every part with its own schedule and adds up their stats", bounded, async () => {
  const adapters = chaos({ eventStreamer: new MemoryEventStreamer(), recordStore: new MemoryRecordStore(), close: async () => {} }, { seed: 2, failRate: 1, only: ["store", "newSender"] });
  assert.equal(adapters.timeoutStore, undefined);
  assert.equal(adapters.roleScheduler, undefined);
  await assert.rejects(adapters.recordStore.store(record("r", 1)), InjectedFaultError);
  await assert.rejects(adapters.eventStreamer.newSender("t"), InjectedFaultError);
  await adapters.eventStreamer.newReceiver("t", "n");
  const stats = adapters.stats();
  assert.equal(stats.failedBefore, 2);
  assert.deepEqual(Object.keys(stats.byMethod).sort(), ["eventStreamer.newSender", "recordStore.store"]);
  assert.throws(() => chaos({ eventStreamer: new MemoryEventStreamer(), close: async () => {} }, { seed: 1, only: ["nope" as "store"] }), (err) =>
    hasErrorCode(err, "INVALID_OPTION"),
  );
});

// ---------------------------------------------------------------- a workflow under faults

enum Order {
  Unknown = 0,
  Started = 1,
  Reserved = 2,
  Paid = 3,
  Settled = 4,
  Shipped = 5,
  Done = 6,
}
type Cart = { id: string; paidWith?: string };
const path = [Order.Started, Order.Reserved, Order.Paid, Order.Settled, Order.Shipped, Order.Done];

/**
 * Started -step-> Reserved -callback-> Paid -timeout-> Settled -step-> Shipped -step-> Done.
 * `effects` counts, per run, each time a step, the callback or the timeout did its work.
 */
function orders(adapters: Pick<BuildConfig<Cart>, "eventStreamer" | "recordStore" | "roleScheduler" | "timeoutStore">, config: { clock?: Clock; settleAfterMs: number; options: ProcessOptions }) {
  const effects = new Map<string, number>();
  const effect = (runId: string, what: string) => effects.set(`${runId} ${what}`, (effects.get(`${runId} ${what}`) ?? 0) + 1);
  const b = new Builder<Cart, Order>("chaos-orders", Order);
  const steps: [Order, string, Order][] = [
    [Order.Started, "reserve", Order.Reserved],
    [Order.Settled, "ship", Order.Shipped],
    [Order.Shipped, "notify", Order.Done],
  ];
  for (const [from, what, to] of steps) {
    b.addStep(
      from,
      async (run) => {
        effect(run.runId, what);
        return to;
      },
      to,
    );
  }
  b.addCallback(
    Order.Reserved,
    async (run, payload) => {
      effect(run.runId, "pay");
      run.object.paidWith = String(payload);
      return Order.Paid;
    },
    Order.Paid,
  );
  b.addTimeout(
    Order.Paid,
    durationTimer(config.settleAfterMs),
    async (run) => {
      effect(run.runId, "settle");
      return Order.Settled;
    },
    Order.Settled,
  );
  const wf = b.build({ ...adapters, ...(config.clock ? { clock: config.clock } : {}), logger: quietLogger, defaultOptions: config.options });
  return { wf, effects };
}

/** Retries what a fault injected before it took effect; `tookEffect` tells a call that failed after it did. */
async function withRetries(call: () => Promise<unknown>, tookEffect: () => Promise<boolean>): Promise<void> {
  for (;;) {
    try {
      await call();
      return;
    } catch (err) {
      if (!hasErrorCode(err, "INJECTED_FAULT")) throw err;
      if (await tookEffect()) return;
    }
  }
}

/**
 * Triggers `runs` orders, pays each once it is Reserved, and waits until every one is Done, while
 * `tick` moves time on (a FakeClock) or not. The caller's own calls meet faults too: a trigger or
 * callback that failed is retried, unless the store underneath shows it took effect.
 */
async function completeOrders(
  wf: Workflow<Cart, Order>,
  store: RecordStore,
  runs: number,
  tick: () => void,
): Promise<void> {
  const ids = Array.from({ length: runs }, (_, i) => `order-${i}`);
  const latest = (id: string) => store.latest(wf.name, id).catch(() => undefined);
  const driving = { done: false };
  const driver = (async () => {
    while (!driving.done) {
      tick();
      await nextTurn();
    }
  })();
  try {
    for (const id of ids) {
      await withRetries(
        () => wf.trigger(id, { initialValue: { id } }),
        async () => (await latest(id)) !== undefined,
      );
    }
    for (const id of ids) {
      await until(`${id} to be Reserved`, async () => (await latest(id))?.status === Order.Reserved, 8_000);
      await withRetries(
        () => wf.callback(id, Order.Reserved, "card"),
        async () => (await latest(id))?.status !== Order.Reserved,
      );
    }
    await until("every order to be Done", async () => (await Promise.all(ids.map(latest))).every((r) => r?.status === Order.Done), 8_000);
  } finally {
    driving.done = true;
    await driver;
  }
}

/** Every order ran once: one run per foreign id, completed in Done, each status written once in order. */
async function assertEachRanOnce(store: RecordStore, runs: number, versions: (runId: string) => number[] | undefined): Promise<string[]> {
  const records = await store.list({ workflowName: "chaos-orders", limit: runs * 2 });
  assert.equal(records.length, runs, "one run per order, none triggered twice");
  for (const r of records) {
    assert.equal(r.status, Order.Done);
    assert.equal(r.runState, RunState.Completed);
    const statuses = versions(r.runId);
    if (statuses) assert.deepEqual(statuses, path, `run ${r.runId} went through each status once, in order`);
    assert.equal(r.meta.version, path.length, `run ${r.runId} was written once per status`);
  }
  return records.map((r) => r.runId);
}

function effectCounts(effects: Map<string, number>, runIds: string[]): number[] {
  return runIds.flatMap((runId) => ["reserve", "pay", "settle", "ship", "notify"].map((what) => effects.get(`${runId} ${what}`) ?? 0));
}

const runs = 30;
const fakeOptions: ProcessOptions = { errBackOff: 100, pollingFrequency: 100 };

/**
 * Runs `count` orders on a FakeClock over `adapters` (chaos wrappers around `inner`), checks each
 * ran once, and returns the effect counts of each run's effects.
 */
async function ordersOnMemory(inner: MemoryAdapters, adapters: Pick<BuildConfig<Cart>, "eventStreamer" | "recordStore" | "roleScheduler" | "timeoutStore">, count: number): Promise<number[]> {
  const clock = new FakeClock(new Date("2026-01-01T00:00:00Z"));
  const { wf, effects } = orders(adapters, { clock, settleAfterMs: 60_000, options: fakeOptions });
  await wf.run();
  try {
    await completeOrders(wf, inner.recordStore, count, () => clock.advance(50));
  } finally {
    await wf.stop();
    await inner.close();
  }
  const runIds = await assertEachRanOnce(inner.recordStore, count, (runId) => inner.recordStore.snapshots(runId).map((r) => r.status));
  return effectCounts(effects, runIds);
}

test("a workflow on memory adapters completes every run exactly once under faults after the fact, duplicates, reordering and failing awaits", { timeout: 20_000 }, async () => {
  const inner = memory();
  const adapters = chaos(inner, {
    seed: 2026,
    // Reads and role awaits fail before the call; writes fail only after they took effect, so
    // no step has to run again: each effect happens exactly once.
    failRate: 0.1,
    only: ["lookup", "lookupMany", "latest", "recv", "ack", "await", "listValid"],
    duplicateRate: 0.2,
    reorderRate: 0.3,
  });
  const writes = chaos(adapters, { seed: 7, failAfterRate: 0.15, only: ["store", "storeMany", "create", "complete", "cancel"] });
  const counts = await ordersOnMemory(inner, writes, runs);
  assert.deepEqual(counts, Array(runs * 5).fill(1), "every step, callback and timeout did its work exactly once");
  assertInjected(adapters.stats(), ["recordStore.lookup", "recordStore.latest", "eventStreamer.recv", "eventStreamer.ack", "roleScheduler.await"], "failedBefore");
  assertInjected(writes.stats(), ["recordStore.store", "timeoutStore.create", "timeoutStore.complete"], "failedAfter");
  assert.ok(adapters.stats().duplicated > 0 && adapters.stats().reordered > 0, JSON.stringify(adapters.stats()));
});

test("with writes failing before they take effect too, every run still completes once; a step whose write failed runs again", { timeout: 20_000 }, async () => {
  const inner = memory();
  const adapters = chaos(inner, { seed: 99, failRate: 0.08, failAfterRate: 0.08, delayMs: [0, 2], delayRate: 0.1, duplicateRate: 0.2, reorderRate: 0.3 });
  const counts = await ordersOnMemory(inner, adapters, runs);
  assert.ok(
    counts.every((c) => c >= 1),
    "every effect happened",
  );
  // Steps are at-least-once: only a write that failed before it took effect makes one run again.
  const stats = adapters.stats();
  const failedWrites = ["recordStore.store", "recordStore.storeMany"].reduce((sum, m) => sum + (stats.byMethod[m]?.failedBefore ?? 0), 0);
  const repeats = counts.reduce((sum, c) => sum + c - 1, 0);
  assert.ok(repeats <= failedWrites * runs, `${repeats} repeats from ${failedWrites} failed writes`);
  assertInjected(stats, ["recordStore.store", "recordStore.lookup", "eventStreamer.recv", "roleScheduler.await", "timeoutStore.create"], "failedBefore");
  assertInjected(stats, ["recordStore.store", "eventStreamer.ack", "timeoutStore.complete"], "failedAfter");
  assert.ok(stats.duplicated > 0 && stats.reordered > 0 && stats.delayed > 0, JSON.stringify(stats));
});

test("a workflow on SQLite (a temp file) completes every run once under chaos", { timeout: 20_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "stepwise-chaos-"));
  const inner = sqlite(join(dir, "runs.db"));
  const adapters = chaos(inner, { seed: 5, failRate: 0.05, failAfterRate: 0.05, duplicateRate: 0.2, reorderRate: 0.3 });
  const { wf, effects } = orders(adapters, { settleAfterMs: 20, options: { errBackOff: 5, pollingFrequency: 5 } });
  try {
    await wf.run();
    try {
      await completeOrders(wf, inner.recordStore, 20, () => {});
    } finally {
      await wf.stop();
    }
    const runIds = await assertEachRanOnce(inner.recordStore, 20, () => undefined);
    assert.ok(effectCounts(effects, runIds).every((c) => c >= 1));
    const stats = adapters.stats();
    assert.ok(stats.failedBefore > 0 && stats.failedAfter > 0, JSON.stringify(stats));
    assertInjected(stats, ["recordStore.store"], "failedAfter");
  } finally {
    await inner.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Each of `methods` had at least one fault of `kind`. */
function assertInjected(stats: ChaosStats, methods: string[], kind: "failedBefore" | "failedAfter"): void {
  for (const method of methods) assert.ok((stats.byMethod[method]?.[kind] ?? 0) > 0, `${method} ${kind}: ${JSON.stringify(stats.byMethod)}`);
}

test("a timeout whose completion took effect but reported a failure is not retried forever", bounded, async () => {
  const inner = memory();
  const timeoutStore = chaosTimeoutStore(inner.timeoutStore, { seed: 1, failAfterRate: 1, only: ["complete"] });
  await ordersOnMemory(inner, { ...inner, timeoutStore }, 3);
  assert.equal(timeoutStore.stats().failedAfter, 3);
  assert.deepEqual(await inner.timeoutStore.list("chaos-orders"), [], "no timeout left active");
});
