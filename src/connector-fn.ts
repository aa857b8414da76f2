import type { ConnectorEvent } from "./connector.js";
import type { StepContext } from "./run.js";
import type { Workflow } from "./workflow.js";

/** Handles one external event, typically by triggering a run or calling back. A throw retries it. */
export type ConnectorFn<T, S extends number> = (api: Workflow<T, S>, event: ConnectorEvent, ctx: StepContext) => Promise<void>;
