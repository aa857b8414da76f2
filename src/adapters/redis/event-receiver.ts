import { untilAborted } from "../../abort.js";
import type { Delivery, Event, EventReceiver } from "../../event.js";
import { ClosedError } from "../../errors.js";
import type { RedisClient, RedisConnection } from "./driver.js";
import { isReplyError, isReplyErrorWith, RedisCommandError } from "./errors.js";
import { readReplyEntries, toEvent, type StreamEntry } from "./stream-entry.js";
import { atMost } from "./waits.js";

/**
 * Every receiver of a group reads as this one consumer. Whatever an earlier receiver of the same
 * name was handed and did not ack (it was closed, its process crashed, its connection broke) is
 * therefore pending on the consumer the next receiver reads as, and comes again first, at once:
 * nothing waits for a dead consumer's entries to go idle before claiming them.
 */
export const consumerName = "stepwise";

/** How long `close` waits for its last acks to reach the server. */
const closeAckWaitMs = 2000;

/** Creates the consumer group `group` on `key` at `startId` unless it exists; the stream is created if needed. */
export async function createGroup(client: RedisClient, key: string, group: string, startId: "$" | "0"): Promise<void> {
  try {
    await client.call("XGROUP", "CREATE", key, group, startId, "MKSTREAM");
  } catch (err) {
    // The group exists: it keeps its position, whatever startId says.
    if (isReplyErrorWith(err, "BUSYGROUP")) return;
    throw new RedisCommandError("XGROUP CREATE", key, { cause: err });
  }
}

/** Options of {@link RedisEventReceiver}; `newReceiver` fills them in. */
export interface RedisEventReceiverOptions {
  /** The user's client: the last acks go there on close, when a blocking read may hold the receiver's own connection. */
  client: RedisClient;
  /** The stream key and the topic it holds. */
  key: string;
  topic: string;
  /** The receiver's name: its consumer group. */
  group: string;
  /** How long one blocking read waits on the server, in ms. */
  blockMs: number;
  /** How many entries one read takes. */
  batchSize: number;
  /**
   * Destroy the group on close: the receiver is ephemeral and the group its own. Such a group,
   * should it vanish, is made again at the end of the stream, not its start.
   */
  destroyOnClose?: boolean;
  /** Called once acks reached the server: the streamer's trim of the stream, at most once per interval. Never rejects. */
  afterAck?: () => Promise<void>;
}

/**
 * Reads one stream of a {@link RedisEventStreamer} as a consumer group: XREADGROUP with BLOCK on a
 * connection of its own (duplicated from the user's client), which it disconnects on close. Made
 * by `newReceiver`.
 *
 * - On open, and after its connection broke, it first reads the group's pending entries (id "0"),
 *   then new ones (">"). A read in flight when a connection breaks may have been delivered by the
 *   server with its reply lost; reading the pending entries again finds it.
 * - `recv` rejects with the signal's reason as soon as the signal aborts. A blocking read still in
 *   flight then is not cancelled: what it brings is kept for the next `recv`, so nothing is lost.
 *   `close` disconnects the connection, which ends such a read at once.
 * - Acks are sent in batches, with the next read (in its round trip) and on close: an ack costs no
 *   round trip of its own. A crash loses at most the acks since the last read, and those events
 *   come again, which the engine's version checks make harmless.
 * - If the stream or the group disappears (a server restarted without its data, someone deleted
 *   the key), the group is created again at the start of the stream, so nothing sent since is missed.
 */
export class RedisEventReceiver implements EventReceiver {
  readonly #client: RedisClient;
  readonly #connection: RedisConnection;
  readonly #key: string;
  readonly #topic: string;
  readonly #group: string;
  readonly #blockMs: number;
  readonly #batchSize: number;
  readonly #destroyOnClose: boolean;
  readonly #afterAck: (() => Promise<void>) | undefined;
  /** Aborts on close, ending any `recv` that waits. */
  readonly #closing = new AbortController();
  #buffer: Event[] = [];
  /** The read in flight, shared by every `recv` until it lands in the buffer. */
  #filling: Promise<void> | undefined;
  /** Where the next read of pending entries starts; undefined once they are all read. */
  #pendingFrom: string | undefined = "0";
  /** Acked ids not yet sent to the server. */
  #acks: string[] = [];
  /** Counts the times the connection broke: a read that spans one may have lost entries. */
  #breaks = 0;

  constructor(options: RedisEventReceiverOptions) {
    this.#client = options.client;
    this.#key = options.key;
    this.#topic = options.topic;
    this.#group = options.group;
    this.#blockMs = options.blockMs;
    this.#batchSize = options.batchSize;
    this.#destroyOnClose = options.destroyOnClose ?? false;
    this.#afterAck = options.afterAck;
    this.#connection = options.client.duplicate({
      // Commands wait for the server to come back (recv still ends on abort) and a read in flight
      // when the connection broke is sent again after it reconnects.
      maxRetriesPerRequest: null,
      enableOfflineQueue: true,
      autoResendUnfulfilledCommands: true,
    });
    // ioredis reconnects by itself; an 'error' nobody listened to would end the process.
    this.#connection.on("error", ignore);
    this.#connection.on("close", () => this.#breaks++);
  }

  async recv(signal: AbortSignal): Promise<Delivery<Event>> {
    for (;;) {
      if (this.#closing.signal.aborted) throw this.#closedError();
      signal.throwIfAborted();
      const event = this.#buffer.shift();
      if (event) return { event, ack: () => this.#ack(event.id) };
      if (!this.#filling) {
        const filling = this.#fill().finally(() => {
          if (this.#filling === filling) this.#filling = undefined;
        });
        // A read whose recv gave up fails unobserved; the next recv reads again.
        filling.catch(ignore);
        this.#filling = filling;
      }
      try {
        await untilAborted(this.#filling, signal, this.#closing.signal);
      } catch (err) {
        // A close ends the wait quietly: the loop turns it into the closed error.
        if (!this.#closing.signal.aborted || signal.aborted) throw err;
      }
    }
  }

  async close(): Promise<void> {
    if (this.#closing.signal.aborted) return;
    this.#closing.abort();
    try {
      // Not waited for long when the server is down: lost acks only mean their events come again;
      // an ephemeral group left behind is destroyed by a later trim once it has been idle.
      await atMost(closeAckWaitMs, this.#destroyOnClose ? this.#destroyGroup() : this.#flushAcks().then(() => this.#afterAck?.()));
    } finally {
      // Not QUIT: it would wait behind a blocking read. What a read in flight was handed stays
      // pending for the group and is read again by the next receiver.
      this.#connection.disconnect();
    }
  }

  async #destroyGroup(): Promise<void> {
    this.#acks = [];
    await this.#client.call("XGROUP", "DESTROY", this.#key, this.#group).catch((err: unknown) => {
      throw new RedisCommandError("XGROUP DESTROY", this.#key, { cause: err });
    });
  }

  async #ack(id: string): Promise<void> {
    // An ephemeral group is gone once closed: nobody is left to read the event again.
    if (this.#closing.signal.aborted && this.#destroyOnClose) return;
    if (this.#closing.signal.aborted) {
      await this.#client.call("XACK", this.#key, this.#group, id).catch((err: unknown) => {
        throw new RedisCommandError("XACK", this.#key, { cause: err });
      });
      return;
    }
    this.#acks.push(id);
  }

  async #flushAcks(): Promise<void> {
    if (this.#acks.length === 0) return;
    const ids = this.#acks;
    this.#acks = [];
    try {
      await this.#client.call("XACK", this.#key, this.#group, ...ids);
    } catch (err) {
      this.#acks = ids.concat(this.#acks);
      throw new RedisCommandError("XACK", this.#key, { cause: err });
    }
  }

  /** Sends the acks on the reading connection; ids of a failed ack wait for the next read. Never rejects. */
  #sendAcks(): Promise<void> | undefined {
    if (this.#acks.length === 0) return undefined;
    const ids = this.#acks;
    this.#acks = [];
    return this.#connection.call("XACK", this.#key, this.#group, ...ids).then(
      () => {},
      () => {
        this.#acks = ids.concat(this.#acks);
      },
    );
  }

  /** Reads until the buffer holds events; returns early, empty-handed, once closed. */
  async #fill(): Promise<void> {
    while (!this.#closing.signal.aborted) {
      const breaks = this.#breaks;
      try {
        // Acks go out on this connection just ahead of the read, in the same round trip; the
        // server handles them first, so a read of pending entries does not see them again.
        const acking = this.#sendAcks();
        const pendingFrom = this.#pendingFrom;
        const reply =
          pendingFrom === undefined
            ? await this.#connection.call("XREADGROUP", "GROUP", this.#group, consumerName, "COUNT", this.#batchSize, "BLOCK", this.#blockMs, "STREAMS", this.#key, ">")
            : await this.#connection.call("XREADGROUP", "GROUP", this.#group, consumerName, "COUNT", this.#batchSize, "STREAMS", this.#key, pendingFrom);
        await acking;
        // Trimming reads the groups' positions, so it follows acks that reached the server.
        if (acking !== undefined) await this.#afterAck?.();
        if (this.#breaks !== breaks) {
          // The connection broke during the read: what the server handed out before is pending
          // with its reply lost. Start again from the pending entries, which include this reply's.
          this.#restartFromPending();
          continue;
        }
        const entries = readReplyEntries(reply);
        if (pendingFrom !== undefined) {
          const last = entries.at(-1);
          this.#pendingFrom = last?.id;
        }
        if (this.#take(entries)) return;
      } catch (err) {
        if (this.#closing.signal.aborted) return;
        await this.#recover(err);
      }
    }
  }

  /** Buffers the entries' events; says whether there is anything to hand out. */
  #take(entries: StreamEntry[]): boolean {
    for (const entry of entries) {
      // Deleted or trimmed while pending: nothing to deliver, and acking takes it off the list.
      if (entry.fields === null) this.#acks.push(entry.id);
      else this.#buffer.push(toEvent({ id: entry.id, fields: entry.fields }));
    }
    return this.#buffer.length > 0;
  }

  #restartFromPending(): void {
    this.#buffer = [];
    this.#pendingFrom = "0";
  }

  async #recover(err: unknown): Promise<void> {
    if (isReplyErrorWith(err, "NOGROUP")) {
      // The stream or the group is gone. Start the new group at the stream's beginning: whatever
      // was sent since it went missing is there.
      try {
        await createGroup(this.#connection, this.#key, this.#group, this.#destroyOnClose ? "$" : "0");
      } catch (createErr) {
        if (isReplyError((createErr as RedisCommandError).cause)) throw createErr;
        // The connection broke again: the next read tries once more.
      }
      this.#restartFromPending();
      return;
    }
    if (isReplyError(err) || this.#connection.status === "end" || this.#connection.status === "ready") {
      // Refused by the server, not due to the connection, or a connection that will not come back.
      throw new RedisCommandError("XREADGROUP", this.#key, { cause: err });
    }
    this.#restartFromPending();
  }

  #closedError(): Error {
    return new ClosedError(`redis event receiver "${this.#group}" on topic "${this.#topic}"`, "recv");
  }
}

function ignore(): void {}
