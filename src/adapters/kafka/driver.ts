import { InvalidOptionError } from "../../errors.js";
// The slice of a kafkajs-style client that the Kafka adapters call. A kafkajs `Kafka` instance
// satisfies these types, and kafkajs itself is never imported for them, so it stays an optional
// peer dependency (it is loaded at run time only when the adapters are given `{ brokers }`).

/** A message as the consumer hands it out: key, value and header values are raw bytes. */
export interface KafkaMessage {
  key: Buffer | null;
  value: Buffer | null;
  /** Milliseconds since the epoch, as a decimal string. */
  timestamp: string;
  /** The message's offset in its partition, as a decimal string. */
  offset: string;
  headers?: { [key: string]: Buffer | string | (Buffer | string)[] | undefined };
}

/** What the consumer passes to `eachMessage`. */
export interface KafkaEachMessagePayload {
  topic: string;
  partition: number;
  message: KafkaMessage;
  /** Tells the group coordinator this member is alive; throws when the group is rebalancing. */
  heartbeat(): Promise<void>;
}

/** A position in one partition: the offset of the next message to read. */
export interface KafkaTopicPartitionOffset {
  topic: string;
  partition: number;
  offset: string;
}

/** The instrumentation events the adapters listen to. */
export interface KafkaConsumerEvents {
  GROUP_JOIN: "consumer.group_join";
  CRASH: "consumer.crash";
}

/** A consumer-group member. */
export interface KafkaConsumer {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  subscribe(subscription: { topics: string[]; fromBeginning?: boolean }): Promise<void>;
  run(config: { autoCommit: boolean; eachMessage: (payload: KafkaEachMessagePayload) => Promise<void> }): Promise<void>;
  commitOffsets(offsets: KafkaTopicPartitionOffset[]): Promise<void>;
  seek(offset: KafkaTopicPartitionOffset): void;
  on(
    event: KafkaConsumerEvents["GROUP_JOIN"],
    listener: (event: { payload: { memberAssignment: { [topic: string]: number[] } } }) => void,
  ): () => void;
  on(event: KafkaConsumerEvents["CRASH"], listener: (event: { payload: { error: Error } }) => void): () => void;
  readonly events: KafkaConsumerEvents;
}

/** One message to produce. */
export interface KafkaOutgoingMessage {
  key: string;
  value: string;
  partition: number;
  headers: { [key: string]: string };
}

/** A producer; `acks: -1` waits for every in-sync replica. */
export interface KafkaProducer {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  send(record: { topic: string; acks: number; messages: KafkaOutgoingMessage[] }): Promise<unknown>;
}

/** The admin calls used to pin a new consumer group's position (streamFromLatest) and to delete an ephemeral receiver's group. */
export interface KafkaAdmin {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  deleteGroups(groupIds: string[]): Promise<unknown>;
  fetchOffsets(options: { groupId: string; topics: string[] }): Promise<{ topic: string; partitions: { partition: number; offset: string }[] }[]>;
  fetchTopicOffsets(topic: string): Promise<{ partition: number; high: string }[]>;
}

/** Consumer settings the adapters pass; a kafkajs consumer takes more. */
export interface KafkaConsumerConfig {
  groupId: string;
  sessionTimeout: number;
  heartbeatInterval: number;
  maxWaitTimeInMs: number;
  allowAutoTopicCreation: boolean;
  retry: { restartOnFailure: (err: Error) => Promise<boolean> };
}

/** Producer settings the adapters pass. */
export interface KafkaProducerConfig {
  idempotent: boolean;
  maxInFlightRequests?: number;
  allowAutoTopicCreation: boolean;
  createPartitioner: () => () => number;
}

/**
 * The user's client: a kafkajs `Kafka` (`new Kafka({ clientId, brokers })`) or anything with the
 * same `producer`, `consumer` and `admin`. The adapters make their own producers, consumers and
 * admins from it and disconnect those; the client itself holds no connection.
 */
export interface KafkaClient {
  producer(config: KafkaProducerConfig): KafkaProducer;
  consumer(config: KafkaConsumerConfig): KafkaConsumer;
  admin(): KafkaAdmin;
}

/** How the adapters reach the cluster: the user's client, or bootstrap brokers for a client made with kafkajs. */
export type KafkaConnection =
  | {
      /** The user's kafkajs client, with its own logging, TLS and SASL settings. */
      client: KafkaClient;
      brokers?: undefined;
    }
  | {
      /** Bootstrap brokers, `host:port`. The adapters make a kafkajs client (kafkajs must be installed) that logs nothing. */
      brokers: string[];
      client?: undefined;
    };

/** Consumer-group timing, shared by receivers and connector consumers. All optional. */
export interface KafkaConsumerOptions {
  /**
   * How long the group coordinator waits for a silent member before handing its partitions to
   * another. A process that dies without leaving holds its receivers' positions this long.
   * Brokers refuse values below their `group.min.session.timeout.ms` (6,000 by default). Default 10,000.
   */
  sessionTimeoutMs?: number;
  /** How often members say they are alive, also while an event waits in the engine. Default 1,000. */
  heartbeatIntervalMs?: number;
  /**
   * How long the broker may hold a fetch that finds nothing. Brokers answer as soon as a message
   * arrives, so this bounds idle traffic and how long `close()` waits for the fetch in flight. Default 500.
   */
  maxWaitTimeMs?: number;
}

/**
 * The client behind a {@link KafkaConnection}: the user's own, or one made with kafkajs from the
 * brokers on first use. kafkajs is loaded only then, so a user who passes a client, or never
 * imports `stepwise/kafka`, needs no kafkajs.
 */
export function clientOf(connection: KafkaConnection): () => Promise<KafkaClient> {
  const { client, brokers } = connection;
  if (client) return async () => client;
  if (!Array.isArray(brokers) || brokers.length === 0) {
    throw new InvalidOptionError("client", "stepwise/kafka needs { client } (a kafkajs Kafka) or { brokers } (a non-empty list of host:port)");
  }
  let made: Promise<KafkaClient> | undefined;
  return () => {
    made ??= kafkajsClient([...brokers]).catch((err: unknown) => {
      made = undefined;
      throw err;
    });
    return made;
  };
}

async function kafkajsClient(brokers: string[]): Promise<KafkaClient> {
  const kafkajs = await import("kafkajs").catch((err: unknown) => {
    throw new Error("stepwise/kafka with { brokers } needs the kafkajs package: npm install kafkajs (or pass your own { client })", {
      cause: err,
    });
  });
  return new kafkajs.Kafka({
    clientId: "stepwise",
    brokers,
    // Errors reach the engine through the adapters' promises, and the engine logs them once.
    logLevel: kafkajs.logLevel.NOTHING,
    // Give up on an unreachable cluster within a few seconds; the engine backs off and tries again.
    retry: { initialRetryTime: 100, maxRetryTime: 2_000, retries: 5 },
  });
}
