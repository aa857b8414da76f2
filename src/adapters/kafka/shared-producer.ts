import type { KafkaClient, KafkaOutgoingMessage, KafkaProducer } from "./driver.js";
import { kafkaError } from "./errors.js";

/** A connected producer that gathers the messages sent in one turn of the event loop into one request per topic. */
export interface BatchingProducer {
  send(kafkaTopic: string, message: KafkaOutgoingMessage): Promise<void>;
}

interface Queued {
  message: KafkaOutgoingMessage;
  resolve(): void;
  reject(err: unknown): void;
}

/**
 * One producer for all of a streamer's senders, connected by the first sender and disconnected
 * when the last one closes: a workflow's outbox opens a sender per topic, and a connection each
 * would buy nothing.
 *
 * Sends made in the same turn of the event loop (the outbox sends a batch of events at once) go
 * out as one produce request per topic, in the order they were made. Each send resolves once its
 * request is acknowledged; a failed request fails every send in it. Besides saving round trips,
 * this hands consumers whole batches per fetch.
 */
export class SharedProducer {
  readonly #client: () => Promise<KafkaClient>;
  readonly #idempotent: boolean;
  #users = 0;
  #producer: Promise<{ producer: KafkaProducer; batching: BatchingProducer }> | undefined;
  /** The disconnect of the previous producer; a new one connects only after it. */
  #closing: Promise<void> = Promise.resolve();

  constructor(client: () => Promise<KafkaClient>, idempotent: boolean) {
    this.#client = client;
    this.#idempotent = idempotent;
  }

  /** The connected producer; pair each call with one {@link release}. */
  async acquire(): Promise<BatchingProducer> {
    this.#users++;
    try {
      await this.#closing;
      this.#producer ??= this.#connect();
      return (await this.#producer).batching;
    } catch (err) {
      this.#users--;
      throw err;
    }
  }

  async release(): Promise<void> {
    if (--this.#users > 0) return;
    const connected = this.#producer;
    this.#producer = undefined;
    if (!connected) return;
    this.#closing = connected.then(
      ({ producer }) => producer.disconnect().catch(() => {}),
      () => {},
    );
    await this.#closing;
  }

  #connect(): Promise<{ producer: KafkaProducer; batching: BatchingProducer }> {
    const connecting = (async () => {
      const producer = (await this.#client()).producer({
        idempotent: this.#idempotent,
        // Idempotence keeps order across retries only with one request in flight (kafkajs's rule).
        ...(this.#idempotent ? { maxInFlightRequests: 1 } : {}),
        allowAutoTopicCreation: true,
        // Every event goes to partition 0 (see KafkaEventStreamer); this also stops kafkajs warning
        // about its default partitioner.
        createPartitioner: () => () => 0,
      });
      try {
        await producer.connect();
      } catch (err) {
        await producer.disconnect().catch(() => {});
        throw kafkaError("connect the producer", err);
      }
      return { producer, batching: batchingProducer(producer) };
    })();
    // A failed connect is not kept: the next acquire tries again.
    connecting.catch(() => {
      if (this.#producer === connecting) this.#producer = undefined;
    });
    return connecting;
  }
}

function batchingProducer(producer: KafkaProducer): BatchingProducer {
  let queued = new Map<string, Queued[]>();
  let isScheduled = false;
  const flush = () => {
    const batches = queued;
    queued = new Map();
    isScheduled = false;
    for (const [topic, entries] of batches) {
      producer.send({ topic, acks: -1, messages: entries.map((e) => e.message) }).then(
        () => {
          for (const e of entries) e.resolve();
        },
        (err: unknown) => {
          for (const e of entries) e.reject(err);
        },
      );
    }
  };
  return {
    send: (topic, message) =>
      new Promise<void>((resolve, reject) => {
        const entries = queued.get(topic) ?? [];
        entries.push({ message, resolve, reject });
        queued.set(topic, entries);
        if (!isScheduled) {
          isScheduled = true;
          // After the current turn, so that every send the outbox starts for one batch is in it.
          setImmediate(flush);
        }
      }),
  };
}
