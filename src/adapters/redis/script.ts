import { createHash } from "node:crypto";
import type { RedisClient } from "./driver.js";
import { isReplyErrorWith, RedisCommandError } from "./errors.js";

/**
 * A Lua script run atomically on the server: sent once, then called by its SHA-1 (EVALSHA), and
 * sent again whenever the server does not know it (it restarted, or SCRIPT FLUSH ran). Replies
 * come as `callBuffer` gives them: bulk strings as Buffers.
 */
export class RedisScript {
  readonly #source: string;
  readonly #sha: string;

  constructor(source: string) {
    this.#source = source;
    this.#sha = createHash("sha1").update(source).digest("hex");
  }

  /** Runs the script; a failure is a RedisCommandError naming the first key. */
  async run(client: RedisClient, keys: readonly string[], args: readonly (string | number | Buffer)[]): Promise<unknown> {
    try {
      try {
        return await client.callBuffer("EVALSHA", this.#sha, keys.length, ...keys, ...args);
      } catch (err) {
        if (!isReplyErrorWith(err, "NOSCRIPT")) throw err;
        return await client.callBuffer("EVAL", this.#source, keys.length, ...keys, ...args);
      }
    } catch (err) {
      throw new RedisCommandError("EVALSHA", keys[0] ?? "", { cause: err });
    }
  }
}
