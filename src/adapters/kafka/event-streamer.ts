import { randomUUID } from "node:crypto";
import type { EventReceiver, EventSender, EventStreamer, Headers, ReceiverOptions } from "../../event.js";
import { OpenParts } from "../../open-parts.js";
import { ClosedError } from "../../errors.js";
import { clientOf, type KafkaClient, type KafkaConnection, type KafkaConsumerOptions } from "./driver.js";
import { kafkaError } from "./errors.js";
import { kafkaTopicName, receiverGroupId } from "./names.js";
import { SharedProducer } from "./shared-producer.js";
import { eventReceiver, TopicConsumer } from "./event-receiver.js";

/** Options of {@link KafkaEventStreamer}: how to reach the cluster, plus optional tuning. */
export type KafkaEventStreamerOptions = KafkaConnection &
  KafkaConsumerOptions & {
    /**
     * Produce idempotently, so a retried send is not written twice. Default true. Turn it off
     * only for a broker that cannot hand out producer ids (librdkafka's mock cluster, see
     * docs/adapters.md), or when the cluster's ACLs refuse IdempotentWrite.
     */
    idempotent?: boolean;
    /** The consumer group of receiver `name` on a Kafka topic. Default `<name>@<kafka topic>` (see {@link receiverGroupId}). */
    groupId?: (kafkaTopic: string, name: string) => string;
  };

/**
 * An {@link EventStreamer} on Kafka. Each stepwise topic is a Kafka topic (its name made safe by
 * {@link kafkaTopicName}), created by the broker on first use (`auto.create.topics.enable`) or
 * beforehand by you. Each event is one message: the run's foreign id as key, the event type as
 * the value (a decimal string), the headers as Kafka headers, produced with `acks: -1` and, by
 * default, idempotently. Every event of a topic goes to partition 0, so a topic keeps one order,
 * as stepwise receivers expect; the engine spreads work by sharding receivers, not partitions.
 * Events sent together (the outbox sends a batch at once) go out in one request per topic.
 *
 * A receiver is a consumer-group member (group `<name>@<kafka topic>`). Messages are pushed by the
 * client's fetch loop; `recv` hands them out one at a time, and `ack` commits `offset + 1`. A
 * receiver closed with an event un-acked, or a process that dies, leaves that event to the next
 * member of the group. `streamFromLatest` applies only to a group without committed offsets, and
 * that starting position is committed before `newReceiver` resolves. An event's id is
 * `<partition>-<offset>` and its `createdAt` the message timestamp. An `ephemeral` receiver is
 * the one member of a group of its own (`<group>~ephemeral~<random id>`), deleted when it closes;
 * the group of a process that died without closing goes with the broker's offset retention
 * (`offsets.retention.minutes`, 7 days by default).
 *
 * Retention is the topic's own (`retention.ms`, `retention.bytes`): Kafka deletes old segments by
 * itself, read or not, so stepwise trims nothing; set it on the topics or as the broker default.
 *
 * Joining a group takes a moment: brokers hold a new group's first join for
 * `group.initial.rebalance.delay.ms` (3 s by default), and a dead member's partitions move on
 * after `sessionTimeoutMs`. Senders share one producer, disconnected when the last sender closes;
 * the user's client is never disconnected (it holds no connection of its own).
 *
 * @example
 * ```ts
 * import { Kafka } from "kafkajs";
 * const streamer = new KafkaEventStreamer({ client: new Kafka({ clientId: "orders", brokers: ["kafka:9092"] }) });
 * // or: new KafkaEventStreamer({ brokers: ["kafka:9092"] })
 * ```
 */
export class KafkaEventStreamer implements EventStreamer {
  readonly #client: () => Promise<KafkaClient>;
  readonly #options: KafkaEventStreamerOptions;
  readonly #producer: SharedProducer;
  readonly #groupId: (kafkaTopic: string, name: string) => string;
  readonly #open = new OpenParts();

  constructor(options: KafkaEventStreamerOptions) {
    this.#client = clientOf(options);
    this.#options = options;
    this.#producer = new SharedProducer(this.#client, options.idempotent ?? true);
    this.#groupId = options.groupId ?? receiverGroupId;
  }

  async newSender(topic: string): Promise<EventSender> {
    const kafkaTopic = kafkaTopicName(topic);
    const producer = await this.#producer.acquire();
    let closed = false;
    return this.#open.sender({
      send: async (foreignId: string, type: number, headers: Headers) => {
        if (closed) throw new ClosedError(`kafka: sender for topic "${kafkaTopic}"`, "send");
        try {
          await producer.send(kafkaTopic, { key: foreignId, value: String(type), partition: 0, headers: { ...headers } });
        } catch (err) {
          throw kafkaError(`send to topic "${kafkaTopic}"`, err);
        }
      },
      close: async () => {
        if (closed) return;
        closed = true;
        await this.#producer.release();
      },
    });
  }

  async newReceiver(topic: string, name: string, options: ReceiverOptions = {}): Promise<EventReceiver> {
    const kafkaTopic = kafkaTopicName(topic);
    const ephemeral = options.ephemeral === true;
    const groupId = this.#groupId(kafkaTopic, name);
    const consumer = await TopicConsumer.open({
      client: await this.#client(),
      topic: kafkaTopic,
      // An ephemeral receiver is the one member of a group of its own, deleted when it closes.
      groupId: ephemeral ? `${groupId}~ephemeral~${randomUUID()}` : groupId,
      deleteGroupOnClose: ephemeral,
      fromLatest: options.streamFromLatest ?? false,
      label: `receiver "${name}" on topic "${kafkaTopic}"`,
      sessionTimeoutMs: this.#options.sessionTimeoutMs,
      heartbeatIntervalMs: this.#options.heartbeatIntervalMs,
      maxWaitTimeMs: this.#options.maxWaitTimeMs,
    });
    return this.#open.receiver(eventReceiver(consumer));
  }

  /**
   * Closes every sender and receiver this streamer opened that is still open, which disconnects
   * the producer and consumers it made. Never disconnects the user's client. Idempotent.
   */
  close(): Promise<void> {
    return this.#open.close();
  }
}

