import type { WorkflowContext } from "./context.js";
import { HeaderKey, type Event, type EventStreamer } from "./event.js";
import type { ResolvedOptions } from "./options.js";
import type { ProcessSpec } from "./process.js";
import type { SkipReason } from "./skip.js";

/** What an event-consuming process needs: a topic, names, options and a handler. */
export interface TopicConsumer {
  topic: string;
  /** `states()` key; `-<k>-of-<n>` is appended when the consumer is sharded. */
  name: string;
  /** Role and receiver name; sharded like `name`. */
  role: string;
  /** Resolved by the process kind, which decides where its `lag` comes from. */
  options: ResolvedOptions;
  /** Shard by run id (`parallelCount`); processes that must see every event leave this off. */
  sharded: boolean;
  /** Another workflow's streamer, for connected workflows; this workflow's by default. */
  streamer?: EventStreamer;
  handle(event: Event, signal: AbortSignal): Promise<SkipReason | undefined>;
}

/** The processes that consume a topic: one per shard, each with its own role and receiver. */
export function topicConsumers<T>(ctx: WorkflowContext<T>, consumer: TopicConsumer): ProcessSpec<Event>[] {
  const { options } = consumer;
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
      describe: describeEvent,
      key: runIdOf,
      identity: eventIdOf,
    };
  });
}

function runIdOf(event: Event): string {
  return event.headers[HeaderKey.runId] ?? "";
}

function createdAtOf(event: Event): Date {
  return event.createdAt;
}

function describeEvent(event: Event): { eventId: string; runId: string; status: number } {
  return { eventId: event.id, runId: runIdOf(event), status: event.type };
}

function eventIdOf(event: Event): string {
  return event.id;
}
