import type { KafkaMessage } from "./driver.js";

/** A message as a topic consumer hands it out, with the partition it came from. */
export interface ReceivedMessage {
  topic: string;
  partition: number;
  message: KafkaMessage;
}

/** `<partition>-<offset>`: unique within a topic, and the same each time the message is delivered. */
export function messageId({ partition, message }: ReceivedMessage): string {
  return `${partition}-${message.offset}`;
}

/** The message's key as text, "" when it has none. */
export function messageKey({ message }: ReceivedMessage): string {
  return message.key ? message.key.toString("utf8") : "";
}

/** The message's value as text, "" when it has none. */
export function messageValue({ message }: ReceivedMessage): string {
  return message.value ? message.value.toString("utf8") : "";
}

/** When the message was produced (its CreateTime), or appended when the topic keeps LogAppendTime. */
export function messageTime({ message }: ReceivedMessage): Date {
  return new Date(Number(message.timestamp));
}

/**
 * The message's headers as text, leaving out `skip`. Kafka allows a key to repeat; stepwise
 * headers are a map, so the last value of a repeated key wins.
 */
export function messageHeaders({ message }: ReceivedMessage, skip: readonly string[] = []): { [key: string]: string } {
  const headers: { [key: string]: string } = {};
  for (const [key, raw] of Object.entries(message.headers ?? {})) {
    if (raw === undefined || skip.includes(key)) continue;
    const value = Array.isArray(raw) ? raw[raw.length - 1] : raw;
    if (value !== undefined) headers[key] = typeof value === "string" ? value : value.toString("utf8");
  }
  return headers;
}
