/** Turns a workflow's object into bytes for storage and back. */
export interface Codec<T> {
  encode(value: T): Uint8Array;
  decode(bytes: Uint8Array): T;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** Marks the codecs `jsonCodec` makes, whose round trip the engine may take without the bytes. */
const isJson: unique symbol = Symbol("stepwise.jsonCodec");

/** The default codec: UTF-8 JSON. */
export function jsonCodec<T>(): Codec<T> {
  const codec: Codec<T> & { [isJson]: true } = {
    encode: (value) => encoder.encode(JSON.stringify(value)),
    decode: (bytes) => JSON.parse(decoder.decode(bytes)) as T,
    [isJson]: true,
  };
  return codec;
}

/** Whether `codec` was made by {@link jsonCodec}: its round trip is `JSON.parse(JSON.stringify(value))`. */
export function isJsonCodec<T>(codec: Codec<T>): boolean {
  return isJson in codec;
}
