import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { test } from "node:test";
import { context, SpanStatusCode, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { Builder, durationTimer, RunState, type BuildConfig, type RoleScheduler, type TypedRecord } from "stepwise";
import { memory } from "stepwise/memory";
import { otel } from "stepwise/otel";
import { sqlite, type SqliteAdapters } from "stepwise/sqlite";
import { awaitTimeoutInsert, FakeClock, waitFor } from "stepwise/testing";
import { quietLogger } from "./support/logger.js";
import { tracedLine } from "./support/traced-line.js";
import { until } from "./support/until.js";

// One SDK for the file, as an application has: registered globally, so `otel()` finds it.
const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
trace.setGlobalTracerProvider(provider);
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
const appTracer = provider.getTracer("app");

enum Order {
  Unknown = 0,
  Created = 1,
  Paid = 2,
  Shipped = 3,
  Expired = 4,
}
type Cart = { id: string; paidWith?: string };

/** The finished spans stepwise made for the workflow, oldest first. */
function spansOf(workflowName: string): ReadableSpan[] {
  return exporter.getFinishedSpans().filter((s) => s.attributes["workflow.name"] === workflowName);
}

async function spanNamed(workflowName: string, name: string): Promise<ReadableSpan> {
  await until(`span "${name}"`, () => spansOf(workflowName).some((s) => s.name === name));
  return spansOf(workflowName).find((s) => s.name === name) as ReadableSpan;
}

function traceIdOf(span: ReadableSpan): string {
  return span.spanContext().traceId;
}

function assertChildOf(child: ReadableSpan, parent: ReadableSpan): void {
  assert.equal(traceIdOf(child), traceIdOf(parent), `${child.name} is in the trace of ${parent.name}`);
  assert.equal(child.parentSpanContext?.spanId, parent.spanContext().spanId, `${child.name} is a child of ${parent.name}`);
}

test("a run's trigger, steps and hook are spans of one trace, each the child of the one that wrote its event", async () => {
  const name = "traced-line";
  const b = new Builder<Cart, Order>(name, Order);
  b.addStep(
    Order.Created,
    async () => {
      // The step runs with its span active: the user's own spans nest below it.
      appTracer.startSpan("charge card").end();
      return Order.Paid;
    },
    Order.Paid,
  );
  b.addStep(Order.Paid, async () => Order.Shipped, Order.Shipped);
  const completed: TypedRecord<Cart, Order>[] = [];
  b.onComplete(async (run) => {
    completed.push(run);
  });
  const wf = b.build({ ...memory(), tracer: otel() });
  try {
    await wf.run();
    const runId = await wf.trigger("cart-1", { initialValue: { id: "cart-1" } });
    const hook = await spanNamed(name, "hook Shipped");
    const [triggered, created, paid] = await Promise.all(["trigger Created", "step Created", "step Paid"].map((n) => spanNamed(name, n)));
    assert.ok(triggered && created && paid);

    assert.equal(triggered.parentSpanContext, undefined, "a trigger outside any span starts the trace");
    assertChildOf(created, triggered);
    assertChildOf(paid, created);
    assertChildOf(hook, paid);
    const charge = exporter.getFinishedSpans().find((s) => s.name === "charge card");
    assert.ok(charge, "the step's own span was exported");
    assertChildOf(charge, created);

    assert.deepEqual(created.attributes, {
      "workflow.name": name,
      "workflow.run_id": runId,
      "workflow.foreign_id": "cart-1",
      "workflow.status": "Created",
      "workflow.run_state": "Initiated",
    });
    assert.equal(paid.attributes["workflow.status"], "Paid");
    assert.equal(paid.attributes["workflow.run_state"], "Running");
    assert.equal(hook.attributes["workflow.status"], "Shipped");
    assert.equal(hook.attributes["workflow.run_state"], "Completed");
    assert.equal(triggered.attributes["workflow.run_id"], runId);
    for (const span of [triggered, created, paid, hook]) assert.equal(span.status.code, SpanStatusCode.UNSET, `${span.name} succeeded`);
  } finally {
    await wf.stop();
  }
});

test("a step that throws records the error on its span", async () => {
  const name = "traced-failure";
  const b = new Builder<Cart, Order>(name, Order);
  b.addStep(
    Order.Created,
    async () => {
      throw new Error("card declined");
    },
    Order.Paid,
  ).withOptions({ pauseAfterErrCount: 1 });
  const wf = b.build({ ...memory(), tracer: otel(), logger: quietLogger });
  try {
    await wf.run();
    await wf.trigger("cart-2", { initialValue: { id: "cart-2" } });
    const failed = await spanNamed(name, "step Created");
    assert.equal(failed.status.code, SpanStatusCode.ERROR);
    assert.match(failed.status.message ?? "", /card declined/);
    const exception = failed.events.find((e) => e.name === "exception");
    assert.equal(exception?.attributes?.["exception.message"], "card declined");
    await waitFor(wf, "cart-2", (r) => r.runState === RunState.Paused);
  } finally {
    await wf.stop();
  }
});

/** Created waits for a payment callback, or expires after an hour; on memory unless given adapters. */
function checkout(name: string, adaptersFor: (clock: FakeClock) => BuildConfig<Cart> = (clock) => memory({ clock })) {
  const clock = new FakeClock(new Date("2026-01-01T00:00:00Z"));
  const b = new Builder<Cart, Order>(name, Order);
  b.addCallback(
    Order.Created,
    async (run, payload) => {
      run.object.paidWith = String(payload);
      return Order.Paid;
    },
    Order.Paid,
  );
  b.addTimeout(Order.Created, durationTimer(60 * 60_000), async () => Order.Expired, Order.Expired);
  b.addStep(Order.Paid, async () => Order.Shipped, Order.Shipped);
  const wf = b.build({ ...adaptersFor(clock), clock, tracer: otel() });
  return { wf, clock };
}

test("a callback continues its run's trace and links the caller's span", async () => {
  const name = "traced-callback";
  const { wf } = checkout(name);
  try {
    await wf.run();
    const runId = await wf.trigger("cart-3", { initialValue: { id: "cart-3" } });
    const triggered = await spanNamed(name, "trigger Created");
    const webhook = appTracer.startSpan("POST /payments");
    await context.with(trace.setSpan(context.active(), webhook), () => wf.callback("cart-3", Order.Created, "card"));
    webhook.end();
    const callback = await spanNamed(name, "callback Created");
    assertChildOf(callback, triggered);
    assert.deepEqual(
      callback.links.map((l) => l.context.spanId),
      [webhook.spanContext().spanId],
      "the caller's span is linked",
    );
    assert.equal(callback.attributes["workflow.run_id"], runId);
    assert.equal(callback.attributes["workflow.status"], "Created");
    const shipped = await spanNamed(name, "step Paid");
    assertChildOf(shipped, callback);
  } finally {
    await wf.stop();
  }
});

test("an expired timeout is a span in its run's trace", async () => {
  const name = "traced-timeout";
  const { wf, clock } = checkout(name);
  try {
    await wf.run();
    const runId = await wf.trigger("cart-4", { initialValue: { id: "cart-4" } });
    await awaitTimeoutInsert(wf, "cart-4", runId, Order.Created);
    clock.advance(60 * 60_000);
    const timeout = await spanNamed(name, "timeout Created");
    assertChildOf(timeout, await spanNamed(name, "trigger Created"));
    assert.equal(timeout.attributes["workflow.run_id"], runId);
    assert.equal(timeout.attributes["workflow.run_state"], "Initiated");
    await waitFor(wf, "cart-4", (r) => r.status === Order.Expired);
  } finally {
    await wf.stop();
  }
});

test("on a durable store, a timeout continues the trace its run's stored record carries", async () => {
  const name = "traced-durable-timeout";
  const dir = await mkdtemp(join(tmpdir(), "stepwise-otel-"));
  let adapters: SqliteAdapters | undefined;
  const { wf, clock } = checkout(name, (clock) => (adapters = sqlite(join(dir, "runs.db"), { clock })));
  try {
    await wf.run();
    const runId = await wf.trigger("cart-6", { initialValue: { id: "cart-6" } });
    await awaitTimeoutInsert(wf, "cart-6", runId, Order.Created);
    clock.advance(60 * 60_000);
    assertChildOf(await spanNamed(name, "timeout Created"), await spanNamed(name, "trigger Created"));
  } finally {
    await wf.stop();
    await adapters?.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test("a trigger inside the caller's span joins the caller's trace", async () => {
  const name = "traced-caller";
  const b = new Builder<Cart, Order>(name, Order);
  b.addStep(Order.Created, async () => Order.Paid, Order.Paid);
  const wf = b.build({ ...memory(), tracer: otel({ tracer: provider.getTracer("custom") }) });
  try {
    await wf.run();
    const request = appTracer.startSpan("POST /orders");
    await context.with(trace.setSpan(context.active(), request), () => wf.trigger("cart-5", { initialValue: { id: "cart-5" } }));
    request.end();
    const triggered = await spanNamed(name, "trigger Created");
    assert.equal(traceIdOf(triggered), request.spanContext().traceId);
    assert.equal(triggered.parentSpanContext?.spanId, request.spanContext().spanId);
    assert.equal(triggered.instrumentationScope.name, "custom", "spans go to the tracer given");
    assertChildOf(await spanNamed(name, "step Created"), triggered);
  } finally {
    await wf.stop();
  }
});

test("a scheduled run starts a trace of its own, whatever span was active when it was scheduled", async () => {
  const name = "traced-schedule";
  const clock = new FakeClock(new Date("2026-01-01T00:00:30Z"));
  const b = new Builder<Cart, Order>(name, Order);
  b.addStep(Order.Created, async () => Order.Paid, Order.Paid);
  const wf = b.build({ ...memory({ clock }), clock, tracer: otel() });
  try {
    await wf.run();
    const setup = appTracer.startSpan("configure schedules");
    await context.with(trace.setSpan(context.active(), setup), () => wf.schedule("nightly", "* * * * *", { initialValue: { id: "nightly" } }));
    setup.end();
    await clock.blockUntil(1);
    clock.advance(30_000);
    const triggered = await spanNamed(name, "trigger Created");
    assert.equal(triggered.parentSpanContext, undefined, "a slot has no caller");
    assert.notEqual(traceIdOf(triggered), setup.spanContext().traceId);
    assertChildOf(await spanNamed(name, "step Created"), triggered);
  } finally {
    await wf.stop();
  }
});

/** A span as the worker process printed it. */
interface PrintedSpan {
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  attributes: { [key: string]: unknown };
}

/** Grants no role: this process only triggers, and every step runs in the worker. */
const triggerOnly: RoleScheduler = {
  await: (_role, signal) =>
    new Promise((_, reject) => {
      signal.addEventListener("abort", () => reject(signal.reason as Error), { once: true });
    }),
};

test("a run triggered in one process and stepped in another is one trace", { timeout: 60_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), "stepwise-otel-"));
  const path = join(dir, "runs.db");
  const worker = spawn(process.execPath, ["--conditions=source", "--import", "tsx", new URL("./support/traced-worker.ts", import.meta.url).pathname, path], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = once(worker, "exit");
  exited.catch(() => {});
  const lines: string[] = [];
  createInterface({ input: worker.stdout }).on("line", (line) => lines.push(line));
  let adapters: SqliteAdapters | undefined;
  let wf: ReturnType<typeof tracedLine> | undefined;
  try {
    // The worker creates the tables; opening the file only then spares the two processes a race.
    await until("the worker to be ready", () => lines.includes("ready"), 30_000);
    adapters = sqlite(path);
    wf = tracedLine({ ...adapters, roleScheduler: triggerOnly, tracer: otel() });
    await wf.run();
    const runId = await wf.trigger("basket-1", { initialValue: { id: "basket-1" } });
    const triggered = await spanNamed("traced-checkout", "trigger Created");

    const workerSpans = () =>
      lines
        .filter((line) => line.startsWith("span "))
        .map((line) => JSON.parse(line.slice("span ".length)) as PrintedSpan)
        .filter((span) => span.attributes["workflow.run_id"] === runId);
    await until("the worker's spans of both steps and the hook", () => workerSpans().length >= 3, 30_000);
    const created = workerSpans().find((s) => s.name === "step Created");
    const paid = workerSpans().find((s) => s.name === "step Paid");
    const hook = workerSpans().find((s) => s.name === "hook Shipped");
    assert.ok(created && paid && hook, `the worker printed: ${workerSpans().map((s) => s.name).join(", ")}`);
    assert.equal(created.traceId, traceIdOf(triggered), "the worker's first step continues the trigger's trace");
    assert.equal(created.parentSpanId, triggered.spanContext().spanId, "the first step is a child of the trigger");
    assert.equal(paid.traceId, traceIdOf(triggered));
    assert.equal(paid.parentSpanId, created.spanId, "the second step is a child of the first");
    assert.equal(hook.traceId, traceIdOf(triggered));
    assert.equal(hook.parentSpanId, paid.spanId, "the hook is a child of the step that completed the run");
  } finally {
    await wf?.stop();
    await adapters?.close();
    worker.kill("SIGTERM");
    await exited;
    await rm(dir, { recursive: true, force: true });
  }
});
