import { systemClock, type Clock } from "../../clock.js";
import type { EventReceiver, EventSender, EventStreamer, Headers, ReceiverOptions } from "../../event.js";
import { OpenParts } from "../../open-parts.js";
import { ClosedError } from "../../errors.js";
import type { RedisClient } from "./driver.js";
import { RedisCommandError } from "./errors.js";
import { Trimmer, type Retention } from "../../retention.js";
import { newEphemeralGroup } from "./ephemeral-group.js";
import { createGroup, RedisEventReceiver } from "./event-receiver.js";
import { trimStream } from "./stream-trim.js";
import { eventFields } from "./stream-entry.js";

/** Options of {@link RedisEventStreamer}. */
export interface RedisEventStreamerOptions {
  /** The user's ioredis client. stepwise sends commands on it and duplicates it, and never quits it. */
  client: RedisClient;
  /** Put before every stream key: topic "orders-1" lives in "stepwise:orders-1". Default "stepwise:". */
  prefix?: string;
  /**
   * Trims each stream to about this many entries on every send (XADD MAXLEN ~), besides `retention`.
   * Default: no length cap. An entry trimmed before a receiver read it is never
   * delivered to that receiver, so keep this well above the largest backlog you expect.
   */
  maxLen?: number;
  /** How long one blocking read waits on the server before it is sent again, in ms. Default 5000. */
  blockMs?: number;
  /** How many entries one read takes. Default 100. */
  batchSize?: number;
  /** Stamps `createdAt` on sent events. Default: the system clock. */
  clock?: Clock;
  /**
   * How each stream is trimmed: after an ack, at most once a minute per topic, a receiver trims
   * (XTRIM MINID) the entries every durable group has passed and those older than 7 days, aged by
   * their ids (the server's time), and destroys ephemeral groups left by processes that died (see
   * `RetentionOptions` in "stepwise"). `false` keeps every entry. Default `{}`, the defaults.
   */
  retention?: Retention;
}

/**
 * An {@link EventStreamer} on Redis Streams. A topic is a stream key; `send` is XADD (the event id
 * is the stream id; foreign id, type, headers and creation time are its fields). A receiver name
 * is a consumer group, created at the stream's start, or at its end with `streamFromLatest`, only
 * when it does not exist yet. Receivers read with blocking XREADGROUP on a connection of their own,
 * so an event reaches a waiting receiver as soon as it is sent; see {@link RedisEventReceiver} for
 * acks, re-delivery after a crash and reconnects.
 *
 * Redis holds the events, not the records: pair it with a record store in outbox mode, such as
 * `new PostgresRecordStore({ pool })` (see `redis()`). The outbox forgets an event once Redis took
 * it, so the events are only as durable as the server: run it with the append-only file on
 * (`appendonly yes`) if events must survive a restart. A receiver whose stream or group vanished
 * anyway makes its group again and carries on with what is sent from then on.
 *
 * Each open receiver holds one connection of its own (a blocking read occupies a connection, and
 * one XREADGROUP serves one group), so a process holds as many as the receivers it has open: one
 * per step shard, connector and hook whose role it holds, plus one per topic `await` watches.
 *
 * ```ts
 * import { Redis } from "ioredis";
 * const client = new Redis();
 * const eventStreamer = new RedisEventStreamer({ client, maxLen: 1_000_000 });
 * ```
 */
export class RedisEventStreamer implements EventStreamer {
  readonly #client: RedisClient;
  readonly #prefix: string;
  readonly #trim: (string | number)[];
  readonly #blockMs: number;
  readonly #batchSize: number;
  readonly #clock: Clock;
  readonly #open = new OpenParts();
  readonly #trimmer: Trimmer;

  constructor(options: RedisEventStreamerOptions) {
    this.#client = options.client;
    this.#prefix = options.prefix ?? "stepwise:";
    this.#trim = options.maxLen === undefined ? [] : ["MAXLEN", "~", options.maxLen];
    this.#blockMs = options.blockMs ?? 5000;
    this.#batchSize = options.batchSize ?? 100;
    this.#clock = options.clock ?? systemClock;
    this.#trimmer = new Trimmer(
      options.retention,
      (topic, cutoffs) => trimStream(this.#client, this.streamKey(topic), cutoffs, systemClock.now().getTime()),
      () => systemClock.now().getTime(),
    );
  }

  /** The stream key that holds `topic`. */
  streamKey(topic: string): string {
    return this.#prefix + topic;
  }

  async newSender(topic: string): Promise<EventSender> {
    const key = this.streamKey(topic);
    let closed = false;
    return {
      send: async (foreignId: string, type: number, headers: Headers) => {
        if (closed) throw new ClosedError(`redis event sender for topic "${topic}"`, "send");
        const fields = eventFields(foreignId, type, headers, this.#clock.now());
        await this.#client.call("XADD", key, ...this.#trim, "*", ...fields).catch((err: unknown) => {
          throw new RedisCommandError("XADD", key, { cause: err });
        });
      },
      close: async () => {
        closed = true;
      },
    };
  }

  /**
   * Creates the group `name` if needed and opens a receiver on it; `pollingFrequency` is not used,
   * reads block. An `ephemeral` receiver reads as a group of its own (`~ephemeral~<time>:<random
   * id>:<name>`), destroyed when the receiver closes, or by a later trim once it sat unread for ten
   * minutes (its process died).
   */
  async newReceiver(topic: string, name: string, options: ReceiverOptions = {}): Promise<EventReceiver> {
    const key = this.streamKey(topic);
    const ephemeral = options.ephemeral === true;
    const group = ephemeral ? newEphemeralGroup(name, systemClock.now().getTime()) : name;
    await createGroup(this.#client, key, group, options.streamFromLatest ? "$" : "0");
    const afterAck = ephemeral ? undefined : () => this.#trimmer.afterAck(topic);
    return this.#open.receiver(
      new RedisEventReceiver({ client: this.#client, key, topic, group, blockMs: this.#blockMs, batchSize: this.#batchSize, destroyOnClose: ephemeral, afterAck }),
    );
  }

  /** Closes every receiver this streamer opened that is still open. Never closes the user's client. Idempotent. */
  close(): Promise<void> {
    return this.#open.close();
  }
}
