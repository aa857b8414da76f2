import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type ConsumerConfig,
  type ConsumerInfo,
  type JetStreamClient,
  type JetStreamManager,
  type StreamConfig,
} from "@nats-io/jetstream";
import type { EventReceiver, EventSender, EventStreamer, Headers, ReceiverOptions } from "../../event.js";
import { HeaderKey } from "../../event.js";
import { OpenParts } from "../../open-parts.js";
import { ClosedError, InvalidOptionError } from "../../errors.js";
import { answered } from "./answered.js";
import { ApiCode, checkOpen, hasApiCode, translateError, type NatsConnection } from "./driver.js";
import { NatsEventReceiver, type WireEvent } from "./event-receiver.js";
import { checkPrefix, durableName, topicAddress, type TopicAddress } from "./names.js";
import { maxPendingItems } from "../../process.js";

/** Options of {@link NatsEventStreamer}. */
export interface NatsEventStreamerOptions {
  /** The user's connection; stepwise never closes or drains it. */
  connection: NatsConnection;
  /** Starts every subject and stream name; letters, digits and `-`. Default "stepwise". */
  prefix?: string;
  /**
   * How long the server waits for an ack before it delivers an event again, in ms. A receiver
   * keeps extending this for the events it holds, so it only matters after a crash: the events a
   * dead process held come back this long after it got them. Default 30,000.
   */
  ackWaitMs?: number;
  /**
   * How long a stream keeps events, in ms (the stream's `max_age`; 0 keeps them until deleted by
   * hand). A receiver name that falls further behind than this misses the events that expired.
   * Default 7 days.
   */
  maxAgeMs?: number;
  /**
   * How long a receiver name may go unused before the server forgets it (the durable consumer's
   * `inactive_threshold`; 0 keeps it forever). A forgotten name starts again like a new one.
   * Default: `maxAgeMs`, past which its position is of no use anyway.
   */
  consumerInactiveMs?: number;
  /** Replicas of each stream in a cluster. Default 1. */
  replicas?: number;
  /** How long a JetStream API request (creating a stream, publishing, acking) may take, in ms. Default 5,000. */
  timeoutMs?: number;
}

const defaultMaxAgeMs = 7 * 24 * 60 * 60_000;
/** The server's default de-duplication window, shortened for streams that keep events less long. */
const duplicateWindowMs = 2 * 60_000;
const nanosPerMs = 1_000_000;
/**
 * Un-acked events the server lets a consumer have at once. The receiver queues whatever the client
 * pulls, so this, not the pull size, bounds what a slow consumer holds in memory. Set here rather
 * than left to the server's default, to the window of un-acked events a process keeps anyway.
 */
const maxAckPending = maxPendingItems;
/**
 * How long the server keeps an ephemeral receiver's consumer once nobody pulls from it. An open
 * receiver pulls all the time; this only clears away the consumer of a process that died.
 */
const ephemeralInactiveMs = 5 * 60_000;

/**
 * An {@link EventStreamer} on NATS JetStream. Events are durable messages, a receiver's name is a
 * durable pull consumer with explicit acks, and receivers get events pushed through the client's
 * `consume()` (no polling).
 *
 * **Mapping.** One stream per workflow, one subject per topic. The engine's topics are
 * `<workflow>-<status>`, `<workflow>-delete` and `<workflow>-run-state-change`; the topic
 * `orders-2` becomes subject `stepwise.orders.2` in stream `stepwise_orders` (subjects
 * `stepwise.orders.>`). Any other topic is split at its last `-` the same way. Characters that
 * NATS names forbid (`.`, `*`, `>`, whitespace, `/`, non-ASCII, …) are written as `~` and two hex
 * digits, so distinct topics never share a subject. Streams are created on first use (file
 * storage, limits retention, `max_age` = `maxAgeMs`, discard old) and updated when those options
 * change; the de-duplication window drops an outbox event sent twice within two minutes (its
 * message id is the topic, run id and record version).
 *
 * **Receivers.** Receiver `name` on a topic is the durable consumer `<name>~~<status>` of the
 * workflow's stream (the name escaped the same way; a name over 200 characters keeps its head
 * and a hash of the whole), filtered to the topic's subject, with explicit acks and `ackWaitMs`.
 * A new durable starts at the first stored event, or, with `streamFromLatest`, at the next one;
 * an existing durable resumes where it was whatever the option says. The id of an event is its
 * stream sequence, and `createdAt` the time the server stored it. An ack waits for the server
 * to confirm it. `close()` hands un-acked events back at once (nak), so the next receiver of
 * that name gets them without waiting.
 *
 * **Limits.** Events older than `maxAgeMs` are dropped, read or not. A receiver holds up to 100
 * events ahead of `recv`; those of a process that died come back after `ackWaitMs`. A durable
 * unused for `consumerInactiveMs` is deleted by the server. An `ephemeral` receiver is a consumer
 * without a durable name, deleted when the receiver closes, or by the server five minutes after a
 * process died without closing it (the engine's `await` opens one per watched topic).
 *
 * **Retention.** A stream keeps events for `maxAgeMs` (its `max_age`), read or not: JetStream's
 * own limit does the trimming, with no work by stepwise.
 *
 * **Connection.** A closed connection, a server that does not answer or one without JetStream
 * gives a `JetStreamUnavailableError`; the engine logs it, backs off and tries again. So does a
 * call that was waiting for the server's answer when the connection dropped, as soon as it drops
 * or comes back (the client would never answer it, and it would wait out `timeoutMs`). While the
 * user's connection reconnects (give it `maxReconnectAttempts: -1`), open receivers wait and then
 * go on where they were.
 *
 * @example
 * ```ts
 * import { connect } from "@nats-io/transport-node";
 * const connection = await connect({ servers: "127.0.0.1:4222", maxReconnectAttempts: -1, waitOnFirstConnect: true });
 * const eventStreamer = new NatsEventStreamer({ connection });
 * ```
 */
export class NatsEventStreamer implements EventStreamer {
  readonly #connection: NatsConnection;
  readonly #prefix: string;
  readonly #ackWaitMs: number;
  readonly #maxAgeMs: number;
  readonly #inactiveMs: number;
  readonly #replicas: number;
  readonly #timeoutMs: number;
  readonly #js: JetStreamClient;
  #jsm: Promise<JetStreamManager> | undefined;
  /** Streams made sure of by this streamer; an entry goes when its stream turns out to be missing. */
  readonly #streams = new Map<string, Promise<void>>();
  readonly #open = new OpenParts();

  constructor(options: NatsEventStreamerOptions) {
    this.#connection = options.connection;
    this.#prefix = checkPrefix(options.prefix ?? "stepwise");
    this.#ackWaitMs = options.ackWaitMs ?? 30_000;
    this.#maxAgeMs = options.maxAgeMs ?? defaultMaxAgeMs;
    this.#inactiveMs = options.consumerInactiveMs ?? this.#maxAgeMs;
    this.#replicas = options.replicas ?? 1;
    this.#timeoutMs = options.timeoutMs ?? 5_000;
    if (!(this.#ackWaitMs >= 1_000)) throw new InvalidOptionError("ackWaitMs", `ackWaitMs must be at least 1000, got ${options.ackWaitMs}`);
    this.#js = jetstream(this.#connection, { timeout: this.#timeoutMs });
  }

  /** Where `topic` lives: its stream and subject. For operators and tests; the mapping is described above. */
  address(topic: string): TopicAddress {
    return topicAddress(this.#prefix, topic);
  }

  async newSender(topic: string): Promise<EventSender> {
    const address = this.address(topic);
    await this.#ensureStream(address);
    let closed = false;
    return {
      send: async (foreignId: string, type: number, headers: Headers) => {
        if (closed) throw new ClosedError(`NATS event sender for topic "${topic}"`, "send");
        const payload: WireEvent = { foreignId, type, headers };
        const runId = headers[HeaderKey.runId];
        const version = headers[HeaderKey.recordVersion];
        // An outbox event sent again (the sender confirmed, the delete failed) has the same id, and
        // the server drops the copy within its de-duplication window.
        const msgID = runId !== undefined && version !== undefined ? `${topic}:${runId}:${version}` : undefined;
        try {
          await answered(this.#connection, this.#js.publish(address.subject, JSON.stringify(payload), msgID === undefined ? {} : { msgID }));
        } catch (err) {
          // Nobody answering a publish is what a deleted stream looks like: create it again next time.
          this.#streams.delete(address.stream);
          throw translateError(err, `publish to "${address.subject}"`, this.#connection);
        }
      },
      close: async () => {
        closed = true;
      },
    };
  }

  async newReceiver(topic: string, name: string, options: ReceiverOptions = {}): Promise<EventReceiver> {
    const address = this.address(topic);
    const durable = durableName(name, address);
    await this.#ensureStream(address);
    const fromLatest = options.streamFromLatest === true;
    const ephemeral = options.ephemeral === true;
    const open = () => (ephemeral ? this.#addEphemeral(address, fromLatest) : this.#ensureConsumer(address, durable, fromLatest));
    let info: ConsumerInfo;
    try {
      info = await open();
    } catch (err) {
      if (!hasApiCode(err, ApiCode.streamNotFound)) throw translateError(err, `open consumer "${durable}"`, this.#connection);
      // Someone deleted the stream since we made sure of it: make it again, once.
      this.#streams.delete(address.stream);
      await this.#ensureStream(address);
      info = await open().catch((again: unknown) => {
        throw translateError(again, `open consumer "${durable}"`, this.#connection);
      });
    }
    const remove = ephemeral ? () => this.#deleteConsumer(address.stream, info.name) : undefined;
    return this.#open.receiver(await NatsEventReceiver.open({
      onClosed: remove,
      consumer: this.#js.consumers.getConsumerFromInfo(info),
      connection: this.#connection,
      topic,
      name,
      durable,
      stream: address.stream,
      ackWaitMs: this.#ackWaitMs,
      onMissingStream: () => this.#streams.delete(address.stream),
    }));
  }

  #manager(): Promise<JetStreamManager> {
    if (!this.#jsm) {
      const pending = answered(this.#connection, jetstreamManager(this.#connection, { timeout: this.#timeoutMs }));
      // A failed attempt (the server was down) is not kept: the next call asks again.
      pending.catch(() => {
        if (this.#jsm === pending) this.#jsm = undefined;
      });
      this.#jsm = pending;
    }
    return this.#jsm;
  }

  #ensureStream(address: TopicAddress): Promise<void> {
    let ensured = this.#streams.get(address.stream);
    if (!ensured) {
      ensured = this.#createStream(address);
      const pending = ensured;
      pending.catch(() => {
        if (this.#streams.get(address.stream) === pending) this.#streams.delete(address.stream);
      });
      this.#streams.set(address.stream, pending);
    }
    return ensured;
  }

  async #createStream(address: TopicAddress): Promise<void> {
    const action = `create stream "${address.stream}"`;
    checkOpen(this.#connection, action);
    const config: Partial<StreamConfig> & { name: string } = {
      name: address.stream,
      subjects: [address.streamSubjects],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      max_age: this.#maxAgeMs * nanosPerMs,
      duplicate_window: (this.#maxAgeMs > 0 ? Math.min(duplicateWindowMs, this.#maxAgeMs) : duplicateWindowMs) * nanosPerMs,
      num_replicas: this.#replicas,
    };
    try {
      const jsm = await this.#manager();
      try {
        await answered(this.#connection, jsm.streams.add(config));
      } catch (err) {
        // The stream exists with other limits (changed options, another version): bring it in line.
        if (!hasApiCode(err, ApiCode.streamNameInUse)) throw err;
        const { name, ...changes } = config;
        await answered(this.#connection, jsm.streams.update(name, changes));
      }
    } catch (err) {
      throw translateError(err, action, this.#connection);
    }
  }

  /** A consumer without a durable name: the server names it and deletes it after {@link ephemeralInactiveMs} without pulls. */
  async #addEphemeral(address: TopicAddress, streamFromLatest: boolean): Promise<ConsumerInfo> {
    checkOpen(this.#connection, "open an ephemeral consumer");
    const jsm = await this.#manager();
    return await answered(this.#connection, jsm.consumers.add(address.stream, {
      ack_policy: AckPolicy.Explicit,
      ack_wait: this.#ackWaitMs * nanosPerMs,
      deliver_policy: streamFromLatest ? DeliverPolicy.New : DeliverPolicy.All,
      filter_subject: address.subject,
      max_deliver: -1,
      max_ack_pending: maxAckPending,
      inactive_threshold: ephemeralInactiveMs * nanosPerMs,
    }));
  }

  /** Deletes an ephemeral consumer on close; if that fails, the server's inactive threshold removes it. */
  async #deleteConsumer(stream: string, consumer: string): Promise<void> {
    if (this.#connection.isClosed()) return;
    try {
      const jsm = await this.#manager();
      await answered(this.#connection, jsm.consumers.delete(stream, consumer));
    } catch {
      // Gone already, or the server is away: it goes by itself once inactive.
    }
  }

  async #ensureConsumer(address: TopicAddress, durable: string, streamFromLatest: boolean): Promise<ConsumerInfo> {
    checkOpen(this.#connection, `open consumer "${durable}"`);
    const jsm = await this.#manager();
    const ackWait = this.#ackWaitMs * nanosPerMs;
    const inactive = this.#inactiveMs * nanosPerMs;
    try {
      const info = await answered(this.#connection, jsm.consumers.info(address.stream, durable));
      // An existing durable keeps its position whatever streamFromLatest says; its timings and limit follow the options.
      const current = info.config;
      if (current.ack_wait === ackWait && (current.inactive_threshold ?? 0) === inactive && current.max_ack_pending === maxAckPending) return info;
      return await answered(this.#connection, jsm.consumers.update(address.stream, durable, { ack_wait: ackWait, inactive_threshold: inactive, max_ack_pending: maxAckPending }));
    } catch (err) {
      if (!hasApiCode(err, ApiCode.consumerNotFound)) throw err;
    }
    const config: Partial<ConsumerConfig> = {
      durable_name: durable,
      ack_policy: AckPolicy.Explicit,
      ack_wait: ackWait,
      deliver_policy: streamFromLatest ? DeliverPolicy.New : DeliverPolicy.All,
      filter_subject: address.subject,
      max_deliver: -1,
      max_ack_pending: maxAckPending,
    };
    if (inactive > 0) config.inactive_threshold = inactive;
    try {
      return await answered(this.#connection, jsm.consumers.add(address.stream, config));
    } catch (err) {
      // Another process created the same durable a moment ago: use theirs.
      return await answered(this.#connection, jsm.consumers.info(address.stream, durable)).catch(() => {
        throw err;
      });
    }
  }

  /** Closes every receiver this streamer opened that is still open. Never closes the user's connection. Idempotent. */
  close(): Promise<void> {
    return this.#open.close();
  }
}
