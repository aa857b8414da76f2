import type { MalformedRow } from "./errors.js";
import { errorText, type Logger } from "./logger.js";

/**
 * Stored rows a polling process (the outbox, a timeout poller) keeps meeting and cannot read. They
 * are left where they are: deleting an event or a timeout because this process cannot read it would
 * lose it for good, where an operator can mend the row, or the setting that made every row
 * unreadable; retrying it would hold back every row behind it. So each is logged once, when first
 * met, and passed over while it stays unreadable; a row that reads again is handled like any other.
 */
export class SetAsideRows {
  readonly #logger: Logger;
  readonly #what: string;
  #ids = new Set<string>();

  /** `what` names the rows in the log: "outbox event", "timeout". */
  constructor(logger: Logger, what: string) {
    this.#logger = logger;
    this.#what = what;
  }

  /** Takes the rows a listing could not read: logs those the last listing did not meet, and sets them all aside. */
  note(malformed: readonly MalformedRow[]): void {
    const before = this.#ids;
    this.#ids = new Set(malformed.map((row) => row.id));
    for (const { id, error } of malformed) {
      if (before.has(id)) continue;
      this.#logger.error(`${this.#what} ${id} cannot be read; it is left in the store and passed over: ${errorText(error)}`, { id, runId: error.runId, err: error });
    }
  }

  /** How many rows the last listing set aside. */
  get size(): number {
    return this.#ids.size;
  }
}
