export { prometheus } from "./prometheus-metrics.js";
export type { PrometheusOptions } from "./prometheus-metrics.js";
