import type { KafkaClient, KafkaConnection } from "./driver.js";

/**
 * The client behind a {@link KafkaConnection}: the user's own, or one made with kafkajs from the
 * brokers on first use. kafkajs is loaded only then, so a user who passes a client, or never
 * imports `stepwise/kafka`, needs no kafkajs.
 */
export function clientOf(connection: KafkaConnection): () => Promise<KafkaClient> {
  const { client, brokers } = connection;
  if (client) return async () => client;
  if (!Array.isArray(brokers) || brokers.length === 0) {
    throw new Error("stepwise/kafka needs { client } (a kafkajs Kafka) or { brokers } (a non-empty list of host:port)");
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
