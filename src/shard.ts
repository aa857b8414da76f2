/** 32-bit FNV-1a over the UTF-8 bytes of `key`. */
export function fnv1a32(key: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    const code = key.charCodeAt(i);
    // Run ids are ASCII; anything else is hashed over its UTF-8 bytes as the spec says.
    if (code >= 0x80) return fnv1a32Bytes(new TextEncoder().encode(key));
    hash = Math.imul(hash ^ code, 0x01000193);
  }
  return hash >>> 0;
}

function fnv1a32Bytes(bytes: Uint8Array): number {
  let hash = 0x811c9dc5;
  for (const byte of bytes) hash = Math.imul(hash ^ byte, 0x01000193);
  return hash >>> 0;
}

/** Shard `shard` of `count` (1-based) owns the keys whose hash modulo `count` is `shard - 1`. */
export function isInShard(key: string, shard: number, count: number): boolean {
  return count <= 1 || fnv1a32(key) % count === shard - 1;
}
