import type { Logger } from "../../logger.js";
import type { PgClient, PgNotification, PgPool } from "./driver.js";

interface Listening {
  client: PgClient;
  /** Removes our listeners from the client. */
  detach(): void;
}

/**
 * One LISTEN connection shared by a streamer's receivers. Writers notify the channel with the
 * topic in the same transaction as the event, so a waiting receiver wakes on commit instead of
 * polling. The connection is checked out of the pool while any receiver is open and given back
 * when the last one closes; if it breaks, receivers fall back to polling until it is back.
 */
export class Notifier {
  readonly #pool: PgPool;
  readonly #channel: string;
  readonly #logger: Logger | undefined;
  readonly #byTopic = new Map<string, Set<() => void>>();
  readonly #anyTopic = new Set<() => void>();
  #users = 0;
  #client: Promise<Listening | undefined> | undefined;

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
    if (!listening) return;
    await listening.client.query(`UNLISTEN "${this.#channel}"`).catch(() => {});
    // Our listeners go before the client goes back: the pool hands it to someone else next.
    listening.detach();
    listening.client.release();
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
    let client: PgClient;
    try {
      client = await this.#pool.connect();
    } catch (err) {
      this.#logger?.error(err, { adapter: "postgres", listen: this.#channel });
      return undefined;
    }
    const onNotification = (message: PgNotification) => this.#notify(message.payload ?? "");
    const onError = (err: Error) => {
      this.#logger?.error(err, { adapter: "postgres", listen: this.#channel });
      detach();
      client.release(err);
      this.#client = undefined;
      this.#wakeAll();
    };
    const detach = () => {
      client.removeListener("notification", onNotification);
      client.removeListener("error", onError);
    };
    client.on("notification", onNotification);
    client.on("error", onError);
    try {
      await client.query(`LISTEN "${this.#channel}"`);
    } catch (err) {
      onError(err instanceof Error ? err : new Error(String(err)));
      return undefined;
    }
    return { client, detach };
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
