import { encodedName } from "./topic.js";
import type { WorkflowContext } from "./context.js";
import type { Delivery } from "./event.js";
import { roleName } from "./graph.js";
import { resolveOptions, type ProcessOptions } from "./options.js";
import type { ProcessSpec } from "./process.js";
import type { StepContext } from "./run.js";

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

/**
 * A connector as the builder keeps it. `Api` is what its function is handed (the built workflow,
 * see `ConnectorFn`), left open here so the processes need not know the Workflow class.
 */
export interface ConnectorDefinition<Api> {
  name: string;
  constructor: ConnectorConstructor;
  fn: (api: Api, event: ConnectorEvent, ctx: StepContext) => Promise<void>;
  options: ProcessOptions;
}

/** One process per shard; events are split by the hash of their id. */
export function connectorProcesses<T, Api>(
  ctx: WorkflowContext<T>,
  connector: ConnectorDefinition<Api>,
  api: Api,
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
