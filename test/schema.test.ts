import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import type { StandardSchemaV1 } from "@standard-schema/spec";
import * as v from "valibot";
import { z } from "zod";
import { Builder, InvalidObjectError, InvalidPayloadError, RunState, timeTimer, type Adapters, type RecordStore, type RoleScheduler } from "stepwise";
import { memory } from "stepwise/memory";
import { sqlite } from "stepwise/sqlite";
import { waitFor } from "stepwise/testing";
import { errorsTo, quietLogger } from "./support/logger.js";

enum Order {
  Unknown = 0,
  Created = 1,
  AwaitingApproval = 2,
  Approved = 3,
}

// The same order in both libraries. `id` is trimmed and `currency` upper-cased, so a test can
// tell the schema's output from what it was given.
const orderSchemas = {
  zod: z.object({
    id: z.string().trim().min(1),
    amount: z.number().int().nonnegative(),
    currency: z.string().toUpperCase(),
    note: z.string().optional(),
  }),
  valibot: v.object({
    id: v.pipe(v.string(), v.trim(), v.minLength(1)),
    amount: v.pipe(v.number(), v.integer(), v.minValue(0)),
    currency: v.pipe(v.string(), v.toUpperCase()),
    note: v.optional(v.string()),
  }),
};
const approvalSchemas = {
  zod: z.object({ approver: z.string().trim().min(1) }),
  valibot: v.object({ approver: v.pipe(v.string(), v.trim(), v.minLength(1)) }),
};
type Library = keyof typeof orderSchemas;

const dir = mkdtempSync(join(tmpdir(), "stepwise-schema-"));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

type Backend = Adapters & { recordStore: RecordStore; roleScheduler: RoleScheduler };
const backends: { [name: string]: () => Backend } = {
  memory: () => memory(),
  sqlite: () => sqlite(join(dir, `schema-${++files}.db`)),
};

/**
 * Created → AwaitingApproval (a step) → Approved (a callback with a payload schema). The step
 * sets the amount to the note's number when the note is one, so a test can make it leave the
 * object invalid; the callback records the approver as the note, and "breaker" makes it leave the
 * object invalid.
 */
function approvals(library: Library, config: Backend, logger = quietLogger) {
  const b = Builder.withSchema(`schema-${library}`, Order, orderSchemas[library]);
  const stepAttempts = new Map<string, number>();
  b.addStep(
    Order.Created,
    async (run) => {
      stepAttempts.set(run.foreignId, (stepAttempts.get(run.foreignId) ?? 0) + 1);
      if (run.object.note !== undefined && /^-?\d+$/.test(run.object.note)) run.object.amount = Number(run.object.note);
      run.object.currency = run.object.currency.toLowerCase();
      return Order.AwaitingApproval;
    },
    Order.AwaitingApproval,
  ).withOptions({ pauseAfterErrCount: 3, errBackOff: 1 });
  b.addCallback(
    Order.AwaitingApproval,
    { payload: approvalSchemas[library] },
    async (run, approval) => {
      run.object.note = approval.approver;
      if (approval.approver === "breaker") run.object.amount = -1;
      return Order.Approved;
    },
    Order.Approved,
  );
  return { wf: b.build({ ...config, logger }), stepAttempts };
}

for (const library of ["zod", "valibot"] as const) {
  for (const [backend, open] of Object.entries(backends)) {
    const on = `(${library}, ${backend})`;

    test(`trigger refuses an invalid initialValue with INVALID_OBJECT and the schema's issues, and stores nothing ${on}`, async () => {
      const adapters = open();
      const { wf } = approvals(library, adapters);
      try {
        await wf.run();
        const refused = await refusal(wf.trigger("o-1", { initialValue: { id: " ", amount: -1, currency: "eur" } }), InvalidObjectError);
        assert.equal(refused.code, "INVALID_OBJECT");
        assert.equal(refused.foreignId, "o-1");
        assert.equal(refused.runId, "");
        assert.deepEqual(refused.issues.map((issue) => pathOf(issue)).sort(), ["amount", "id"]);
        assert.match(refused.message, /^the initialValue of foreign id "o-1" is invalid: (id|amount): .+; (id|amount): .+$/);
        assert.equal((await wf.list()).runs.length, 0);
        await assert.rejects(wf.latest("o-1"), { code: "RECORD_NOT_FOUND" });
      } finally {
        await wf.stop();
        await adapters.close();
      }
    });

    test(`the stored object is the schema's output, from trigger, step and callback alike ${on}`, async () => {
      const adapters = open();
      const { wf } = approvals(library, adapters);
      try {
        await wf.run();
        const runId = await wf.trigger("o-2", { initialValue: { id: "  o-2  ", amount: 5, currency: "eur" } });
        const waiting = await wf.await("o-2", runId, Order.AwaitingApproval);
        // The step was handed the trimmed id and wrote "eur" in lower case; the schema upper-cased it again.
        assert.deepEqual(waiting.object, { id: "o-2", amount: 5, currency: "EUR" });
        const { handled } = await wf.callback("o-2", Order.AwaitingApproval, { approver: "  ana  " });
        assert.equal(handled, true);
        const approved = await wf.await("o-2", runId, Order.Approved);
        assert.deepEqual(approved.object, { id: "o-2", amount: 5, currency: "EUR", note: "ana" });
        assert.equal(approved.runState, RunState.Completed);
      } finally {
        await wf.stop();
        await adapters.close();
      }
    });

    test(`a step that leaves the object invalid is retried, paused after pauseAfterErrCount, and nothing invalid is stored ${on}`, async () => {
      const adapters = open();
      const errors: unknown[] = [];
      const { wf, stepAttempts } = approvals(library, adapters, errorsTo(errors));
      try {
        await wf.run();
        const badId = await wf.trigger("bad", { initialValue: { id: "bad", amount: 5, currency: "EUR", note: "-7" } });
        const paused = await waitFor(wf, "bad", (r) => r.runState === RunState.Paused);
        assert.equal(stepAttempts.get("bad"), 3);
        // Trigger, then the pause: no version holds the step's invalid object.
        assert.equal(paused.meta.version, 2);
        assert.equal(paused.status, Order.Created);
        assert.deepEqual(paused.object, { id: "bad", amount: 5, currency: "EUR", note: "-7" });
        assert.match(paused.meta.runStateReason, new RegExp(`^paused after 3 errors in step Created: the object step Created left in run "${badId}" is invalid: amount: `));
        const refusal = errors.find((err) => err instanceof InvalidObjectError);
        assert.ok(refusal instanceof InvalidObjectError, "the refusal reaches the logger");
        assert.equal(refusal.runId, badId);
        assert.deepEqual(refusal.issues.map((issue) => pathOf(issue)), ["amount"]);
        // Other runs go on.
        const goodId = await wf.trigger("good", { initialValue: { id: "good", amount: 5, currency: "EUR", note: "8" } });
        assert.equal((await wf.await("good", goodId, Order.AwaitingApproval)).object.amount, 8);
      } finally {
        await wf.stop();
        await adapters.close();
      }
    });

    test(`a callback payload the schema refuses is INVALID_PAYLOAD to the caller, and the run is left as it was ${on}`, async () => {
      const adapters = open();
      const { wf } = approvals(library, adapters);
      try {
        await wf.run();
        const runId = await wf.trigger("o-3", { initialValue: { id: "o-3", amount: 5, currency: "EUR" } });
        const waiting = await wf.await("o-3", runId, Order.AwaitingApproval);
        const refused = await refusal(wf.callback("o-3", Order.AwaitingApproval, { approver: 42 }), InvalidPayloadError);
        assert.equal(refused.code, "INVALID_PAYLOAD");
        assert.equal(refused.foreignId, "o-3");
        assert.equal(refused.status, "AwaitingApproval");
        assert.deepEqual(refused.issues.map((issue) => pathOf(issue)), ["approver"]);
        assert.match(refused.message, new RegExp(`^the payload of callback AwaitingApproval in workflow "schema-${library}" for foreign id "o-3" is invalid: approver: `));
        await assert.rejects(wf.callback("o-3", Order.AwaitingApproval, "not an object"), { code: "INVALID_PAYLOAD" });
        // A valid payload whose callback leaves the object invalid is refused too, to the caller.
        const broken = await refusal(wf.callback("o-3", Order.AwaitingApproval, { approver: "breaker" }), InvalidObjectError);
        assert.match(broken.message, new RegExp(`^the object callback AwaitingApproval left in run "${runId}" is invalid: amount: `));
        const untouched = await wf.get(runId);
        assert.equal(untouched.meta.version, waiting.meta.version);
        assert.deepEqual(untouched.object, waiting.object);
        assert.equal(untouched.status, Order.AwaitingApproval);
      } finally {
        await wf.stop();
        await adapters.close();
      }
    });
  }
}

test("a schema whose validate answers with a promise is awaited, at trigger and after a step", async () => {
  const counter = z.object({ id: z.string(), count: z.number() }).refine(async (c) => c.count < 3, { message: "too many", path: ["count"] });
  // The case under test: this schema's validate answers later.
  assert.ok(counter["~standard"].validate({ id: "x", count: 0 }) instanceof Promise);
  const b = Builder.withSchema("schema-async", Order, counter);
  b.addStep(
    Order.Created,
    async (run) => {
      run.object.count += run.object.id === "jump" ? 5 : 1;
      return Order.AwaitingApproval;
    },
    Order.AwaitingApproval,
  ).withOptions({ pauseAfterErrCount: 1 });
  b.addStep(Order.AwaitingApproval, async () => Order.Approved, Order.Approved);
  const wf = b.build({ ...memory(), logger: quietLogger });
  try {
    await wf.run();
    await assert.rejects(wf.trigger("many", { initialValue: { id: "many", count: 3 } }), { code: "INVALID_OBJECT", message: /count: too many/ });
    const runId = await wf.trigger("ok", { initialValue: { id: "ok", count: 0 } });
    assert.equal((await wf.await("ok", runId, Order.Approved)).object.count, 1);
    await wf.trigger("jump", { initialValue: { id: "jump", count: 0 } });
    const paused = await waitFor(wf, "jump", (r) => r.runState === RunState.Paused);
    assert.equal(paused.object.count, 0);
    assert.match(paused.meta.runStateReason, /is invalid: count: too many/);
  } finally {
    await wf.stop();
  }
});

test("with debug: true, a run's traceOrigin still names the caller of trigger, whose value the schema validated first", async () => {
  const b = Builder.withSchema("schema-debug", Order, orderSchemas.valibot);
  b.addStep(Order.Created, async () => Order.Approved, Order.Approved);
  const wf = b.build({ ...memory(), debug: true, logger: quietLogger });
  try {
    await wf.run();
    const runId = await wf.trigger("d-1", { initialValue: { id: "d-1", amount: 5, currency: "EUR" } });
    assert.match((await wf.await("d-1", runId, Order.Approved)).meta.traceOrigin, /schema\.test\.ts:\d+:\d+/);
  } finally {
    await wf.stop();
  }
});

test("a timeout that leaves the object invalid is its error: paused after pauseAfterErrCount, nothing invalid stored", async () => {
  const b = Builder.withSchema("schema-timeout", Order, orderSchemas.zod);
  b.addTimeout(
    Order.Created,
    timeTimer(new Date(0)),
    async (run) => {
      run.object.amount = -1;
      return Order.Approved;
    },
    Order.Approved,
  ).withOptions({ pauseAfterErrCount: 1, pollingFrequency: 1 });
  const wf = b.build({ ...memory(), logger: quietLogger });
  try {
    await wf.run();
    await wf.trigger("t-1", { initialValue: { id: "t-1", amount: 5, currency: "EUR" } });
    const paused = await waitFor(wf, "t-1", (r) => r.runState === RunState.Paused);
    assert.equal(paused.meta.version, 2);
    assert.equal(paused.object.amount, 5);
    assert.match(paused.meta.runStateReason, /^paused after 1 errors in timeout Created: the object timeout Created left in run ".+" is invalid: amount: /);
  } finally {
    await wf.stop();
  }
});

test("a connection whose consumer leaves the object invalid is its error: paused after pauseAfterErrCount, nothing invalid stored", async () => {
  const adapters = memory();
  const payments = new Builder<{ orderId: string }, Order>("schema-payments", Order);
  payments.addStep(Order.Created, async () => Order.Approved, Order.Approved);
  const paymentWf = payments.build(adapters);
  const orders = Builder.withSchema("schema-orders", Order, orderSchemas.valibot);
  orders.connectWorkflow<Order>({
    workflowName: "schema-payments",
    status: Order.Approved,
    streamer: adapters.eventStreamer,
    from: Order.AwaitingApproval,
    to: Order.Approved,
    filter: (event) => event.foreignId,
    consumer: async (run) => {
      run.object.id = "";
      return true;
    },
  }).withOptions({ pauseAfterErrCount: 1 });
  const orderWf = orders.build({ ...adapters, logger: quietLogger });
  try {
    await Promise.all([paymentWf.run(), orderWf.run()]);
    await orderWf.trigger("c-1", { initialValue: { id: "c-1", amount: 5, currency: "EUR" }, startAt: Order.AwaitingApproval });
    await paymentWf.trigger("c-1", { initialValue: { orderId: "c-1" } });
    const paused = await waitFor(orderWf, "c-1", (r) => r.runState === RunState.Paused);
    assert.equal(paused.meta.version, 2);
    assert.equal(paused.object.id, "c-1");
    assert.match(paused.meta.runStateReason, /^paused after 1 errors in connection to schema-payments: the object connection to schema-payments left in run ".+" is invalid: id: /);
  } finally {
    await Promise.all([paymentWf.stop(), orderWf.stop()]);
  }
});

/** The error `promise` rejects with, which must be an `ErrorClass`. */
async function refusal<E extends Error>(promise: Promise<unknown>, ErrorClass: abstract new (...args: never[]) => E): Promise<E> {
  const err = await promise.then(
    () => assert.fail(`expected a ${ErrorClass.name}, but it was accepted`),
    (reason: unknown) => reason,
  );
  assert.ok(err instanceof ErrorClass, `expected a ${ErrorClass.name}, got ${String(err)}`);
  return err;
}

/** An issue's path as dotted text, for comparing issues of either library. */
function pathOf(issue: StandardSchemaV1.Issue): string {
  return (issue.path ?? []).map((segment) => String(typeof segment === "object" ? segment.key : segment)).join(".");
}
