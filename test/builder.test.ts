import assert from "node:assert/strict";
import { test } from "node:test";
import { BuildError, Builder, InvalidStatusError, StepwiseError, type BuildConfig, type ProcessOptions } from "stepwise";
import { memory } from "stepwise/memory";
import { Status, type Item } from "./support/workflows.js";

/**
 * Runs a definition and its build() and checks the error it throws: class, stable code and a
 * message naming the mistake. Builder checks may fire at the call that makes the mistake or at
 * build(); either way the user gets the error before anything runs.
 */
function assertDefinitionFails(
  define: () => unknown,
  expected: { class: typeof BuildError | typeof InvalidStatusError; code: string; message: RegExp },
): void {
  assert.throws(define, (err: unknown) => {
    assert.ok(err instanceof expected.class, `expected ${expected.class.name}, got ${String(err)}`);
    assert.ok(err instanceof StepwiseError);
    assert.equal(err.code, expected.code);
    assert.match(err.message, expected.message);
    return true;
  });
}

const next = async (): Promise<Status.Done> => Status.Done;

test("build() refuses a workflow with no steps or callbacks, naming the workflow", () => {
  const b = new Builder<Item, Status>("empty-one", Status);
  assertDefinitionFails(() => b.build(memory()), { class: BuildError, code: "BUILD", message: /"empty-one" has no steps, callbacks or timeouts/ });
});

test("build() refuses a second step for the same status, naming the status", () => {
  const b = new Builder<Item, Status>("twice", Status);
  b.addStep(Status.Created, async () => Status.Processed, Status.Processed);
  b.addStep(Status.Created, next, Status.Done);
  assertDefinitionFails(() => b.build(memory()), { class: BuildError, code: "BUILD", message: /Created.*one step per status/ });
});

test("several callbacks for one status are allowed", () => {
  const b = new Builder<Item, Status>("callbacks", Status);
  b.addCallback(Status.Created, next, Status.Done);
  b.addCallback(Status.Created, async () => Status.Failed, Status.Failed);
  assert.equal(b.build(memory()).name, "callbacks");
});

test("build() refuses status 0 as a step's from status", () => {
  const b = new Builder<Item, Status>("reserved-from", Status);
  b.addStep(Status.Unknown, next, Status.Done);
  assertDefinitionFails(() => b.build(memory()), { class: InvalidStatusError, code: "INVALID_STATUS", message: /invalid status 0: .*reserved/ });
});

test("build() refuses a negative status as a step's from status", () => {
  const b = new Builder<Item, Status>("negative-from", Status);
  b.addStep(-3 as Status, next, Status.Done);
  assertDefinitionFails(() => b.build(memory()), { class: InvalidStatusError, code: "INVALID_STATUS", message: /invalid status -3: .*reserved/ });
});

test("build() refuses a reserved status as a step's destination", () => {
  for (const reserved of [0, -1] as Status[]) {
    const b = new Builder<Item, Status>("reserved-to", Status);
    b.addStep(Status.Created, async () => Status.Done, Status.Done, reserved);
    assertDefinitionFails(() => b.build(memory()), {
      class: InvalidStatusError,
      code: "INVALID_STATUS",
      message: new RegExp(`invalid status ${reserved}: .*reserved`),
    });
  }
});

test("build() refuses a reserved status in a callback", () => {
  const b = new Builder<Item, Status>("reserved-callback", Status);
  b.addCallback(Status.Created, async () => Status.Unknown, Status.Unknown);
  assertDefinitionFails(() => b.build(memory()), { class: InvalidStatusError, code: "INVALID_STATUS", message: /invalid status 0/ });
});

test("the reserved-status error carries the offending status", () => {
  const b = new Builder<Item, Status>("reserved-field", Status);
  b.addStep(Status.Created, next, -7 as Status);
  assert.throws(() => b.build(memory()), (err: unknown) => err instanceof InvalidStatusError && err.status === -7);
});

test("build() names each missing adapter", () => {
  for (const missing of ["eventStreamer", "recordStore", "roleScheduler"] as const) {
    const b = new Builder<Item, Status>("no-adapter", Status);
    b.addStep(Status.Created, next, Status.Done);
    const config = { ...memory(), [missing]: undefined } as unknown as BuildConfig<Item>;
    assertDefinitionFails(() => b.build(config), { class: BuildError, code: "BUILD", message: new RegExp(`"no-adapter".*needs ${missing}`) });
  }
});

test("a timeoutStore is not needed by a workflow without timeouts", () => {
  const b = new Builder<Item, Status>("no-timeouts", Status);
  b.addStep(Status.Created, next, Status.Done);
  const { eventStreamer, recordStore, roleScheduler } = memory();
  assert.equal(b.build({ eventStreamer, recordStore, roleScheduler }).name, "no-timeouts");
});

test("withOptions refuses an unknown option, naming it", () => {
  assertDefinitionFails(
    () => {
      const b = new Builder<Item, Status>("unknown-option", Status);
      b.addStep(Status.Created, next, Status.Done).withOptions({ parallelcount: 2 } as unknown as ProcessOptions);
      b.build(memory());
    },
    { class: BuildError, code: "BUILD", message: /unknown option "parallelcount"/ },
  );
});

test("withOptions refuses a negative number, naming the option", () => {
  for (const key of ["errBackOff", "pollingFrequency", "lag", "lagAlert", "pauseAfterErrCount"] as const) {
    assertDefinitionFails(
      () => {
        const b = new Builder<Item, Status>("negative-option", Status);
        b.addStep(Status.Created, next, Status.Done).withOptions({ [key]: -1 });
        b.build(memory());
      },
      { class: BuildError, code: "BUILD", message: new RegExp(`"${key}" must be a non-negative number, got -1`) },
    );
  }
});

test("withOptions refuses a parallelCount that is zero or not a whole number", () => {
  for (const parallelCount of [0, 1.5, Number.NaN]) {
    assertDefinitionFails(
      () => {
        const b = new Builder<Item, Status>("bad-parallel", Status);
        b.addStep(Status.Created, next, Status.Done).withOptions({ parallelCount });
        b.build(memory());
      },
      { class: BuildError, code: "BUILD", message: /"parallelCount"/ },
    );
  }
});

test("build() refuses bad defaultOptions, naming them", () => {
  const b = new Builder<Item, Status>("bad-defaults", Status);
  b.addStep(Status.Created, next, Status.Done);
  assertDefinitionFails(() => b.build({ ...memory(), defaultOptions: { parallelCount: 0 } }), {
    class: BuildError,
    code: "BUILD",
    message: /defaultOptions.*"parallelCount"/,
  });
  assertDefinitionFails(() => b.build({ ...memory(), defaultOptions: { errBackOff: -5 } }), {
    class: BuildError,
    code: "BUILD",
    message: /defaultOptions.*"errBackOff"/,
  });
});

test("a builder refuses an empty or blank name", () => {
  for (const name of ["", "   "]) {
    assertDefinitionFails(
      () => {
        const b = new Builder<Item, Status>(name, Status);
        b.addStep(Status.Created, next, Status.Done);
        b.build(memory());
      },
      { class: BuildError, code: "BUILD", message: /non-empty name/ },
    );
  }
});

test("the first from status added is where a run starts by default", async () => {
  const b = new Builder<Item, Status>("start-first-added", Status);
  // Added out of numeric order: Shipped comes first, so it is the start, not Created.
  b.addStep(Status.Shipped, async () => Status.Done, Status.Done);
  b.addStep(Status.Created, async () => Status.Shipped, Status.Shipped);
  const adapters = memory();
  const wf = b.build(adapters);
  await wf.run();
  try {
    const runId = await wf.trigger("s-1", { initialValue: { id: "s-1", count: 0 } });
    assert.equal(adapters.recordStore.snapshots(runId)[0]?.status, Status.Shipped);
    const done = await wf.await("s-1", runId, Status.Done);
    assert.deepEqual(
      adapters.recordStore.snapshots(runId).map((r) => r.status),
      [Status.Shipped, Status.Done],
    );
    assert.equal(done.status, Status.Done);
    const elsewhere = await wf.trigger("s-2", { initialValue: { id: "s-2", count: 0 }, startAt: Status.Created });
    assert.equal(adapters.recordStore.snapshots(elsewhere)[0]?.status, Status.Created);
  } finally {
    await wf.stop();
  }
});

test("a callback's status counts as the first from status added", async () => {
  const b = new Builder<Item, Status>("start-callback", Status);
  b.addCallback(Status.Processed, next, Status.Done);
  b.addStep(Status.Created, async () => Status.Processed, Status.Processed);
  const adapters = memory();
  const wf = b.build(adapters);
  await wf.run();
  try {
    const runId = await wf.trigger("c-1", { initialValue: { id: "c-1", count: 0 } });
    assert.equal(adapters.recordStore.snapshots(runId)[0]?.status, Status.Processed);
  } finally {
    await wf.stop();
  }
});

/** The names of the step consumers (other processes, such as the outbox, are left out). */
function stepConsumerNames(states: object): string[] {
  return Object.keys(states)
    .filter((name) => /-consumer-\d+-of-\d+$/.test(name))
    .sort();
}

test("without a status enum, process names use the status number", () => {
  const b = new Builder<Item, number>("numbers");
  b.addStep(1, async () => 2, 2);
  b.addStep(2, async () => 3, 3);
  const wf = b.build(memory());
  assert.deepEqual(stepConsumerNames(wf.states()), ["1-consumer-1-of-1", "2-consumer-1-of-1"]);
});

enum Signup {
  Unknown = 0,
  CellphoneNumberSubmitted = 1,
  OTPSent = 2,
  Verified = 3,
}

test("process names use the enum member's name in snake case", () => {
  const b = new Builder<Item, Signup>("signup", Signup);
  b.addStep(Signup.CellphoneNumberSubmitted, async () => Signup.OTPSent, Signup.OTPSent);
  b.addStep(Signup.OTPSent, async () => Signup.Verified, Signup.Verified);
  const wf = b.build(memory());
  assert.deepEqual(stepConsumerNames(wf.states()), ["cellphone_number_submitted-consumer-1-of-1", "otp_sent-consumer-1-of-1"]);
});

test("the outbox process is named outbox-consumer, and absent with outbox: false", () => {
  const define = () => {
    const b = new Builder<Item, Status>("outbox-name", Status);
    b.addStep(Status.Created, next, Status.Done);
    return b;
  };
  assert.ok("outbox-consumer" in define().build({ ...memory(), outbox: true }).states());
  assert.ok(!("outbox-consumer" in define().build({ ...memory(), outbox: false }).states()));
  assert.ok(!("outbox-consumer" in define().build(memory()).states()), "memory() publishes its events itself");
});

test("process names count the shards of parallelCount", () => {
  const b = new Builder<Item, Signup>("signup-shards", Signup);
  b.addStep(Signup.CellphoneNumberSubmitted, async () => Signup.Verified, Signup.Verified).withOptions({ parallelCount: 3 });
  const wf = b.build(memory());
  assert.deepEqual(stepConsumerNames(wf.states()), [
    "cellphone_number_submitted-consumer-1-of-3",
    "cellphone_number_submitted-consumer-2-of-3",
    "cellphone_number_submitted-consumer-3-of-3",
  ]);
});

test("build() refuses a bad pauseRetry.resumeAfter, naming that option", () => {
  const b = new Builder<Item, Status>("bad-resume", Status);
  b.addStep(Status.Created, async () => Status.Done, Status.Done);
  assert.throws(
    () => b.build({ ...memory(), pauseRetry: { resumeAfter: -5 } }),
    (err: BuildError) => err.code === "BUILD" && /pauseRetry: option "resumeAfter" must be a non-negative number, got -5/.test(err.message),
  );
});

test("a connector refuses pauseAfterErrCount: its events belong to no run it could pause", () => {
  const b = new Builder<Item, Status>("connector-options", Status);
  b.addStep(Status.Created, async () => Status.Done, Status.Done);
  const updater = b.addConnector("feed", { make: async () => ({ recv: () => new Promise(() => {}), close: async () => {} }) }, async () => {});
  assert.throws(() => updater.withOptions({ pauseAfterErrCount: 3 }), /connector feed: does not take the option "pauseAfterErrCount"/);
  updater.withOptions({ lag: 10, parallelCount: 2 });
});
