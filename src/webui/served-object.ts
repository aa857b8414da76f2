/**
 * A run's object as the API serves it: the decoded value where it makes JSON, else the stored
 * bytes in base64 (a codec that is not JSON, bytes that do not decode), flagged so the page can say so.
 */
export interface ServedObject {
  object: unknown;
  objectEncoding: "json" | "base64";
}

/** Decodes the stored bytes with `decode`, falling back to base64 when that fails or gives what JSON cannot hold. */
export function servedObject(bytes: Uint8Array, decode: (bytes: Uint8Array) => unknown): ServedObject {
  try {
    const value = decode(bytes);
    // Made into JSON here, so a value JSON cannot hold (a BigInt) falls back instead of failing the answer.
    const text = JSON.stringify(value);
    if (text !== undefined) return { object: JSON.parse(text) as unknown, objectEncoding: "json" };
  } catch {
    // Not JSON; shown as bytes.
  }
  return { object: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64"), objectEncoding: "base64" };
}
