import type { WorkflowContext } from "./context.js";
import type { Headers } from "./event.js";
import type { Record } from "./record.js";
import { runStateName } from "./runstate.js";
import { TraceHeaderKey, type SpanKindName, type SpanStart, type TraceContext } from "./tracer.js";

/** The span of `kind` working on `record`, named after its status. */
export function spanStart<T>(ctx: WorkflowContext<T>, kind: SpanKindName, record: Record, parent: TraceContext | undefined, forCaller = false): SpanStart {
  const status = ctx.graph.statusName(record.status);
  return {
    name: `${kind} ${status}`,
    attributes: {
      "workflow.name": ctx.name,
      "workflow.run_id": record.runId,
      "workflow.foreign_id": record.foreignId,
      "workflow.status": status,
      "workflow.run_state": runStateName(record.runState),
    },
    parent,
    forCaller,
  };
}

/** The trace context an event carries, if any. */
export function eventTrace(headers: Headers): TraceContext | undefined {
  const traceParent = headers[TraceHeaderKey.traceParent];
  return traceParent ? { traceParent, traceState: headers[TraceHeaderKey.traceState] } : undefined;
}

/** The trace context the run's record carries, if any. */
export function recordTrace(record: Record): TraceContext | undefined {
  const { traceParent, traceState } = record.meta;
  return traceParent ? { traceParent, traceState } : undefined;
}

/** Makes `record` carry `trace` to whoever handles its event; without one it keeps the run's. */
export function carryTrace<R extends Record | undefined>(record: R, trace: TraceContext | undefined): R {
  if (record === undefined || trace === undefined) return record;
  const { meta } = record;
  meta.traceParent = trace.traceParent;
  // A tracestate belongs to the trace context beside it: one of an earlier span is not carried on.
  if (trace.traceState !== undefined) meta.traceState = trace.traceState;
  else if (meta.traceState !== undefined) delete meta.traceState;
  return record;
}
