export { otel } from "./otel-tracer.js";
export type { OtelOptions } from "./otel-tracer.js";
