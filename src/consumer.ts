import type { WorkflowContext } from "./context.js";
import { HeaderKey, type Event, type EventStreamer } from "./event.js";
import { resolveOptions, type ProcessOptions } from "./options.js";
import type { ProcessSpec } from "./process.js";

/** What an event-consuming process needs: a topic, names, options and a handler. */
export interface TopicConsumer {
  topic: string;
  /** `states()` key; `-<k>-of-<n>` is appended when the consumer is sharded. */
  name: string;
  /** Role and receiver name; sharded like `name`. */
  role: string;
  options: ProcessOptions | undefined;
  /** Shard by run id (`parallelCount`); processes that must see every event leave this off. */
  sharded: boolean;
  /** Another workflow's streamer, for connected workflows; this workflow's by default. */
  streamer?: EventStreamer;
  handle(event: Event, signal: AbortSignal): Promise<void>;
}

/** The processes that consume a topic: one per shard, each with its own role and receiver. */
export function topicConsumers<T>(ctx: WorkflowContext<T>, consumer: TopicConsumer): ProcessSpec<Event>[] {
  const options = resolveOptions(ctx.defaultOptions, consumer.options);
  const count = consumer.sharded ? options.parallelCount : 1;
  const streamer = consumer.streamer ?? ctx.eventStreamer;
  return Array.from({ length: count }, (_, i): ProcessSpec<Event> => {
    const shard = consumer.sharded ? `-${i + 1}-of-${count}` : "";
    const role = consumer.role + shard;
    return {
      name: consumer.name + shard,
      role,
      options,
      shard: consumer.sharded ? { index: i + 1, count, key: runIdOf } : undefined,
      createdAt: createdAtOf,
      open: (signal) => {
        signal.throwIfAborted();
        return streamer.newReceiver(consumer.topic, role, { pollingFrequency: options.pollingFrequency });
      },
      handle: consumer.handle,
    };
  });
}

function runIdOf(event: Event): string {
  return event.headers[HeaderKey.runId] ?? "";
}

function createdAtOf(event: Event): Date {
  return event.createdAt;
}
