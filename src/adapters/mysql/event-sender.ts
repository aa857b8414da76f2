import type { Clock } from "../../clock.js";
import type { EventSender, Headers } from "../../event.js";
import { inTransaction, type MysqlPool } from "./driver.js";
import { appendEvent } from "./event-log.js";
import type { Notifier } from "./notifier.js";
import type { MysqlTables } from "./schema.js";

/** Publishes on one topic of a {@link MysqlEventStreamer}. Made by `newSender`. */
export class MysqlEventSender implements EventSender {
  private closed = false;

  constructor(
    private readonly pool: MysqlPool,
    private readonly tables: MysqlTables,
    private readonly notifier: Notifier,
    private readonly clock: Clock,
    private readonly topic: string,
  ) {}

  /**
   * Appends the event to the events table in a transaction of its own (holding the events lock
   * for its INSERT and COMMIT, see `event-log.ts`). Rejects once the sender is closed.
   */
  async send(foreignId: string, type: number, headers: Headers): Promise<void> {
    if (this.closed) throw new Error(`mysql event sender for topic "${this.topic}" is closed: cannot send`);
    const event = { topic: this.topic, foreignId, type, headers, createdAt: this.clock.now() };
    await inTransaction(this.pool, (connection) => appendEvent(connection, this.tables, event));
    this.notifier.notify(this.topic);
  }

  /** Refuses later sends. Holds no connection between sends, so there is nothing else to release. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
  }
}
