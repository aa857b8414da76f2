import type { Headers } from "./event.js";

/**
 * Parsed JSON as event headers: an object whose values are all strings, as every sender writes
 * them. Anything else (null, an array, a number for a run id) is undefined, so a store can treat a
 * row no sender wrote as having no headers rather than hand the engine values of the wrong type.
 */
export function storedHeaders(parsed: unknown): Headers | undefined {
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return undefined;
  for (const value of Object.values(parsed)) if (typeof value !== "string") return undefined;
  return parsed as Headers;
}

/** Headers stored as JSON text: {@link storedHeaders} of what it parses to; undefined for anything but such text. */
export function headersFromJson(text: unknown): Headers | undefined {
  if (typeof text !== "string") return undefined;
  try {
    return storedHeaders(JSON.parse(text));
  } catch {
    return undefined;
  }
}
