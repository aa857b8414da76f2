/**
 * JSON data: what `JSON.parse` makes (plain objects, arrays, strings, finite numbers, booleans and
 * null), and the way to take a value through the default JSON codec without the text in between.
 */

const encoder = new TextEncoder();

/** Deeper than this, the copy hands over to `JSON.stringify`, which also reports a cycle. */
const maxDepth = 100;

/** Returned by `copyPlain` for a value it leaves to `JSON.stringify`. */
const notPlain: unique symbol = Symbol("not plain JSON data");

/**
 * `JSON.parse(JSON.stringify(value))`, made without the text where the value is plain data, so
 * it is several times cheaper: a copy that shares nothing with `value`, equal to what a round
 * trip through the JSON codec gives (a Date becomes its ISO string, `undefined` properties go, …).
 * Throws what `JSON.stringify` throws (a BigInt, a cycle); undefined when `value` has no JSON text
 * (`undefined`, a function, a symbol).
 */
export function toJsonData(value: unknown): unknown {
  const copy = copyPlain(value, 0);
  if (copy !== notPlain) return copy;
  // Anything else (a toJSON method, a class instance, a Map, a deep or cyclic value, a
  // "__proto__" key) goes the long way, which is the definition of the result.
  const text = JSON.stringify(value);
  return text === undefined ? undefined : JSON.parse(text);
}

/** The bytes the default JSON codec makes of `data`. */
export function encodeJsonData(data: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(data));
}

function copyPlain(value: unknown, depth: number): unknown {
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
      // JSON has no NaN, Infinity or -0: they come back as null and 0.
      return Number.isFinite(value) ? value + 0 : null;
    case "object":
      if (value === null) return null;
      if (depth >= maxDepth) return notPlain;
      return Array.isArray(value) ? copyArray(value, depth + 1) : copyObject(value, depth + 1);
    default:
      return notPlain;
  }
}

function copyArray(array: unknown[], depth: number): unknown {
  if (Object.getPrototypeOf(array) !== Array.prototype) return notPlain;
  const copy = new Array<unknown>(array.length);
  for (let i = 0; i < array.length; i++) {
    const element = array[i];
    // In an array, what JSON cannot hold becomes null rather than disappearing.
    if (element === undefined || typeof element === "function" || typeof element === "symbol") {
      copy[i] = null;
      continue;
    }
    const elementCopy = copyPlain(element, depth);
    if (elementCopy === notPlain) return notPlain;
    copy[i] = elementCopy;
  }
  return copy;
}

function copyObject(object: object, depth: number): unknown {
  const prototype: unknown = Object.getPrototypeOf(object);
  if (prototype !== Object.prototype && prototype !== null) return notPlain;
  if (typeof (object as { toJSON?: unknown }).toJSON === "function") return notPlain;
  const copy: { [key: string]: unknown } = {};
  for (const key of Object.keys(object)) {
    // Assigning "__proto__" would set the copy's prototype; JSON.parse makes it a property.
    if (key === "__proto__") return notPlain;
    const property = (object as { [key: string]: unknown })[key];
    if (property === undefined || typeof property === "function" || typeof property === "symbol") continue;
    const propertyCopy = copyPlain(property, depth);
    if (propertyCopy === notPlain) return notPlain;
    copy[key] = propertyCopy;
  }
  return copy;
}
