// A deploy that changes a workflow while runs are in flight (docs/versioned-workflows.md).
// Version 1 quotes a price in cents and waits for a person to review each quote. Version 2 keeps
// prices as an amount and a currency and approves quotes itself, so AwaitingReview is gone and
// status 3 now means Approved. Runs version 1 left waiting finish under version 2.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Builder } from "stepwise";
import { sqlite, type SqliteAdapters } from "stepwise/sqlite";

// Version 1, as it was deployed. Keep the old enum and object type in your code for its upgrade.
enum V1Status { Unknown = 0, Requested = 1, Quoted = 2, AwaitingReview = 3, Approved = 4 }
type V1Quote = { item: string; priceCents?: number };

function versionOne(adapters: SqliteAdapters) {
  const b = new Builder<V1Quote, V1Status>("quotes", V1Status);
  b.addStep(V1Status.Requested, async (run) => {
    run.object.priceCents = run.object.item.length * 250;
    return V1Status.Quoted;
  }, V1Status.Quoted);
  b.addStep(V1Status.Quoted, async () => V1Status.AwaitingReview, V1Status.AwaitingReview);
  b.addCallback(V1Status.AwaitingReview, async () => V1Status.Approved, V1Status.Approved);
  return b.build(adapters);
}

// Version 2: the new shape, the new graph, and how a version-1 run becomes a version-2 one.
enum QuoteStatus { Unknown = 0, Requested = 1, Quoted = 2, Approved = 3 }
type Quote = { item: string; price?: { amount: number; currency: string } };

function versionTwo(adapters: SqliteAdapters) {
  const b = new Builder<Quote, QuoteStatus>("quotes", QuoteStatus, { version: 2 });
  b.upgrade(1, V1Status, {
    object: (old: V1Quote) => ({
      item: old.item,
      ...(old.priceCents === undefined ? {} : { price: { amount: old.priceCents / 100, currency: "EUR" } }),
    }),
    // Every version-1 status must be mapped, by name: the compiler refuses a map that misses one.
    status: {
      Requested: QuoteStatus.Requested,
      Quoted: QuoteStatus.Quoted,
      AwaitingReview: QuoteStatus.Quoted, // approved by version 2's step instead of a person
      Approved: QuoteStatus.Approved,
    },
  });
  b.addStep(QuoteStatus.Requested, async (run) => {
    run.object.price = { amount: run.object.item.length * 2.5, currency: "EUR" };
    return QuoteStatus.Quoted;
  }, QuoteStatus.Quoted);
  b.addStep(QuoteStatus.Quoted, async () => QuoteStatus.Approved, QuoteStatus.Approved);
  return b.build(adapters);
}

const dir = mkdtempSync(join(tmpdir(), "stepwise-versioned-"));
const path = join(dir, "quotes.db");
try {
  const before = sqlite(path);
  const v1 = versionOne(before);
  await v1.run();
  const waiting: [string, string][] = [];
  try {
    for (const item of ["chair", "desk"]) {
      const runId = await v1.trigger(item, { initialValue: { item } });
      await v1.await(item, runId, V1Status.AwaitingReview);
      waiting.push([item, runId]);
    }
    console.log(`version 1 left ${waiting.length} quotes waiting for a review`);
  } finally {
    await v1.stop();
    await before.close();
  }

  // The deploy: the same file, the new definition. Nobody reviews the waiting quotes any more.
  const after = sqlite(path);
  const v2 = versionTwo(after);
  await v2.run();
  try {
    for (const [item, runId] of waiting) {
      const run = await v2.await(item, runId, QuoteStatus.Approved);
      console.log(`${item} is ${QuoteStatus[run.status]} at ${run.object.price?.amount.toFixed(2)} ${run.object.price?.currency}, stored as version ${run.meta.workflowVersion}`);
    }
    const runId = await v2.trigger("lamp", { initialValue: { item: "lamp" } });
    const lamp = await v2.await("lamp", runId, QuoteStatus.Approved);
    console.log(`lamp is ${QuoteStatus[lamp.status]} at ${lamp.object.price?.amount.toFixed(2)} ${lamp.object.price?.currency}, stored as version ${lamp.meta.workflowVersion}`);
  } finally {
    await v2.stop();
    await after.close();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
