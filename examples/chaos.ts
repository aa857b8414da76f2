// Runs a workflow on adapters that fail, delay, duplicate and reorder on purpose, and checks that
// every run still completes once. The seed fixes the fate of each method's n-th call; which call is
// the n-th depends on timing, so the counts printed vary a little from run to run.
import { Builder, durationTimer, hasErrorCode } from "stepwise";
import { memory } from "stepwise/memory";
import { chaos, waitFor } from "stepwise/testing";

enum Parcel { Unknown = 0, Registered = 1, Labelled = 2, PickedUp = 3, Delivered = 4 }
type Shipment = { id: string; courier?: string };

/** How often each side effect ran, per run: a step's effect that runs twice shows here. */
const effects = new Map<string, number>();
const effect = (key: string) => effects.set(key, (effects.get(key) ?? 0) + 1);

const b = new Builder<Shipment, Parcel>("parcels", Parcel);
b.addStep(Parcel.Registered, async (run) => {
  effect(`${run.runId} label`);
  return Parcel.Labelled;
}, Parcel.Labelled);
b.addCallback(Parcel.Labelled, async (run, payload) => {
  run.object.courier = String(payload);
  return Parcel.PickedUp;
}, Parcel.PickedUp);
b.addTimeout(Parcel.PickedUp, durationTimer(20), async (run) => {
  effect(`${run.runId} deliver`);
  return Parcel.Delivered;
}, Parcel.Delivered).withOptions({ pollingFrequency: 10 });

const inner = memory();
// Writes fail only after they took effect, the nastiest case, so no step ever has to run again;
// add `failRate` for writes too and a step whose write failed runs again (steps are at-least-once).
const adapters = chaos(inner, {
  seed: 42,
  failRate: 0.1,
  only: ["lookup", "latest", "recv", "ack", "await", "listValid"],
  duplicateRate: 0.2,
  reorderRate: 0.2,
});
const writes = chaos(adapters, { seed: 43, failAfterRate: 0.1, only: ["store", "storeMany", "create", "complete"] });
// Each injected fault a process meets is logged as an error; count them instead of printing them.
let logged = 0;
const logger = { debug() {}, info() {}, warn() {}, error: () => void logged++ };
const wf = b.build({ ...writes, logger, defaultOptions: { errBackOff: 5 } });

/** Your own calls meet the faults too: retry, unless the call took effect before it failed. */
async function retrying(call: () => Promise<unknown>, tookEffect: () => Promise<boolean>): Promise<void> {
  for (;;) {
    try {
      return void (await call());
    } catch (err) {
      if (!hasErrorCode(err, "INJECTED_FAULT")) throw err;
      if (await tookEffect()) return;
    }
  }
}
const statusOf = (id: string) => inner.recordStore.latest("parcels", id).then((r) => r.status, () => Parcel.Unknown);

await wf.run();
try {
  const ids = Array.from({ length: 20 }, (_, i) => `parcel-${i}`);
  for (const id of ids) {
    await retrying(() => wf.trigger(id, { initialValue: { id } }), async () => (await statusOf(id)) !== Parcel.Unknown);
  }
  for (const id of ids) {
    // The waiting helpers treat an injected fault in their own reads as "not yet".
    await waitFor(wf, id, (run) => run.status === Parcel.Labelled);
    await retrying(() => wf.callback(id, Parcel.Labelled, "bike"), async () => (await statusOf(id)) !== Parcel.Labelled);
  }
  for (const id of ids) await waitFor(wf, id, (run) => run.status === Parcel.Delivered);

  const runs = await inner.recordStore.list({ workflowName: "parcels", limit: 100 });
  const once = runs.length === ids.length && [...effects.values()].every((n) => n === 1) && effects.size === 2 * ids.length;
  if (!once) throw new Error(`a run was lost or repeated: ${runs.length} runs, effects ${JSON.stringify([...effects])}`);
  // Each wrapper counts its own faults.
  const [reads, written] = [adapters.stats(), writes.stats()];
  const failedBefore = reads.failedBefore;
  const failedAfter = written.failedAfter;
  const { duplicated, reordered } = reads;
  const injected = failedBefore + failedAfter + duplicated + reordered;
  console.log(`all ${ids.length} runs completed exactly once despite ${injected} injected faults`);
  console.log(`(${failedBefore} failed calls, ${failedAfter} failed after taking effect, ${duplicated} duplicated and ${reordered} reordered deliveries; ${logged} errors logged)`);
} finally {
  await wf.stop();
  await inner.close();
}
