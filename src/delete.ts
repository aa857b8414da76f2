import { topicConsumers } from "./consumer.js";
import type { WorkflowContext } from "./context.js";
import { HeaderKey, type Event } from "./event.js";
import { roleName } from "./graph.js";
import { lookupInState } from "./lookup.js";
import { isSkip } from "./skip.js";
import { resolveOptions } from "./options.js";
import type { ProcessSpec } from "./process.js";
import { RunState } from "./runstate.js";
import { deleteTopic } from "./topic.js";
import { changedRecord, decodeRecord, writeUnlessSuperseded } from "./update.js";
import { checkNotNewer, currentStatus } from "./upgrade.js";

const deletedObject = new TextEncoder().encode(JSON.stringify({ result: "deleted" }));

/**
 * The process that erases the objects of runs whose data deletion was requested: each object
 * becomes `customDelete(object)`, or `{"result":"deleted"}`, and the run becomes DataDeleted.
 */
export function deleteProcess<T>(ctx: WorkflowContext<T>, customDelete: ((object: T) => T) | undefined): ProcessSpec<Event>[] {
  return topicConsumers(ctx, {
    topic: deleteTopic(ctx.name),
    name: "delete-consumer",
    role: roleName(ctx.name, "delete-consumer"),
    options: resolveOptions(ctx.defaultOptions, undefined, "never"),
    sharded: false,
    handle: async (event) => {
      if (Number(event.headers[HeaderKey.runState]) !== RunState.RequestedDataDeleted) return "filtered_out";
      const record = await lookupInState(ctx, event, RunState.RequestedDataDeleted);
      if (isSkip(record)) return record;
      // A newer version may delete differently: thrown, so the event waits for a process of it.
      checkNotNewer(ctx, record);
      const object = customDelete ? ctx.codec.encode(customDelete(decodeRecord(ctx, record).object)) : deletedObject.slice();
      // What is left is of this version's shape, in the status an older run maps to.
      const next = changedRecord(ctx, record, { runState: RunState.DataDeleted, object, status: currentStatus(ctx, record) });
      next.meta.workflowVersion = ctx.version;
      await writeUnlessSuperseded(ctx, record, next);
      return undefined;
    },
  });
}
