import type { ConnectorConstructor, ConnectorConsumer, ConnectorEvent } from "../../connector.js";
import type { Delivery } from "../../event.js";
import { InvalidOptionError } from "../../errors.js";
import { clientOf, type KafkaClient, type KafkaConnection, type KafkaConsumerOptions } from "./driver.js";
import { messageHeaders, messageId, messageKey, messageTime, type ReceivedMessage } from "./message.js";
import { TopicConsumer } from "./event-receiver.js";

/** Options of {@link KafkaConnector}. */
export type KafkaConnectorOptions = KafkaConnection &
  KafkaConsumerOptions & {
    /** The external topic, as Kafka names it. */
    topic: string;
    /** The header that holds the event type. Default "type"; a message without it gets the topic name. */
    typeHeader?: string;
    /** The header that holds the event id. Without one (the default), or when a message lacks it, the id is `<partition>-<offset>`. */
    idHeader?: string;
    /** Where a consumer group without committed offsets starts: the end of the topic. Default: its beginning. */
    streamFromLatest?: boolean;
  };

/**
 * A {@link ConnectorConstructor} over an existing Kafka topic, for `addConnector`: `make(consumerName)`
 * joins the consumer group `consumerName` on that topic, so each connector shard keeps its own
 * committed position, and an un-acked message goes to the group's next member.
 *
 * A message becomes a {@link ConnectorEvent} as follows:
 * - `foreignId`: the message key as UTF-8 ("" without a key);
 * - `type`: the value of the `typeHeader` header ("type"), or the topic name when the message has none;
 * - `id`: the value of the `idHeader` header when one is configured and present, else `<partition>-<offset>`;
 * - `headers`: every other header, as UTF-8 (the last value of a repeated key);
 * - `createdAt`: the message timestamp.
 * The value is not read: put what the connector function needs in headers, or look it up by id.
 *
 * Order holds within a partition; messages of different partitions interleave.
 *
 * @example
 * ```ts
 * import { Kafka } from "kafkajs";
 * import { KafkaConnector } from "stepwise/kafka";
 * const payments = new KafkaConnector({ client: new Kafka({ brokers: ["kafka:9092"] }), topic: "payments", typeHeader: "event" });
 * b.addConnector("payments", payments, async (api, event) => {
 *   if (event.type === "payment.settled") await api.callback(event.foreignId, OrderStatus.Created, event.headers);
 * });
 * ```
 */
export class KafkaConnector implements ConnectorConstructor {
  readonly #client: () => Promise<KafkaClient>;
  readonly #options: KafkaConnectorOptions;
  readonly #typeHeader: string;
  readonly #idHeader: string | undefined;

  constructor(options: KafkaConnectorOptions) {
    if (!options.topic) throw new InvalidOptionError("topic", "KafkaConnector needs the topic to read");
    this.#client = clientOf(options);
    this.#options = options;
    this.#typeHeader = options.typeHeader ?? "type";
    this.#idHeader = options.idHeader;
  }

  async make(consumerName: string): Promise<ConnectorConsumer> {
    const { topic } = this.#options;
    const consumer = await TopicConsumer.open({
      client: await this.#client(),
      topic,
      groupId: consumerName,
      fromLatest: this.#options.streamFromLatest ?? false,
      label: `connector consumer "${consumerName}" on topic "${topic}"`,
      sessionTimeoutMs: this.#options.sessionTimeoutMs,
      heartbeatIntervalMs: this.#options.heartbeatIntervalMs,
      maxWaitTimeMs: this.#options.maxWaitTimeMs,
    });
    return {
      recv: async (signal: AbortSignal): Promise<Delivery<ConnectorEvent>> => {
        const { event: received, ack } = await consumer.recv(signal);
        return { event: this.#toEvent(received), ack };
      },
      close: () => consumer.close(),
    };
  }

  #toEvent(received: ReceivedMessage): ConnectorEvent {
    const mapped = this.#idHeader === undefined ? [this.#typeHeader] : [this.#typeHeader, this.#idHeader];
    const all = messageHeaders(received);
    return {
      id: (this.#idHeader === undefined ? undefined : all[this.#idHeader]) ?? messageId(received),
      foreignId: messageKey(received),
      type: all[this.#typeHeader] ?? received.topic,
      headers: messageHeaders(received, mapped),
      createdAt: messageTime(received),
    };
  }
}
