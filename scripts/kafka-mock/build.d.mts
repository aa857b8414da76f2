/** Where the built Kafka test broker is: the first line it prints is its bootstrap address. */
export const kafkaMockBinary: string;
/** Builds the broker unless the binary is newer than its source, installing librdkafka-dev when missing. */
export function buildKafkaMock(): void;
