import { closeOnce, type Adapters } from "../../adapters.js";
import { KafkaEventStreamer, type KafkaEventStreamerOptions } from "./event-streamer.js";

export type {
  KafkaAdmin,
  KafkaClient,
  KafkaConnection,
  KafkaConsumer,
  KafkaConsumerConfig,
  KafkaConsumerEvents,
  KafkaConsumerOptions,
  KafkaEachMessagePayload,
  KafkaMessage,
  KafkaOutgoingMessage,
  KafkaProducer,
  KafkaProducerConfig,
  KafkaTopicPartitionOffset,
} from "./driver.js";
export { KafkaEventStreamer, type KafkaEventStreamerOptions } from "./event-streamer.js";
export { KafkaConnector, type KafkaConnectorOptions } from "./connector.js";
export { KafkaUnavailableError } from "./errors.js";
export { kafkaTopicName, receiverGroupId } from "./names.js";

/**
 * What {@link kafka} returns: the event streamer, and `close()`, which closes the senders and
 * receivers it opened (and with them the producer and consumers it made), never the user's
 * client. Records, timeouts and roles come from another store.
 */
export interface KafkaAdapters extends Adapters {
  eventStreamer: KafkaEventStreamer;
}

/**
 * Events on Kafka, to combine with a record store, a timeout store and a role scheduler: Kafka
 * has no leases to build roles on. Pass your kafkajs client (`{ client }`), or bootstrap brokers
 * (`{ brokers }`, for which kafkajs must be installed).
 *
 * Records kept in PostgreSQL in outbox mode (`new PostgresRecordStore({ pool })`, without
 * `events: "table"`) reach Kafka through the workflow's outbox process: each write stores the
 * record and its event in one transaction, and the outbox produces the event and then deletes
 * it. Roles on PostgreSQL advisory locks let several processes share the workflow.
 *
 * A cluster that is down when the workflow starts makes its processes fail with
 * {@link KafkaUnavailableError}; the engine logs it, backs off and tries again until it is up.
 *
 * @example
 * ```ts
 * import pg from "pg";
 * import { migrate, PostgresRecordStore, PostgresRoleScheduler, PostgresTimeoutStore } from "stepwise/postgres";
 * import { kafka } from "stepwise/kafka";
 *
 * const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
 * await migrate(pool);
 * const events = kafka({ brokers: ["kafka-1:9092", "kafka-2:9092"] });
 * const wf = b.build({
 *   ...events,
 *   recordStore: new PostgresRecordStore({ pool }),
 *   timeoutStore: new PostgresTimeoutStore({ pool }),
 *   roleScheduler: new PostgresRoleScheduler({ pool }),
 * });
 * await wf.run();
 * // … and on shutdown: await wf.stop(); await events.close(); await pool.end();
 * ```
 */
export function kafka(options: KafkaEventStreamerOptions): KafkaAdapters {
  const eventStreamer = new KafkaEventStreamer(options);
  return { eventStreamer, close: closeOnce(() => eventStreamer.close()) };
}
