import assert from "node:assert/strict";
import { test } from "node:test";
import { Builder, durationTimer, fnv1a32, RunState, type BuildConfig, type ProcessOptions } from "stepwise";
import { memory } from "stepwise/memory";
import { sqlite } from "stepwise/sqlite";
import { FakeClock } from "stepwise/testing";
import { RateLimiter, shardLimiters } from "../src/rate-limit.js";
import { errorsTo } from "./support/logger.js";
import { until } from "./support/until.js";
import { Status, type Item } from "./support/workflows.js";

const backends: { name: string; make(): BuildConfig<Item> & { close(): Promise<void> } }[] = [
  { name: "memory", make: () => memory() },
  { name: "sqlite", make: () => sqlite(":memory:") },
];

const start = new Date("2026-01-01T00:00:00Z");
const item = (id: string): Item => ({ id, count: 0 });

/** Starts a run on `limiter` as a step does: at once if a start is free, else once one frees up. */
async function startOn(limiter: RateLimiter, clock: FakeClock, signal: AbortSignal): Promise<void> {
  while (!limiter.tryStart(clock.now().getTime())) await limiter.whenFree(clock, signal);
}

test("a limiter starts at most max in any window of perMs, waiting for the oldest start to leave it", async () => {
  const clock = new FakeClock(new Date(0));
  const running = new AbortController().signal;
  const limiter = new RateLimiter(3, 1_000);
  assert.equal(limiter.available(0), 3);
  assert.ok(limiter.tryStart(0));
  clock.advance(400);
  assert.ok(limiter.tryStart(400));
  assert.ok(limiter.tryStart(400));
  assert.equal(limiter.tryStart(999), false, "three starts in the window already");
  assert.equal(limiter.nextBatchMs(999), 1_000, "the start at 0 leaves the window at 1000");
  assert.equal(limiter.available(1_000), 1, "asked about a later time…");
  assert.equal(limiter.tryStart(999), false, "…it still counts the start at 0 before then");
  clock.advance(599);
  // Two runs wait together; only one start frees up at 1000.
  const waiting = [startOn(limiter, clock, running), startOn(limiter, clock, running)];
  let started = 0;
  for (const w of waiting) void w.then(() => started++);
  await clock.blockUntil(1);
  assert.equal(clock.sleepers, 1, "the waiting runs share one timer");
  clock.advance(1);
  await until("one run to start at 1000", () => started === 1);
  await clock.blockUntil(1);
  assert.equal(limiter.nextBatchMs(1_000), 1_400);
  clock.advance(400);
  await Promise.all(waiting);
  assert.equal(clock.now().getTime(), 1_400);
  assert.ok(limiter.tryStart(1_400), "the third start of the window 1000–1999");
  const stopping = new AbortController();
  const stopped = startOn(limiter, clock, stopping.signal);
  await clock.blockUntil(1);
  stopping.abort(new Error("stopped"));
  await assert.rejects(stopped, /stopped/);
  assert.equal(limiter.available(2_000), 1, "an aborted wait took no start");
});

test("a limiter forms the next batch as long before starts free up as the last batch took to get ready", () => {
  const limiter = new RateLimiter(2, 1_000);
  limiter.batchFormed(0);
  assert.ok(limiter.tryStart(50));
  assert.ok(limiter.tryStart(50));
  // Both starts leave the window at 1050; a batch formed 50 ms before has room for them.
  assert.equal(limiter.room(999), 0);
  assert.equal(limiter.room(1_000), 2);
  assert.equal(limiter.nextBatchMs(60), 1_000);
  // Its runs still start only once the window has moved on.
  limiter.batchFormed(1_000);
  assert.equal(limiter.tryStart(1_010), false);
  assert.ok(limiter.tryStart(1_050));
  assert.ok(limiter.tryStart(1_050));
  // That batch was ready 10 ms after it was formed: the lead is now 10 ms.
  assert.equal(limiter.nextBatchMs(1_060), 2_040);
});

test("each shard's share is a whole number and the shares sum to max", () => {
  const shares = (max: number, count: number) => shardLimiters("step Created", { max, perMs: 1_000 }, count).map((l) => l.max);
  assert.deepEqual(shares(10, 3), [4, 3, 3]);
  assert.deepEqual(shares(200, 3), [67, 67, 66]);
  assert.deepEqual(shares(9, 3), [3, 3, 3]);
  assert.deepEqual(shares(3, 3), [1, 1, 1]);
  assert.deepEqual(shares(7, 1), [7]);
});

/**
 * A workflow with a rate-limited step on Created and an unlimited one on Processed, both to Done.
 * `startsAt` keeps the clock time (ms from `start`) and run id of each limited step function start.
 */
function limitedWorkflow(adapters: BuildConfig<Item>, limited: ProcessOptions, errors: unknown[] = []) {
  const clock = new FakeClock(start);
  const starts: { atMs: number; runId: string }[] = [];
  const b = new Builder<Item, Status>("rate-limited", Status);
  b.addStep(
    Status.Created,
    async (run) => {
      starts.push({ atMs: clock.now().getTime() - start.getTime(), runId: run.runId });
      return Status.Done;
    },
    Status.Done,
  ).withOptions(limited);
  b.addStep(Status.Processed, async () => Status.Done, Status.Done);
  const wf = b.build({ ...adapters, clock, logger: errorsTo(errors) });
  return { wf, clock, starts };
}

/** How many starts fell in each window of `perMs`, from the first. */
function perWindow(starts: readonly { atMs: number }[], perMs: number): number[] {
  const counts: number[] = [];
  for (const { atMs } of starts) {
    const window = Math.floor(atMs / perMs);
    while (counts.length <= window) counts.push(0);
    counts[window]!++;
  }
  return counts;
}

for (const backend of backends) {
  test(`${backend.name}: a rate-limited step starts at most max runs per window while other steps go at full speed`, async () => {
    const adapters = backend.make();
    const { wf, clock, starts } = limitedWorkflow(adapters, { rateLimit: { max: 10, perMs: 1_000 } });
    try {
      await wf.run();
      const ids = Array.from({ length: 50 }, (_, i) => `limited-${i}`);
      const limited = await Promise.all(ids.map((id) => wf.trigger(id, { initialValue: item(id) })));
      const freeIds = Array.from({ length: 50 }, (_, i) => `free-${i}`);
      const free = await Promise.all(freeIds.map((id) => wf.trigger(id, { initialValue: item(id), startAt: Status.Processed })));
      await until("the first window's starts", () => starts.length === 10);
      // The clock stands still: the unlimited step finishes every run meanwhile.
      await Promise.all(free.map((runId, i) => wf.await(freeIds[i]!, runId, Status.Done)));
      await clock.blockUntil(1);
      assert.equal(starts.length, 10, "no more than max started in the first window");
      for (let window = 2; window <= 5; window++) {
        clock.advance(1_000);
        await until(`window ${window}'s starts`, () => starts.length === 10 * window);
        await clock.blockUntil(window < 5 ? 1 : 0);
      }
      await Promise.all(limited.map((runId, i) => wf.await(ids[i]!, runId, Status.Done)));
      assert.deepEqual(perWindow(starts, 1_000), [10, 10, 10, 10, 10]);
    } finally {
      await wf.stop();
      await adapters.close();
    }
  });

  test(`${backend.name}: with parallelCount 3 each shard takes its share and the shares sum to max`, async () => {
    const adapters = backend.make();
    const { wf, clock, starts } = limitedWorkflow(adapters, { rateLimit: { max: 10, perMs: 1_000 }, parallelCount: 3 });
    const shares = [4, 3, 3];
    const shardOf = (runId: string) => fnv1a32(runId) % 3;
    try {
      await wf.run();
      const ids = Array.from({ length: 60 }, (_, i) => `limited-${i}`);
      const runIds = await Promise.all(ids.map((id) => wf.trigger(id, { initialValue: item(id) })));
      const runsOf = [0, 1, 2].map((shard) => runIds.filter((runId) => shardOf(runId) === shard).length);
      assert.ok(
        runsOf.every((n, shard) => n >= shares[shard]!),
        `each shard has runs enough to use its share (${runsOf.join(", ")})`,
      );
      // Window by window, each shard starts its share, or what it has left.
      let expected = 0;
      for (let window = 0; expected < 60; window++) {
        const left = runsOf.map((n, shard) => Math.max(0, n - shares[shard]! * window));
        const now = left.map((n, shard) => Math.min(n, shares[shard]!));
        expected += now.reduce((sum, n) => sum + n, 0);
        await until(`window ${window + 1}'s starts`, () => starts.length === expected);
        const inWindow = starts.filter((s) => s.atMs === window * 1_000);
        assert.deepEqual(
          [0, 1, 2].map((shard) => inWindow.filter((s) => shardOf(s.runId) === shard).length),
          now,
          `window ${window + 1}: each shard started its share`,
        );
        // Every shard with runs left waits for its next window before the clock moves.
        await clock.blockUntil(left.filter((n, shard) => n > shares[shard]!).length);
        clock.advance(1_000);
      }
      await Promise.all(runIds.map((runId, i) => wf.await(ids[i]!, runId, Status.Done)));
      const counts = perWindow(starts, 1_000);
      assert.equal(counts[0], 10, "the first window starts exactly max");
      assert.ok(
        counts.every((n) => n <= 10),
        `no window starts more than max (${counts.join(", ")})`,
      );
    } finally {
      await wf.stop();
      await adapters.close();
    }
  });

  test(`${backend.name}: runs over the limit wait un-acked and unfailed, and stop() ends the wait`, async () => {
    const adapters = backend.make();
    const errors: unknown[] = [];
    const { wf, clock, starts } = limitedWorkflow(adapters, { rateLimit: { max: 3, perMs: 60_000 }, pauseAfterErrCount: 1 }, errors);
    const ids = Array.from({ length: 5 }, (_, i) => `run-${i}`);
    let runIds: string[] = [];
    try {
      await wf.run();
      runIds = await Promise.all(ids.map((id) => wf.trigger(id, { initialValue: item(id) })));
      await until("three starts", () => starts.length === 3);
      await clock.blockUntil(1);
    } finally {
      // Resolves although the step waits a minute on a clock nobody moves.
      await wf.stop();
    }
    try {
      assert.equal(starts.length, 3);
      assert.deepEqual(errors, [], "waiting is no error");
      const waiting = await Promise.all(runIds.map((runId) => adapters.recordStore.lookup(runId)));
      assert.equal(waiting.filter((r) => r.status === Status.Created && r.runState !== RunState.Paused).length, 2, "two runs wait, not paused");
      // Their events were not acked: a new build of the workflow takes them up.
      const again = limitedWorkflow(adapters, { rateLimit: { max: 3, perMs: 60_000 } });
      await again.wf.run();
      try {
        await Promise.all(runIds.map((runId, i) => again.wf.await(ids[i]!, runId, Status.Done)));
        assert.equal(again.starts.length, 2);
      } finally {
        await again.wf.stop();
      }
    } finally {
      await adapters.close();
    }
  });
}

test("rateLimit refuses values that cannot work, naming the field, and only steps take it", () => {
  const cases: [unknown, RegExp][] = [
    [{ max: 0, perMs: 1_000 }, /"rateLimit.max" must be a whole number of at least 1, got 0/],
    [{ max: 1.5, perMs: 1_000 }, /"rateLimit.max" must be a whole number of at least 1, got 1.5/],
    [{ max: "10", perMs: 1_000 }, /"rateLimit.max"/],
    [{ max: 10, perMs: 0 }, /"rateLimit.perMs" must be a finite number above 0, got 0/],
    [{ max: 10, perMs: Infinity }, /"rateLimit.perMs" must be a finite number above 0, got Infinity/],
    [{ max: 10 }, /"rateLimit.perMs"/],
    [{ max: 10, perMs: 1_000, burst: 5 }, /"rateLimit" has an unknown field "burst"/],
    [10, /"rateLimit" must be \{ max, perMs \}, got 10/],
  ];
  for (const [rateLimit, message] of cases) {
    const b = new Builder<Item, Status>("bad-rate-limit", Status);
    const step = b.addStep(Status.Created, async () => Status.Done, Status.Done);
    assert.throws(() => step.withOptions({ rateLimit } as ProcessOptions), (err: Error & { code?: string }) => {
      assert.equal(err.code, "BUILD");
      assert.match(err.message, /^step Created: option /);
      assert.match(err.message, message);
      return true;
    });
  }
  const b = new Builder<Item, Status>("rate-limit-owners", Status);
  b.addStep(Status.Created, async () => Status.Done, Status.Done).withOptions({ rateLimit: { max: 5, perMs: 1 } });
  const timeout = b.addTimeout(Status.Processed, durationTimer(1_000), async () => Status.Done, Status.Done);
  assert.throws(() => timeout.withOptions({ rateLimit: { max: 5, perMs: 1_000 } }), /timeout Processed: does not take the option "rateLimit"/);
  const connector = b.addConnector("feed", { make: () => Promise.reject(new Error("unused")) }, async () => {});
  assert.throws(() => connector.withOptions({ rateLimit: { max: 5, perMs: 1_000 } }), /connector feed: does not take the option "rateLimit"/);
});

test("build() refuses a rateLimit.max below parallelCount: a shard without a share would never start a run", () => {
  const b = new Builder<Item, Status>("too-many-shards", Status);
  b.addStep(Status.Created, async () => Status.Done, Status.Done).withOptions({ rateLimit: { max: 2, perMs: 1_000 } });
  assert.throws(
    () => b.build({ ...memory(), defaultOptions: { parallelCount: 3 } }),
    (err: Error & { code?: string }) =>
      err.code === "BUILD" && /step Created: option "rateLimit.max" \(2\) must be at least parallelCount \(3\)/.test(err.message),
  );
});
