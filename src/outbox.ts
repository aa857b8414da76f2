import { wallInterval } from "./clock.js";
import type { WorkflowContext } from "./context.js";
import type { EventSender } from "./event.js";
import { HeaderKey } from "./event.js";
import { roleName } from "./graph.js";
import { resolveOptions, type ProcessOptions } from "./options.js";
import type { ProcessSpec, Source } from "./process.js";
import type { OutboxEvent, RecordStore } from "./record.js";
import { readableRows } from "./readable-rows.js";
import { SetAsideRows } from "./set-aside.js";

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

/**
 * The process that moves outbox events to the event streamer, a batch at a time: the events of a
 * batch are sent together and deleted once sent. Their order does not matter, since every
 * consumer checks the record's version; a batch interrupted halfway is sent again, and the
 * duplicates are skipped the same way. When some sends fail, the events that were sent are
 * deleted before the process backs off, so the next try sends only the rest: a batch is never
 * all or nothing, which with a thousand events and a streamer failing now and then would never
 * get through. An outbox row the store cannot read is logged and set aside
 * ({@link SetAsideRows}), never deleted: the events behind it go on.
 */
export function outboxProcess<T>(ctx: WorkflowContext<T>, wake: Wake, options: ProcessOptions | undefined): ProcessSpec<OutboxEvent[]> {
  const resolved = resolveOptions(ctx.defaultOptions, options, "never");
  const senders = new Map<string, Promise<EventSender>>();
  const senderFor = (topic: string): Promise<EventSender> => {
    let sender = senders.get(topic);
    if (!sender) {
      sender = ctx.eventStreamer.newSender(topic);
      senders.set(topic, sender);
      // A sender that could not be made is asked for again next time.
      sender.catch(() => senders.delete(topic));
    }
    return sender;
  };
  return {
    name: "outbox-consumer",
    role: roleName(ctx.name, "outbox-consumer"),
    options: resolved,
    // The oldest event of the batch (listed oldest first): how far behind the outbox is.
    createdAt: (batch) => (batch[0] as OutboxEvent).createdAt,
    open: async (signal): Promise<Source<OutboxEvent[]>> => {
      signal.throwIfAborted();
      // Writes by other processes are only seen by polling; ours notify at once. The interval and
      // the abort listener live as long as the source, so waiting between batches allocates nothing.
      const stopPolling = wallInterval(resolved.pollingFrequency, () => wake.notify());
      const onAbort = () => wake.notify();
      signal.addEventListener("abort", onAbort, { once: true });
      const setAside = new SetAsideRows(ctx.logger, "outbox event");
      return {
        recv: async (recvSignal) => {
          for (;;) {
            recvSignal.throwIfAborted();
            // Room for the rows set aside at the last look, which come first again, as well as a batch.
            const limit = outboxBatchSize + setAside.size;
            const { rows: batch, malformed } = await readableRows(ctx.recordStore.listOutboxEvents(ctx.name, limit));
            setAside.note(malformed);
            if (batch.length > 0) {
              return { event: batch, ack: () => deleteAll(ctx.recordStore, batch) };
            }
            // A listing of nothing but unreadable rows may hide events behind them: look again, further.
            if (malformed.length < limit) await wake.wait();
          }
        },
        close: async () => {
          stopPolling();
          signal.removeEventListener("abort", onAbort);
          const open = [...senders.values()];
          senders.clear();
          await Promise.all(open.map(async (s) => (await s).close()));
        },
      };
    },
    handle: async (batch) => {
      const outcomes = await Promise.allSettled(
        batch.map(async (event) => {
          const sender = await senderFor(event.headers[HeaderKey.topic] ?? "");
          await sender.send(event.foreignId, event.type, event.headers);
        }),
      );
      const failure = outcomes.find((outcome) => outcome.status === "rejected");
      if (failure === undefined) return;
      await deleteAll(ctx.recordStore, batch.filter((_, i) => outcomes[i]?.status === "fulfilled"));
      throw failure.reason;
    },
  };
}

/** Deletes sent outbox events: in one go where the store can. */
async function deleteAll(store: RecordStore, batch: readonly OutboxEvent[]): Promise<void> {
  if (batch.length === 0) return;
  if (store.deleteOutboxEvents) await store.deleteOutboxEvents(batch.map((event) => event.id));
  else await Promise.all(batch.map((event) => store.deleteOutboxEvent(event.id)));
}
