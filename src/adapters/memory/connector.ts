import type { ConnectorConstructor, ConnectorConsumer, ConnectorEvent } from "../../connector.js";
import { LogReader } from "./event-receiver.js";
import { TopicLog } from "./topic-log.js";

/**
 * An in-process {@link ConnectorConstructor} over a list of events held in memory: the external
 * stream a workflow's `addConnector` reads, for tests, examples and fixtures. Events given to the
 * constructor or to {@link MemoryConnector.add} are handed out in that order; a waiting consumer is
 * woken by `add` directly, without polling.
 *
 * Each consumer name is a durable position for the life of this object: a consumer made later
 * with the same name resumes after the last event that name acked, so an event received but not
 * acked is delivered again. A new name starts at the first event. Every event is kept for the life
 * of the connector, because any name, old or new, may still ask for it (a workflow's shards use one
 * name each and may open at different times).
 *
 * Events are copied on the way in and on the way out, so neither the caller nor a consumer can
 * change what the connector holds.
 *
 * @example
 * ```ts
 * import { MemoryConnector, memory } from "stepwise/memory";
 * const payments = new MemoryConnector([
 *   { id: "evt-1", foreignId: "order-1", type: "payment.settled", headers: {}, createdAt: new Date() },
 * ]);
 * b.addConnector("payments", payments, async (api, event) => {
 *   await api.trigger(event.foreignId, { initialValue: { id: event.foreignId, amount: 10 } });
 * });
 * const wf = b.build(memory());
 * await wf.run();
 * payments.add({ id: "evt-2", foreignId: "order-2", type: "payment.settled", headers: {}, createdAt: new Date() });
 * ```
 */
export class MemoryConnector implements ConnectorConstructor {
  /** Every event added, never dropped (see above), and each consumer name's cursor: the index of the first event it has not acked. */
  private readonly log = new TopicLog<ConnectorEvent>("all");

  /** Starts the stream with `events` (copied), in order. */
  constructor(events: readonly ConnectorEvent[] = []) {
    this.add(...events);
  }

  /** Appends `events` (copied) to the stream, in order, and wakes every consumer waiting for one. */
  add(...events: ConnectorEvent[]): void {
    for (const event of events) this.log.append(copyEvent(event));
  }

  /**
   * A consumer under the durable name `consumerName`: it starts after the last event that name
   * acked, or at the first event for a name not seen before.
   */
  async make(consumerName: string): Promise<ConnectorConsumer> {
    // Unlike an event receiver, a consumer takes its abort listener off the signal when recv settles.
    return new LogReader(this.log, consumerName, this.log.open(consumerName, false), {
      label: `memory connector consumer "${consumerName}"`,
      copy: copyEvent,
    });
  }
}

function copyEvent(event: ConnectorEvent): ConnectorEvent {
  return {
    id: event.id,
    foreignId: event.foreignId,
    type: event.type,
    headers: { ...event.headers },
    createdAt: new Date(event.createdAt.getTime()),
  };
}
