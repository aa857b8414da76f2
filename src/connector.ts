import { encodedName } from "./topic.js";
import type { WorkflowContext } from "./context.js";
import type { Delivery } from "./event.js";
import { roleName } from "./graph.js";
import { resolveOptions, type ProcessOptions } from "./options.js";
import type { ProcessSpec } from "./process.js";
import type { StepContext } from "./run.js";
import type { Workflow } from "./workflow.js";

/** An event from outside stepwise, as a connector hands it out. */
export interface ConnectorEvent {
  id: string;
  foreignId: string;
  type: string;
  headers: { [key: string]: string };
  createdAt: Date;
}

/** Reads an external stream under a durable consumer name; like an EventReceiver. */
export interface ConnectorConsumer {
  recv(signal: AbortSignal): Promise<Delivery<ConnectorEvent>>;
  close(): Promise<void>;
}

/** Makes a consumer of the external stream; `consumerName` keeps its position. */
export interface ConnectorConstructor {
  make(consumerName: string): Promise<ConnectorConsumer>;
}

/** Handles one external event, typically by triggering a run or calling back. A throw retries it. */
export type ConnectorFn<T, S extends number> = (api: Workflow<T, S>, event: ConnectorEvent, ctx: StepContext) => Promise<void>;

export interface ConnectorDefinition<T> {
  name: string;
  constructor: ConnectorConstructor;
  fn: ConnectorFn<T, number>;
  options: ProcessOptions;
}

/** One process per shard; events are split by the hash of their id. */
export function connectorProcesses<T>(
  ctx: WorkflowContext<T>,
  connector: ConnectorDefinition<T>,
  api: Workflow<T, number>,
): ProcessSpec<ConnectorEvent>[] {
  const options = resolveOptions(ctx.defaultOptions, connector.options, "own");
  const count = options.parallelCount;
  const workflow = ctx.name.toLowerCase().replaceAll(" ", "_");
  const connectorName = connector.name.toLowerCase().replaceAll(" ", "_");
  return Array.from({ length: count }, (_, i) => {
    const shard = `${i + 1}-of-${count}`;
    const role = roleName(ctx.name, encodedName(connector.name), "connector-consumer", shard);
    return {
      name: `${connectorName}-connector-to-${workflow}-consumer-${shard}`,
      role,
      options,
      shard: { index: i + 1, count, key: (event: ConnectorEvent) => event.id },
      createdAt: (event: ConnectorEvent) => event.createdAt,
      open: (signal) => {
        signal.throwIfAborted();
        return connector.constructor.make(role);
      },
      handle: (event, signal) => connector.fn(api, event, { signal, logger: ctx.logger, clock: ctx.clock }),
    };
  });
}
