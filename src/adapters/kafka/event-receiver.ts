import { untilWoken, waitOver } from "../../abort.js";
import { systemClock } from "../../clock.js";
import type { Delivery, Event, EventReceiver } from "../../event.js";
import { ClosedError } from "../../errors.js";
import type { KafkaClient, KafkaConsumer, KafkaConsumerOptions, KafkaEachMessagePayload } from "./driver.js";
import { kafkaError } from "./errors.js";
import { messageHeaders, messageId, messageKey, messageTime, messageValue, type ReceivedMessage } from "./message.js";

/** The consumer-group timing used where an option is not given. */
export const consumerDefaults: Required<KafkaConsumerOptions> = {
  sessionTimeoutMs: 10_000,
  heartbeatIntervalMs: 1_000,
  maxWaitTimeMs: 500,
};

/** Options of {@link TopicConsumer.open}. */
export interface TopicConsumerOptions extends KafkaConsumerOptions {
  client: KafkaClient;
  /** The Kafka topic, already a valid name. */
  topic: string;
  groupId: string;
  /** Where a group without a committed offset starts: the end of the topic, or its beginning. */
  fromLatest: boolean;
  /** Names the reader in error messages: `receiver "x" on topic "y"`. */
  label: string;
  /** Delete the group once this member left: the receiver is ephemeral and the group its own. */
  deleteGroupOnClose?: boolean;
}

/** A message the client handed to eachMessage, waiting there for recv to take it. */
interface Offered {
  received: ReceivedMessage;
  release(): void;
}

/** A message recv handed out, until it is acked. */
interface Taken {
  partition: number;
  offset: bigint;
  /** The group generation it was taken in; a rejoin makes earlier deliveries come again. */
  generation: number;
  acked: boolean;
}

/**
 * One member of a consumer group reading one topic, turned from the client's push (its fetch loop
 * calls eachMessage) into `recv`/`ack`. eachMessage holds each message until recv takes it, so
 * the client hands over at most one message ahead of recv, and the group's position is only ever
 * what was acked: acks commit `offset + 1` per partition, in order, only past a run of acked messages.
 * Nothing is committed on close, so whatever was not acked goes to the group's next member.
 */
export class TopicConsumer {
  readonly #consumer: KafkaConsumer;
  readonly #options: TopicConsumerOptions;
  readonly #heartbeatIntervalMs: number;
  readonly #removeListeners: (() => void)[] = [];
  readonly #wakers = new Set<() => void>();
  /** Per partition, the taken messages not yet committed, in delivery order. */
  readonly #taken = new Map<number, Taken[]>();
  /** Per partition, the offset last committed by this member. */
  readonly #committed = new Map<number, bigint>();
  /** Per partition, the furthest position an ack asked to commit. */
  readonly #wanted = new Map<number, bigint>();
  #offered: Offered | undefined;
  #generation = 0;
  #commits: Promise<unknown> = Promise.resolve();
  #failure: Error | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;

  private constructor(consumer: KafkaConsumer, options: TopicConsumerOptions, heartbeatIntervalMs: number) {
    this.#consumer = consumer;
    this.#options = options;
    this.#heartbeatIntervalMs = heartbeatIntervalMs;
  }

  /**
   * Joins the group and resolves once this member has its partitions (and, reading from latest
   * for a group without offsets, once that position is committed), so that every message sent
   * after it resolves is received.
   */
  static async open(options: TopicConsumerOptions): Promise<TopicConsumer> {
    const sessionTimeoutMs = options.sessionTimeoutMs ?? consumerDefaults.sessionTimeoutMs;
    const heartbeatIntervalMs = options.heartbeatIntervalMs ?? consumerDefaults.heartbeatIntervalMs;
    const maxWaitTimeMs = options.maxWaitTimeMs ?? consumerDefaults.maxWaitTimeMs;
    const consumer = options.client.consumer({
      groupId: options.groupId,
      sessionTimeout: sessionTimeoutMs,
      heartbeatInterval: heartbeatIntervalMs,
      maxWaitTimeInMs: maxWaitTimeMs,
      allowAutoTopicCreation: true,
      // A crashed consumer stays down and recv says why; the engine backs off and opens another.
      retry: { restartOnFailure: async () => false },
    });
    const reader = new TopicConsumer(consumer, options, heartbeatIntervalMs);
    try {
      await reader.#start();
    } catch (err) {
      await reader.close().catch(() => {});
      throw kafkaError(`open ${options.label}`, err);
    }
    return reader;
  }

  /** Waits for the next message; rejects with the signal's reason when it aborts, taking nothing. */
  async recv(signal: AbortSignal): Promise<Delivery<ReceivedMessage>> {
    for (;;) {
      if (this.#closed) throw new ClosedError(`kafka: ${this.#options.label}`, "recv");
      signal.throwIfAborted();
      if (this.#failure) throw this.#failure;
      const offered = this.#offered;
      if (offered) {
        this.#offered = undefined;
        const { received } = offered;
        const taken: Taken = { partition: received.partition, offset: BigInt(received.message.offset), generation: this.#generation, acked: false };
        const queue = this.#taken.get(taken.partition) ?? [];
        queue.push(taken);
        this.#taken.set(taken.partition, queue);
        // Let the client fetch on while this message is handled; its next one waits in eachMessage.
        offered.release();
        return { event: received, ack: () => this.#ack(taken) };
      }
      await this.#changed(signal);
    }
  }

  /** Leaves the group without committing anything more. Safe to call twice. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#closed = true;
    this.#wake();
    // disconnect() stops the fetch loop at once; the message waiting in eachMessage is then let go
    // so the loop can end. The client commits nothing for it (autoCommit is off): it is read again.
    const stopping = this.#consumer.disconnect();
    this.#offered?.release();
    this.#offered = undefined;
    for (const remove of this.#removeListeners.splice(0)) remove();
    await stopping;
    if (this.#options.deleteGroupOnClose) await this.#deleteGroup();
  }

  /**
   * Deletes the group, which is empty now that this member left. If that fails (the broker is
   * away), the broker removes the empty group once its offsets expire (`offsets.retention.minutes`).
   */
  async #deleteGroup(): Promise<void> {
    const admin = this.#options.client.admin();
    try {
      await admin.connect();
      await admin.deleteGroups([this.#options.groupId]);
    } catch {
      // Left for the broker's offset retention to clear away.
    } finally {
      await admin.disconnect().catch(() => {});
    }
  }

  async #start(): Promise<void> {
    const { topic } = this.#options;
    let joined!: (partitions: number[]) => void;
    let crashed!: (err: Error) => void;
    const firstJoin = new Promise<number[]>((resolve, reject) => {
      joined = resolve;
      crashed = reject;
    });
    // It may reject while connect or run is still awaited; it is awaited below.
    firstJoin.catch(() => {});
    this.#removeListeners.push(
      this.#consumer.on(this.#consumer.events.GROUP_JOIN, ({ payload }) => {
        // After a rejoin the client reads again from the committed offsets, so the messages taken
        // before it come again; their acks must not commit past the new deliveries.
        this.#generation++;
        this.#taken.clear();
        joined(payload.memberAssignment[topic] ?? []);
      }),
      this.#consumer.on(this.#consumer.events.CRASH, ({ payload }) => {
        const err = kafkaError(`read ${this.#options.label}`, payload.error);
        crashed(err);
        this.#fail(err);
      }),
    );
    await this.#consumer.connect();
    await this.#consumer.subscribe({ topics: [topic], fromBeginning: !this.#options.fromLatest });
    await this.#consumer.run({ autoCommit: false, eachMessage: (payload) => this.#onMessage(payload) });
    const partitions = await firstJoin;
    if (this.#options.fromLatest) await this.#pinLatest(partitions);
  }

  /**
   * For the partitions without a committed offset, commits the end of the partition as the
   * group's position and moves this member there. The client would resolve "latest" on its own
   * only at its first fetch, which may come after a message sent once `open` resolved, and skip it.
   */
  async #pinLatest(partitions: number[]): Promise<void> {
    const { client, groupId, topic } = this.#options;
    const admin = client.admin();
    await admin.connect();
    try {
      const offsets = await admin.fetchOffsets({ groupId, topics: [topic] });
      const committed = new Map((offsets.find((t) => t.topic === topic)?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)]));
      const unpositioned = new Set(partitions.filter((p) => (committed.get(p) ?? -1n) < 0n));
      if (unpositioned.size === 0) return;
      const ends = await admin.fetchTopicOffsets(topic);
      const pins = ends.filter((end) => unpositioned.has(end.partition)).map((end) => ({ topic, partition: end.partition, offset: end.high }));
      await this.#consumer.commitOffsets(pins);
      for (const pin of pins) {
        this.#committed.set(pin.partition, BigInt(pin.offset));
        this.#consumer.seek(pin);
      }
    } finally {
      await admin.disconnect().catch(() => {});
    }
  }

  /** The client's eachMessage: offers the message to recv and holds the fetch loop until it is taken. */
  async #onMessage({ topic, partition, message, heartbeat }: KafkaEachMessagePayload): Promise<void> {
    if (this.#closed || this.#failure) return;
    let release!: () => void;
    const taken = new Promise<void>((resolve) => (release = resolve));
    const offered: Offered = { received: { topic, partition, message }, release };
    this.#offered = offered;
    this.#wake();
    const done = new AbortController();
    try {
      // A rebalance makes heartbeat throw; the throw ends eachMessage so the client rejoins, and
      // the message, not taken, is fetched again from the group's position.
      await Promise.race([taken, this.#heartbeatUntil(heartbeat, done.signal)]);
    } finally {
      done.abort(waitOver);
      if (this.#offered === offered) this.#offered = undefined;
    }
  }

  /** Keeps this member in the group while a message waits for recv (the engine may be busy for long). */
  async #heartbeatUntil(heartbeat: () => Promise<void>, signal: AbortSignal): Promise<void> {
    for (;;) {
      try {
        await systemClock.sleep(this.#heartbeatIntervalMs, signal);
      } catch {
        return;
      }
      await heartbeat();
    }
  }

  async #ack(taken: Taken): Promise<void> {
    if (taken.acked) return;
    // A closed member can commit nothing; the message goes to the group's next member.
    if (this.#closed) throw new ClosedError(`kafka: ${this.#options.label}`, "ack");
    taken.acked = true;
    const queue = this.#taken.get(taken.partition);
    if (taken.generation !== this.#generation || !queue) return;
    // Commit only past a run of acked messages, so an earlier message still in hand is never skipped.
    let next: bigint | undefined;
    for (let first = queue[0]; first?.acked; first = queue[0]) {
      queue.shift();
      next = first.offset + 1n;
    }
    if (next === undefined) return;
    await this.#commit(taken.partition, next);
  }

  /**
   * Commits one partition's position; commits go out one at a time, so a later one never lands
   * first, and each takes the furthest position asked for by then, so the acks of a batch share one.
   */
  async #commit(partition: number, offset: bigint): Promise<void> {
    if (offset > (this.#wanted.get(partition) ?? -1n)) this.#wanted.set(partition, offset);
    const commit = this.#commits.then(async () => {
      const wanted = this.#wanted.get(partition) ?? offset;
      if (wanted <= (this.#committed.get(partition) ?? -1n)) return;
      await this.#consumer.commitOffsets([{ topic: this.#options.topic, partition, offset: wanted.toString() }]);
      this.#committed.set(partition, wanted);
    });
    this.#commits = commit.catch(() => {});
    try {
      await commit;
    } catch (err) {
      throw kafkaError(`commit the position of ${this.#options.label}`, err);
    }
  }

  #fail(err: Error): void {
    this.#failure ??= err;
    this.#offered?.release();
    this.#offered = undefined;
    this.#wake();
  }

  #wake(): void {
    const wakers = [...this.#wakers];
    this.#wakers.clear();
    for (const wake of wakers) wake();
  }

  /** Resolves at the next offer, failure or close; rejects with the signal's reason if it aborts first. */
  #changed(signal: AbortSignal): Promise<void> {
    return untilWoken((wake) => {
      this.#wakers.add(wake);
      return () => this.#wakers.delete(wake);
    }, signal);
  }
}

/** The {@link EventReceiver} a `KafkaEventStreamer` hands out: `consumer`'s messages read as stepwise events. */
export function eventReceiver(consumer: TopicConsumer): EventReceiver {
  return {
    recv: async (signal: AbortSignal): Promise<Delivery<Event>> => {
      const { event: received, ack } = await consumer.recv(signal);
      return { event: toEvent(received), ack };
    },
    close: () => consumer.close(),
  };
}

/** A message that is not stepwise's (its value no integer) arrives with type 0, a status no step has. */
function toEvent(received: ReceivedMessage): Event {
  const type = Number(messageValue(received));
  return {
    id: messageId(received),
    foreignId: messageKey(received),
    type: Number.isSafeInteger(type) ? type : 0,
    headers: messageHeaders(received),
    createdAt: messageTime(received),
  };
}
