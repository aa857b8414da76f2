import { BodyTooLargeError, MalformedBodyError } from "./request-errors.js";

const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Reads a request body of at most `maxBytes` as UTF-8 text, giving up (BodyTooLargeError) as soon
 * as a chunk takes it past the limit, so an oversized body is never held in memory.
 */
export async function readBody(chunks: AsyncIterable<Uint8Array>, maxBytes: number, declaredLength?: number): Promise<string> {
  if (declaredLength !== undefined && declaredLength > maxBytes) throw new BodyTooLargeError(maxBytes);
  const parts: Uint8Array[] = [];
  let length = 0;
  for await (const chunk of chunks) {
    length += chunk.byteLength;
    if (length > maxBytes) throw new BodyTooLargeError(maxBytes);
    parts.push(chunk);
  }
  try {
    return decoder.decode(Buffer.concat(parts, length));
  } catch (err) {
    throw new MalformedBodyError("the body is not UTF-8 text", { cause: err });
  }
}
