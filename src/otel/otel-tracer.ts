import { context, ROOT_CONTEXT, SpanStatusCode, trace, type Context, type Link, type Span, type TextMapGetter, type TextMapSetter, type Tracer as OtelTracer } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { errorText } from "../logger.js";
import { TraceHeaderKey, type SpanStart, type TraceContext, type Tracer } from "../tracer.js";

/** Options of {@link otel}. */
export interface OtelOptions {
  /** Where the spans go. Default: `trace.getTracer("stepwise")` of the registered tracer provider. */
  tracer?: OtelTracer;
}

/**
 * A {@link Tracer} on OpenTelemetry: each trigger, step, callback, timeout and hook is a span, and
 * the user's code runs with that span active, so its own spans nest below it.
 *
 * Events and records carry the trace context in W3C Trace Context form (`traceparent`,
 * `tracestate`) whatever propagator the application registered: stepwise both writes and reads
 * them, so its format is fixed, and a run is one trace across processes and restarts.
 *
 * @example
 * ```ts
 * import { otel } from "stepwise/otel";
 * const wf = b.build({ ...postgres({ pool }), tracer: otel() });
 * ```
 */
export function otel(options: OtelOptions = {}): Tracer {
  const tracer = options.tracer ?? trace.getTracer("stepwise");
  const propagator = new W3CTraceContextPropagator();
  return {
    inSpan<R>(start: SpanStart, work: (trace: TraceContext | undefined) => Promise<R>): Promise<R> {
      let parent: Context;
      let links: Link[] | undefined;
      if (start.parent === undefined) {
        parent = start.forCaller ? context.active() : ROOT_CONTEXT;
      } else {
        parent = propagator.extract(ROOT_CONTEXT, start.parent, traceContextGetter);
        // The run's trace is the parent; the caller's span (a webhook's request) is linked to it.
        if (start.forCaller) links = linkTo(context.active());
      }
      const span = tracer.startSpan(start.name, { attributes: start.attributes, links }, parent);
      const active = trace.setSpan(parent, span);
      const carrier: Carrier = {};
      propagator.inject(active, carrier, carrierSetter);
      const own = carrier.traceparent === undefined ? undefined : { traceParent: carrier.traceparent, traceState: carrier.tracestate };
      // Settled with then() rather than inside an async function: each await would add turns of
      // the microtask queue to every step.
      let working: Promise<R>;
      try {
        working = context.with(active, work, undefined, own);
      } catch (err) {
        failed(span, err);
        throw err;
      }
      return working.then(
        (value) => {
          span.end();
          return value;
        },
        (err: unknown) => {
          failed(span, err);
          throw err;
        },
      );
    },
  };
}

/** Records the error on the span, and ends it. */
function failed(span: Span, err: unknown): void {
  span.recordException(err instanceof Error ? err : String(err));
  span.setStatus({ code: SpanStatusCode.ERROR, message: errorText(err) });
  span.end();
}

/** What the W3C propagator writes: the two headers of a trace context. */
interface Carrier {
  traceparent?: string;
  tracestate?: string;
}

const carrierSetter: TextMapSetter<Carrier> = {
  set: (carrier, key, value) => {
    if (key === TraceHeaderKey.traceParent) carrier.traceparent = value;
    else if (key === TraceHeaderKey.traceState) carrier.tracestate = value;
  },
};

const traceContextGetter: TextMapGetter<TraceContext> = {
  keys: () => [TraceHeaderKey.traceParent, TraceHeaderKey.traceState],
  get: (carrier, key) => {
    if (key === TraceHeaderKey.traceParent) return carrier.traceParent;
    if (key === TraceHeaderKey.traceState) return carrier.traceState;
    return undefined;
  },
};

/** A link to the caller's span, when the caller is in one. */
function linkTo(caller: Context): Link[] | undefined {
  const spanContext = trace.getSpanContext(caller);
  return spanContext !== undefined && trace.isSpanContextValid(spanContext) ? [{ context: spanContext }] : undefined;
}
