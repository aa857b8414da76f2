import assert from "node:assert/strict";
import { test } from "node:test";
import type { Record } from "stepwise";
import { makeRecord } from "stepwise/adaptertest";
import { MemoryRecordStore } from "stepwise/memory";
import { memoryEffects } from "./support/effects.js";
import { checkVersions } from "./support/soak-check.js";
import { PaymentStatus, soakNames } from "./support/soak-workflow.js";

test("the soak's check counts no gap for a transition a worker stores while the check reads", async () => {
  const store = new MemoryRecordStore();
  const effects = memoryEffects();
  // A payment authorised (version 2), its settle still to come.
  const authorised = makeRecord({ workflowName: soakNames.payment, status: PaymentStatus.Authorised, meta: { version: 2 } });
  await store.store({ ...authorised, meta: { ...authorised.meta, version: 1 } });
  await store.store(authorised);
  await effects.apply(authorised.runId, "authorise", 1);

  // A worker settles the payment as soon as the check has made its first read, of either kind:
  // the effect first, then the transition, as a handler does.
  let settled: Promise<void> | undefined;
  const settle = () =>
    (settled ??= (async () => {
      await effects.apply(authorised.runId, "settle", 2);
      const next: Record = { ...authorised, status: PaymentStatus.Settled, meta: { ...authorised.meta, version: 3 } };
      await store.store(next);
    })());
  const racing = {
    all: async () => {
      const all = await effects.all();
      await settle();
      return all;
    },
    apply: effects.apply,
  };
  const racingStore = Object.assign(Object.create(store) as MemoryRecordStore, {
    list: async (query: Parameters<MemoryRecordStore["list"]>[0]) => {
      const page = await store.list(query);
      await settle();
      return page;
    },
  });

  const checked = await checkVersions(racingStore, racing);
  assert.ok(settled, "the worker moved the run during the check");
  assert.deepEqual(checked.detail, []);
  assert.equal(checked.versionGaps, 0);

  // Once the worker has moved it, the run reads as settled once at version 3: still no gap.
  assert.equal((await checkVersions(store, effects)).versionGaps, 0);
});

test("the soak's check counts a transition stored without its handler's effect", async () => {
  const store = new MemoryRecordStore();
  const effects = memoryEffects();
  const settled = makeRecord({ workflowName: soakNames.payment, status: PaymentStatus.Settled, meta: { version: 3 } });
  for (const version of [1, 2, 3]) await store.store({ ...settled, meta: { ...settled.meta, version } });
  await effects.apply(settled.runId, "authorise", 1);
  const checked = await checkVersions(store, effects);
  assert.equal(checked.versionGaps, 1);
  assert.match(checked.detail[0] ?? "", /settle never ran, yet the run is at version 3/);
});
