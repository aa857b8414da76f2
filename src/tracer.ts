/**
 * A span's trace context in W3C Trace Context form: what events carry in their `traceparent` and
 * `tracestate` headers, and records in `meta.traceParent` and `meta.traceState`.
 */
export interface TraceContext {
  /** `00-<trace id>-<span id>-<flags>`. */
  traceParent: string;
  traceState?: string | undefined;
}

/** The attributes of every span stepwise starts, named after the run it works on. */
export type SpanAttributes = {
  readonly "workflow.name": string;
  readonly "workflow.run_id": string;
  readonly "workflow.foreign_id": string;
  /** The status's name, as the builder's enum names it. */
  readonly "workflow.status": string;
  /** The run state's name: `Initiated`, `Running`, … */
  readonly "workflow.run_state": string;
};

/** What kind of work a span covers: the first word of its name. */
export type SpanKindName = "trigger" | "step" | "callback" | "timeout" | "hook";

/** A span stepwise asks a {@link Tracer} for. */
export interface SpanStart {
  /** `<kind> <status name>`: `step Created`, `timeout Created`, `hook Shipped`. */
  readonly name: string;
  readonly attributes: SpanAttributes;
  /** The trace the span continues: the event's (steps, hooks) or the run's (callbacks, timeouts). */
  readonly parent: TraceContext | undefined;
  /**
   * The work runs for a caller (`trigger`, `callback`), whose active context counts: without a
   * parent the span continues it; with one, a tracer may link it. Background processes leave this
   * false: whatever context was active when `run()` was called is no parent of their work.
   */
  readonly forCaller: boolean;
}

/**
 * Where stepwise reports its spans; `stepwise/otel` implements it on OpenTelemetry. A workflow
 * built without one makes no spans and pays nothing for them.
 *
 * @example
 * ```ts
 * import { otel } from "stepwise/otel";
 * const wf = b.build({ ...memory(), tracer: otel() });
 * ```
 */
export interface Tracer {
  /**
   * Runs `work` inside a new span and ends the span once `work` settles; an error it throws is
   * recorded on the span and thrown on. `work` is handed the span's trace context, which the
   * records it writes carry to the next process (undefined where the tracer makes none).
   */
  inSpan<R>(start: SpanStart, work: (trace: TraceContext | undefined) => Promise<R>): Promise<R>;
}

/** The event headers a record's trace context travels in. */
export const TraceHeaderKey = {
  traceParent: "traceparent",
  traceState: "tracestate",
} as const;
