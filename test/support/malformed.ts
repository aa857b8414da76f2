import assert from "node:assert/strict";
import { Builder, RunState, type BuildConfig, type Logger } from "stepwise";
import { waitFor } from "stepwise/testing";
import { Status, type Item } from "./workflows.js";
import { errorsTo } from "./logger.js";

/**
 * A run whose stored row got a run state no store writes (as a hand-edited row would): its event
 * is skipped with a logged MalformedRecordError instead of being retried in front of the others,
 * and an operator can still cancel it. `corrupt` sets the row's run_state to 99.
 */
export async function malformedRunIsSkippedAndCancellable(
  adapters: Omit<BuildConfig<Item>, "logger">,
  name: string,
  corrupt: (runId: string) => Promise<void>,
): Promise<void> {
  const errors: unknown[] = [];
  const logger: Logger = errorsTo(errors);
  const b = new Builder<Item, Status>(name, Status);
  b.addCallback(Status.Created, async () => Status.Processed, Status.Processed);
  b.addStep(Status.Processed, async () => Status.Done, Status.Done);
  const wf = b.build({ ...adapters, logger });
  try {
    await wf.run();
    const broken = await wf.trigger("broken", { initialValue: { id: "broken", count: 0 } });
    await corrupt(broken);
    // Its Processed event comes first: had it been retried forever, the healthy run would never finish.
    await wf.callback("broken", Status.Created, null).catch(() => {});
    const healthy = await wf.trigger("healthy", { initialValue: { id: "healthy", count: 0 } });
    await wf.callback("healthy", Status.Created, null);
    assert.equal((await wf.await("healthy", healthy, Status.Done)).status, Status.Done);
    await assert.rejects(wf.get(broken), { code: "MALFORMED_RECORD" });
    await wf.cancel(broken, "a hand-edited row");
    const cancelled = await wf.get(broken);
    assert.equal(cancelled.runState, RunState.Cancelled);
    assert.equal(cancelled.meta.runStateReason, "a hand-edited row");
    // The foreign id is free again once its broken run is cancelled.
    await wf.trigger("broken", { initialValue: { id: "broken", count: 1 } });
    await waitFor(wf, "broken", (r) => r.object.count === 1 && r.runState !== RunState.Cancelled);
  } finally {
    await wf.stop();
  }
}
