import assert from "node:assert/strict";
import { test } from "node:test";
import { Builder, type BuildConfig, type ConnectorEvent, type Logger, type Metrics, type ProcessOptions, type RoleScheduler } from "stepwise";
import { memory, MemoryConnector } from "stepwise/memory";
import { sqlite } from "stepwise/sqlite";
import { FakeClock, seededRandom } from "stepwise/testing";
import { backOffMs } from "../src/back-off.js";
import { quietLogger } from "./support/logger.js";
import { until } from "./support/until.js";
import { Status, type Item } from "./support/workflows.js";

const backends: { name: string; make(): BuildConfig<Item> & { close(): Promise<void> } }[] = [
  { name: "memory", make: () => memory() },
  { name: "sqlite", make: () => sqlite(":memory:") },
];

const start = new Date("2026-01-01T00:00:00Z");
const item = (id: string): Item => ({ id, count: 0 });

interface BackingOff {
  /** The run it is about; absent when the whole process backs off. */
  key: string | undefined;
  waitMs: number;
  errorsInARow: number;
}

/** A debug logger that keeps each back-off it reports, in order. */
function backOffLog(): { logger: Logger; waits: BackingOff[] } {
  const waits: BackingOff[] = [];
  const logger: Logger = {
    ...quietLogger,
    debug: (message, fields) => {
      if (message !== "backing off") return;
      waits.push({ key: fields?.key as string | undefined, waitMs: fields?.errBackOffMs as number, errorsInARow: fields?.errorsInARow as number });
    },
  };
  return { logger, waits };
}

test("a policy's n-th error waits min(max, initial × factor^(n−1)); with jitter a uniform share of that", () => {
  const fixed = { initial: 100, max: 1_000, factor: 3, jitter: false };
  const noRandom = () => assert.fail("a policy without jitter draws no random number");
  assert.deepEqual(
    [1, 2, 3, 4, 5].map((n) => backOffMs(fixed, n, noRandom)),
    [100, 300, 900, 1_000, 1_000],
  );
  // factor defaults to 2; a count so large that the power overflows still waits max.
  assert.equal(backOffMs({ initial: 100, max: 1_000, jitter: false }, 3, noRandom), 400);
  assert.equal(backOffMs({ initial: 100, max: 1_000, jitter: false }, 5_000, noRandom), 1_000);
  const ceilings = [100, 200, 400, 800, 1_000];
  const random = seededRandom(7, "jitter");
  const waits = ceilings.map((_, i) => backOffMs({ initial: 100, max: 1_000 }, i + 1, random));
  const draws = seededRandom(7, "jitter");
  assert.deepEqual(
    waits,
    ceilings.map((ceiling) => Math.round(draws() * ceiling)),
  );
  for (const [i, waitMs] of waits.entries()) assert.ok(waitMs >= 0 && waitMs <= ceilings[i]!, `${waitMs} within [0, ${ceilings[i]}]`);
  assert.equal(backOffMs(250, 9, noRandom), 250, "a number stays a constant wait");
});

/** What a step's n-th attempt does. */
type Attempt = "fail" | "repeat" | "finish";

/** A step that does what `script(attempt)` says: "repeat" succeeds and leaves the run in the status, to come back to the same process. */
function scriptedStep(adapters: BuildConfig<Item>, errBackOff: ProcessOptions["errBackOff"], script: (attempt: number) => Attempt, config: Partial<BuildConfig<Item>> = {}) {
  const clock = new FakeClock(start);
  const { logger, waits } = backOffLog();
  const attemptsAt: number[] = [];
  const b = new Builder<Item, Status>("backing-off", Status);
  b.addStep(
    Status.Created,
    async (run) => {
      attemptsAt.push(clock.now().getTime() - start.getTime());
      const attempt = script(attemptsAt.length);
      if (attempt === "fail") throw new Error(`attempt ${attemptsAt.length} failed`);
      return attempt === "repeat" ? run.saveAndRepeat() : Status.Done;
    },
    Status.Done,
  ).withOptions({ errBackOff, pauseAfterErrCount: 0 });
  const wf = b.build({ ...adapters, clock, logger, debug: true, ...config });
  return { wf, clock, waits, attemptsAt };
}

/** Moves the clock on by each back-off as it is reported, `count` times. */
async function sitOutBackOffs(clock: FakeClock, waits: readonly BackingOff[], count: number): Promise<void> {
  for (let k = 0; k < count; k++) {
    await until(`back-off ${k + 1}`, () => waits.length > k);
    await clock.blockUntil(1);
    clock.advance((waits[k] as BackingOff).waitMs);
  }
}

for (const backend of backends) {
  test(`${backend.name}: the n-th error in a row for a run waits initial × factor^(n−1), capped at max`, async () => {
    const adapters = backend.make();
    const { wf, clock, waits, attemptsAt } = scriptedStep(adapters, { initial: 1_000, max: 5_000, jitter: false }, (n) => (n <= 5 ? "fail" : "finish"));
    try {
      await wf.run();
      const runId = await wf.trigger("r", { initialValue: item("r") });
      await sitOutBackOffs(clock, waits, 5);
      await wf.await("r", runId, Status.Done);
      assert.deepEqual(
        waits.map((w) => [w.errorsInARow, w.waitMs]),
        [[1, 1_000], [2, 2_000], [3, 4_000], [4, 5_000], [5, 5_000]],
      );
      assert.deepEqual(attemptsAt, [0, 1_000, 3_000, 7_000, 12_000, 17_000], "each retry came exactly its wait later");
    } finally {
      await wf.stop();
      await adapters.close();
    }
  });

  test(`${backend.name}: a jittered back-off waits a seeded random share of the capped wait`, async () => {
    const adapters = backend.make();
    const random = seededRandom(42, "back-off");
    const { wf, clock, waits, attemptsAt } = scriptedStep(adapters, { initial: 1_000, max: 6_000 }, (n) => (n <= 4 ? "fail" : "finish"), { random });
    try {
      await wf.run();
      const runId = await wf.trigger("r", { initialValue: item("r") });
      await sitOutBackOffs(clock, waits, 4);
      await wf.await("r", runId, Status.Done);
      const draws = seededRandom(42, "back-off");
      const expected = [1_000, 2_000, 4_000, 6_000].map((ceiling) => Math.round(draws() * ceiling));
      assert.deepEqual(
        waits.map((w) => w.waitMs),
        expected,
      );
      let atMs = 0;
      assert.deepEqual(attemptsAt, [0, ...expected.map((waitMs) => (atMs += waitMs))], "each retry came exactly its wait later");
    } finally {
      await wf.stop();
      await adapters.close();
    }
  });

  test(`${backend.name}: a success starts a run's count again`, async () => {
    const adapters = backend.make();
    const script: Attempt[] = ["fail", "fail", "repeat", "fail", "finish"];
    const { wf, clock, waits } = scriptedStep(adapters, { initial: 1_000, max: 60_000, jitter: false }, (n) => script[n - 1] ?? "finish");
    try {
      await wf.run();
      const runId = await wf.trigger("r", { initialValue: item("r") });
      await sitOutBackOffs(clock, waits, 3);
      await wf.await("r", runId, Status.Done);
      assert.deepEqual(
        waits.map((w) => [w.errorsInARow, w.waitMs]),
        [[1, 1_000], [2, 2_000], [1, 1_000]],
      );
    } finally {
      await wf.stop();
      await adapters.close();
    }
  });

  test(`${backend.name}: in a batch each run counts its own errors`, async () => {
    const adapters = backend.make();
    const clock = new FakeClock(start);
    const { logger, waits } = backOffLog();
    const attempts = new Map<string, number>();
    const roles = holdRoles(adapters.roleScheduler, "-consumer-");
    const b = new Builder<Item, Status>("batch-backing-off", Status);
    // "a" fails three times, "b" once, "c" never.
    const failures: { [id: string]: number } = { a: 3, b: 1, c: 0 };
    b.addStep(
      Status.Created,
      async (run) => {
        const attempt = (attempts.get(run.foreignId) ?? 0) + 1;
        attempts.set(run.foreignId, attempt);
        if (attempt <= (failures[run.foreignId] ?? 0)) throw new Error(`${run.foreignId} failed`);
        return Status.Done;
      },
      Status.Done,
    ).withOptions({ batchSize: 10, errBackOff: { initial: 1_000, max: 60_000, jitter: false }, pauseAfterErrCount: 0 });
    const batches: number[] = [];
    const wf = b.build({ ...adapters, roleScheduler: roles.scheduler, clock, logger, metrics: batchSizesOf("created-consumer-1-of-1", batches), debug: true });
    try {
      await wf.run();
      const ids = ["a", "b", "c"];
      const runIds = new Map(await Promise.all(ids.map(async (id) => [id, await wf.trigger(id, { initialValue: item(id) })] as const)));
      // The step takes its role once all three events wait for it, so its first batch holds them all.
      await until("the events to be sent", async () => (await adapters.recordStore.listOutboxEvents("batch-backing-off", 10)).length === 0);
      roles.release();
      await wf.await("c", runIds.get("c")!, Status.Done);
      await until("a and b to back off", () => waits.length === 2);
      const runOf = new Map([...runIds].map(([id, runId]) => [runId, id]));
      const waitsOf = (id: string) => waits.filter((w) => runOf.get(w.key ?? "") === id).map((w) => w.waitMs);
      assert.deepEqual([waitsOf("a"), waitsOf("b")], [[1_000], [1_000]]);
      clock.advance(1_000);
      await wf.await("b", runIds.get("b")!, Status.Done);
      await until("a's second back-off", () => waitsOf("a").length === 2);
      clock.advance(2_000);
      await until("a's third back-off", () => waitsOf("a").length === 3);
      clock.advance(4_000);
      await wf.await("a", runIds.get("a")!, Status.Done);
      assert.deepEqual([waitsOf("a"), waitsOf("b"), waitsOf("c")], [[1_000, 2_000, 4_000], [1_000], []]);
      assert.deepEqual(Object.fromEntries(attempts), { a: 4, b: 2, c: 1 });
      assert.deepEqual(batches.slice(0, 2), [3, 2], "the three runs went as one batch, and a and b were retried together");
    } finally {
      await wf.stop();
      await adapters.close();
    }
  });
}

/** Metrics that keep the size of each batch `processName` handles, and nothing else. */
function batchSizesOf(processName: string, sizes: number[]): Metrics {
  const ignore = () => {};
  return {
    process: (_workflow, name) => ({
      state: ignore,
      lag: ignore,
      error: ignore,
      skipped: ignore,
      handled: (_seconds, count) => {
        if (name === processName) sizes.push(count);
      },
    }),
    runStateChanged: ignore,
  };
}

/** Holds back every role whose name contains `part` until `release()`. */
function holdRoles(inner: RoleScheduler, part: string): { scheduler: RoleScheduler; release(): void } {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  return {
    scheduler: {
      async await(role, signal) {
        if (role.includes(part)) await Promise.race([released, abortion(signal)]);
        return inner.await(role, signal);
      },
    },
    release,
  };
}

function abortion(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    signal.addEventListener("abort", () => reject(signal.reason), { once: true });
  });
}

test("a process without runs (a connector) counts its errors in a row itself, until it handles an event", async () => {
  const clock = new FakeClock(start);
  const { logger, waits } = backOffLog();
  const connector = new MemoryConnector();
  const calls = new Map<string, number>();
  const b = new Builder<Item, Status>("connector-backing-off", Status);
  b.addStep(Status.Created, async () => Status.Done, Status.Done);
  b.addConnector("feed", connector, async (api, e: ConnectorEvent) => {
    const n = (calls.get(e.id) ?? 0) + 1;
    calls.set(e.id, n);
    // "e1" fails three times, "e2" once.
    if (n <= ({ e1: 3, e2: 1 }[e.id] ?? 0)) throw new Error(`${e.id} failed`);
    await api.trigger(e.foreignId, { initialValue: item(e.foreignId) });
  }).withOptions({ errBackOff: { initial: 1_000, max: 60_000, jitter: false } });
  const adapters = memory();
  const wf = b.build({ ...adapters, clock, logger, debug: true });
  try {
    await wf.run();
    const event = (id: string): ConnectorEvent => ({ id, foreignId: `order-${id}`, type: "t", headers: {}, createdAt: start });
    connector.add(event("e1"));
    for (const waitMs of [1_000, 2_000, 4_000]) {
      await until(`a back-off of ${waitMs} ms`, () => waits.some((w) => w.waitMs === waitMs));
      await clock.blockUntil(1);
      clock.advance(waitMs);
    }
    await until("e1 handled", () => calls.get("e1") === 4);
    connector.add(event("e2"));
    await until("e2's back-off", () => waits.length === 4);
    assert.deepEqual(
      waits.map((w) => [w.key, w.errorsInARow, w.waitMs]),
      [[undefined, 1, 1_000], [undefined, 2, 2_000], [undefined, 3, 4_000], [undefined, 1, 1_000]],
    );
  } finally {
    await wf.stop();
    await adapters.close();
  }
});

test("errBackOff refuses a policy that cannot work, naming the field", () => {
  const cases: [unknown, RegExp][] = [
    [{ initial: 0, max: 10 }, /"errBackOff.initial" must be a finite number above 0, got 0/],
    [{ initial: Number.NaN, max: 10 }, /"errBackOff.initial"/],
    [{ initial: 10, max: 5 }, /"errBackOff.max" must be a finite number of at least initial \(10\), got 5/],
    [{ initial: 10, max: Infinity }, /"errBackOff.max"/],
    [{ initial: 10, max: 100, factor: 0.5 }, /"errBackOff.factor" must be a finite number of at least 1, got 0.5/],
    [{ initial: 10, max: 100, jitter: "yes" }, /"errBackOff.jitter" must be true or false/],
    [{ initial: 10, max: 100, maximum: 5 }, /"errBackOff" has an unknown field "maximum"/],
    [{ initial: 10 }, /"errBackOff.max"/],
    [Infinity, /"errBackOff" must be a non-negative number, got Infinity/],
    [null, /"errBackOff" must be a non-negative number or/],
  ];
  for (const [errBackOff, message] of cases) {
    const b = new Builder<Item, Status>("bad-back-off", Status);
    const step = b.addStep(Status.Created, async () => Status.Done, Status.Done);
    assert.throws(() => step.withOptions({ errBackOff } as ProcessOptions), (err: Error & { code?: string }) => {
      assert.equal(err.code, "BUILD");
      assert.match(err.message, /^step Created: option /);
      assert.match(err.message, message);
      return true;
    });
    assert.throws(() => b.build({ ...memory(), defaultOptions: { errBackOff } as ProcessOptions }), message);
  }
  // Valid: factor 1 is a constant wait; jitter may be turned off.
  new Builder<Item, Status>("good-back-off", Status)
    .addStep(Status.Created, async () => Status.Done, Status.Done)
    .withOptions({ errBackOff: { initial: 1, max: 1, factor: 1, jitter: false } });
});
