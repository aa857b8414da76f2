import { RunState } from "./runstate.js";
import { deleteTopic, runStateChangeTopic, topic } from "./topic.js";
import type { HeaderKey, Headers } from "./event.js";
import type { Record } from "./record.js";
import { TraceHeaderKey } from "./tracer.js";

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
  return { foreignId: record.foreignId, type: record.status, headers: eventHeaders(record) };
}

/** The headers of a stored record's event; its topic is `headers[HeaderKey.topic]`. */
export function eventHeaders(record: Record): Headers {
  // Spelled out rather than computed from HeaderKey: a literal of fixed keys is built several
  // times faster, once per transition; `satisfies` keeps the keys those of HeaderKey.
  const headers: { [key: string]: string } = {
    workflow_name: record.workflowName,
    foreign_id: record.foreignId,
    topic: outboxTopic(record),
    run_id: record.runId,
    run_state: String(record.runState),
    record_version: String(record.meta.version),
  } satisfies { [key in (typeof HeaderKey)[keyof typeof HeaderKey]]: string };
  // The trace context rides along only where a tracer wrote one, so the next process continues it.
  const { traceParent, traceState } = record.meta;
  if (traceParent) {
    headers[TraceHeaderKey.traceParent] = traceParent;
    if (traceState) headers[TraceHeaderKey.traceState] = traceState;
  }
  return headers;
}
