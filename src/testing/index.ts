export { FakeClock } from "./fake-clock.js";
export { requireStatus } from "./require-status.js";
export { waitFor } from "./wait-for.js";
export { triggerCallbackOn } from "./trigger-callback-on.js";
export { awaitTimeoutInsert } from "./await-timeout-insert.js";
export { newTestingRun } from "./new-testing-run.js";
export { newTestingContext } from "./new-testing-context.js";
