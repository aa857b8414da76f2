import { randomUUID } from "node:crypto";
import { systemClock } from "../../clock.js";
import { errorText, type Logger } from "../../logger.js";
import { checkOut, type PgClient, type PgNotification, type PgPool } from "./driver.js";

interface Listening {
  client: PgClient;
  /** Removes our listeners from the client. */
  detach(): void;
  /** Whether the connection broke: it was released (with its error) then and must not be again. */
  isLost(): boolean;
}

/** How long topics gather before one NOTIFY tells other processes of them all. */
const notifyEveryMs = 2;

/** Separates the topic from the publishing notifier's id in a payload. */
const separator = "\u001f";

/**
 * Wakes receivers when events are written, within this process at once and in other processes
 * through LISTEN/NOTIFY.
 *
 * Writers publish after their transaction committed, not inside it: PostgreSQL serialises the
 * commits of transactions that ran NOTIFY, which would make every store wait for the previous
 * one's disk flush. Topics published while a NOTIFY is on its way are sent together in the next.
 *
 * The LISTEN connection is checked out of the pool while any receiver is open and given back when
 * the last one closes; if it breaks, receivers fall back to polling until it is back.
 */
export class Notifier {
  readonly #pool: PgPool;
  readonly #channel: string;
  readonly #logger: Logger | undefined;
  readonly #byTopic = new Map<string, Set<() => void>>();
  readonly #anyTopic = new Set<() => void>();
  readonly #id = randomUUID();
  #users = 0;
  #client: Promise<Listening | undefined> | undefined;
  /** Topics to NOTIFY other processes of, and whether a NOTIFY is on its way. */
  #unsent = new Set<string>();
  #sending = false;

  constructor(pool: PgPool, channel: string, logger?: Logger) {
    this.#pool = pool;
    this.#channel = channel;
    this.#logger = logger;
  }

  /** A receiver opened: make sure the channel is listened to. */
  acquire(): void {
    this.#users++;
    this.#listen();
  }

  /** A receiver closed: stop listening once none is left. */
  async release(): Promise<void> {
    this.#users--;
    if (this.#users > 0 || !this.#client) return;
    const pending = this.#client;
    this.#client = undefined;
    const listening = await pending;
    if (!listening || listening.isLost()) return;
    await listening.client.query(`UNLISTEN "${this.#channel}"`).catch(() => {});
    // The connection may have broken during UNLISTEN: then it went back to the pool with its error.
    if (listening.isLost()) return;
    // Our listeners go before the client goes back: the pool hands it to someone else next.
    listening.detach();
    listening.client.release();
  }

  /** Events were committed on `topic`: wake this process's receivers now and tell the others. */
  publish(topic: string): void {
    this.#notify(topic);
    this.#unsent.add(topic);
    if (!this.#sending) void this.#send();
  }

  async #send(): Promise<void> {
    this.#sending = true;
    try {
      while (this.#unsent.size > 0) {
        // Other processes hear of new events a moment later, in one NOTIFY for many commits:
        // under load, one NOTIFY per store would double the statements the database runs.
        await systemClock.sleep(notifyEveryMs);
        const payloads = [...this.#unsent].map((topic) => topic + separator + this.#id);
        this.#unsent = new Set();
        await this.#pool
          .query("SELECT count(pg_notify($1, payload)) FROM unnest($2::text[]) AS payload", [this.#channel, payloads])
          .catch((err: unknown) => this.#logger?.error(`postgres: NOTIFY on ${this.#channel} failed: ${errorText(err)}`, { adapter: "postgres", notify: this.#channel, err }));
      }
    } finally {
      this.#sending = false;
    }
  }

  /**
   * Calls `wake` once, on the next notification for `topic` (or for any topic with `anyTopic`,
   * for a receiver held back by an older transaction that may belong to another topic).
   * Returns the function that cancels it.
   */
  onNext(topic: string, anyTopic: boolean, wake: () => void): () => void {
    this.#listen();
    if (anyTopic) {
      this.#anyTopic.add(wake);
      return () => this.#anyTopic.delete(wake);
    }
    let waiting = this.#byTopic.get(topic);
    if (!waiting) {
      waiting = new Set();
      this.#byTopic.set(topic, waiting);
    }
    const set = waiting;
    set.add(wake);
    return () => set.delete(wake);
  }

  #listen(): void {
    if (this.#client || this.#users === 0) return;
    const connecting = this.#connect();
    this.#client = connecting;
    connecting.then((client) => {
      // Could not connect: forget the attempt so the next wait tries again; polling covers the gap.
      if (!client && this.#client === connecting) this.#client = undefined;
    }, () => {});
  }

  async #connect(): Promise<Listening | undefined> {
    let client: PgClient | undefined;
    const onNotification = (message: PgNotification) => {
      const [topic = "", from] = (message.payload ?? "").split(separator);
      // Our own publications woke our receivers already.
      if (from !== this.#id) this.#notify(topic);
    };
    const onError = (err: Error) => {
      if (!client || lost) return;
      lost = true;
      this.#logger?.error(`postgres: LISTEN on ${this.#channel} failed: ${errorText(err)}`, { adapter: "postgres", listen: this.#channel, err });
      detach();
      // A dead connection may report more errors as it closes; nobody else listens to it now.
      client.on("error", () => {});
      client.release(err);
      this.#client = undefined;
      this.#wakeAll();
    };
    let lost = false;
    const detach = () => {
      client?.removeListener("notification", onNotification);
      client?.removeListener("error", onError);
    };
    try {
      client = await checkOut(this.#pool, onError);
    } catch (err) {
      this.#logger?.error(`postgres: LISTEN on ${this.#channel} failed: ${errorText(err)}`, { adapter: "postgres", listen: this.#channel, err });
      return undefined;
    }
    client.on("notification", onNotification);
    try {
      await client.query(`LISTEN "${this.#channel}"`);
    } catch (err) {
      onError(err instanceof Error ? err : new Error(String(err)));
      return undefined;
    }
    if (lost) return undefined;
    return { client, detach, isLost: () => lost };
  }

  #notify(topic: string): void {
    const waiting = this.#byTopic.get(topic);
    if (waiting?.size) {
      const wakers = [...waiting];
      waiting.clear();
      for (const wake of wakers) wake();
    }
    if (this.#anyTopic.size) {
      const wakers = [...this.#anyTopic];
      this.#anyTopic.clear();
      for (const wake of wakers) wake();
    }
  }

  /** After a lost connection nobody knows what was missed: everyone looks again. */
  #wakeAll(): void {
    for (const topic of this.#byTopic.keys()) this.#notify(topic);
    this.#notify("");
  }
}
