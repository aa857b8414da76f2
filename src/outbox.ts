import { wallTimer } from "./clock.js";
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
 * Wakes a waiting poller early. The outbox polls its store, but a write made by this same
 * process says there is work at once, so a hop in one process costs no polling interval.
 */
export class Wake {
  #pending = false;
  #resolve: (() => void) | undefined;

  notify(): void {
    this.#pending = true;
    this.#resolve?.();
  }

  /** Resolves on a notify (also one that came before the call) or after `ms` of wall-clock time. */
  async wait(ms: number, signal: AbortSignal): Promise<void> {
    if (this.#pending) {
      this.#pending = false;
      return;
    }
    let cancelTimer: (() => void) | undefined;
    let onAbort: (() => void) | undefined;
    try {
      await new Promise<void>((resolve) => {
        this.#resolve = resolve;
        onAbort = resolve;
        signal.addEventListener("abort", onAbort, { once: true });
        cancelTimer = wallTimer(ms, resolve);
      });
    } finally {
      cancelTimer?.();
      if (onAbort) signal.removeEventListener("abort", onAbort);
      this.#resolve = undefined;
      this.#pending = false;
    }
    signal.throwIfAborted();
  }
}

/** The process that moves outbox events to the event streamer and deletes each once it is sent. */
export function outboxProcess<T>(ctx: WorkflowContext<T>, wake: Wake, options: ProcessOptions | undefined): ProcessSpec<OutboxEvent> {
  const resolved = resolveOptions(ctx.defaultOptions, options);
  const senders = new Map<string, EventSender>();
  const senderFor = async (topic: string): Promise<EventSender> => {
    let sender = senders.get(topic);
    if (!sender) {
      sender = await ctx.eventStreamer.newSender(topic);
      senders.set(topic, sender);
    }
    return sender;
  };
  return {
    name: "outbox-consumer",
    role: roleName(ctx.name, "outbox-consumer"),
    options: resolved,
    open: async (signal): Promise<Source<OutboxEvent>> => {
      signal.throwIfAborted();
      let batch: OutboxEvent[] = [];
      let next = 0;
      return {
        recv: async (recvSignal) => {
          while (batch.length === 0) {
            batch = await ctx.recordStore.listOutboxEvents(ctx.name, outboxBatchSize);
            if (batch.length === 0) await wake.wait(resolved.pollingFrequency, recvSignal);
          }
          const event = batch[next++] as OutboxEvent;
          if (next === batch.length) {
            batch = [];
            next = 0;
          }
          return { event, ack: () => ctx.recordStore.deleteOutboxEvent(event.id) };
        },
        close: async () => {
          const open = [...senders.values()];
          senders.clear();
          await Promise.all(open.map((s) => s.close()));
        },
      };
    },
    handle: async (event) => {
      const sender = await senderFor(event.headers[HeaderKey.topic] ?? "");
      await sender.send(event.foreignId, event.type, event.headers);
    },
  };
}
