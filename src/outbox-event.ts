import { RunState } from "./runstate.js";
import { deleteTopic, runStateChangeTopic, topic } from "./topic.js";
import { HeaderKey, type Headers } from "./event.js";
import type { Record } from "./record.js";

/** The topic a stored record's event goes to. */
export function outboxTopic(record: Record): string {
  switch (record.runState) {
    case RunState.RequestedDataDeleted:
      return deleteTopic(record.workflowName);
    case RunState.Paused:
    case RunState.Cancelled:
    case RunState.DataDeleted:
    case RunState.Completed:
      return runStateChangeTopic(record.workflowName);
    default:
      return topic(record.workflowName, record.status);
  }
}

/**
 * What a record store writes beside a record: the event's foreign id, type and headers.
 * Record store adapters call this so that every store publishes the same event.
 */
export function outboxEventData(record: Record): { foreignId: string; type: number; headers: Headers } {
  return {
    foreignId: record.foreignId,
    type: record.status,
    headers: {
      [HeaderKey.workflowName]: record.workflowName,
      [HeaderKey.foreignId]: record.foreignId,
      [HeaderKey.topic]: outboxTopic(record),
      [HeaderKey.runId]: record.runId,
      [HeaderKey.runState]: String(record.runState),
      [HeaderKey.recordVersion]: String(record.meta.version),
    },
  };
}
