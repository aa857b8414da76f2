import { wallInterval } from "./clock.js";
import type { WorkflowContext } from "./context.js";
import type { EventSender } from "./event.js";
import { HeaderKey } from "./event.js";
import { roleName } from "./graph.js";
import { resolveOptions, type ProcessOptions } from "./options.js";
import type { ProcessSpec, Source } from "./process.js";
import type { OutboxEvent } from "./record.js";

/** How many outbox events one look at the store takes. */
const outboxBatchSize = 1000;

/**
 * Wakes a waiting poller. The outbox polls its store, but a write made by this same process says
 * there is work at once, so a hop in one process costs no polling interval.
 */
export class Wake {
  #pending = false;
  #resolve: (() => void) | undefined;

  notify(): void {
    this.#pending = true;
    const resolve = this.#resolve;
    this.#resolve = undefined;
    resolve?.();
  }

  /** Resolves on the next notify, or at once if one came since the last wait. */
  async wait(): Promise<void> {
    if (!this.#pending) await new Promise<void>((resolve) => (this.#resolve = resolve));
    this.#pending = false;
  }
}

/** The process that moves outbox events to the event streamer and deletes each once it is sent. */
export function outboxProcess<T>(ctx: WorkflowContext<T>, wake: Wake, options: ProcessOptions | undefined): ProcessSpec<OutboxEvent> {
  const resolved = resolveOptions(ctx.defaultOptions, options);
  const senders = new Map<string, EventSender>();
  const newSender = async (topic: string): Promise<EventSender> => {
    const sender = await ctx.eventStreamer.newSender(topic);
    senders.set(topic, sender);
    return sender;
  };
  return {
    name: "outbox-consumer",
    role: roleName(ctx.name, "outbox-consumer"),
    options: resolved,
    open: async (signal): Promise<Source<OutboxEvent>> => {
      signal.throwIfAborted();
      // Writes by other processes are only seen by polling; ours notify at once. The interval and
      // the abort listener live as long as the source, so waiting between events allocates nothing.
      const stopPolling = wallInterval(resolved.pollingFrequency, () => wake.notify());
      const onAbort = () => wake.notify();
      signal.addEventListener("abort", onAbort, { once: true });
      let batch: OutboxEvent[] = [];
      let next = 0;
      return {
        recv: async (recvSignal) => {
          while (batch.length === 0) {
            recvSignal.throwIfAborted();
            batch = await ctx.recordStore.listOutboxEvents(ctx.name, outboxBatchSize);
            if (batch.length === 0) await wake.wait();
          }
          const event = batch[next++] as OutboxEvent;
          if (next === batch.length) {
            batch = [];
            next = 0;
          }
          return { event, ack: () => ctx.recordStore.deleteOutboxEvent(event.id) };
        },
        close: async () => {
          stopPolling();
          signal.removeEventListener("abort", onAbort);
          const open = [...senders.values()];
          senders.clear();
          await Promise.all(open.map((s) => s.close()));
        },
      };
    },
    handle: async (event) => {
      const topic = event.headers[HeaderKey.topic] ?? "";
      const sender = senders.get(topic) ?? (await newSender(topic));
      await sender.send(event.foreignId, event.type, event.headers);
    },
  };
}
