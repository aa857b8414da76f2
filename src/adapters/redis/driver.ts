// The slice of ioredis that the Redis adapters call. A real `Redis` client satisfies these types
// and `ioredis` itself is never imported, so it stays an optional peer dependency.

/** Options stepwise sets on the connections it duplicates from the user's client. */
export interface RedisDuplicateOptions {
  /** Let a command wait for the connection to come back instead of failing after a number of retries. */
  maxRetriesPerRequest?: number | null;
  /** Queue commands while the connection is down instead of failing them at once. */
  enableOfflineQueue?: boolean;
  /** Fail a command that was in flight when the connection broke, instead of sending it again. */
  autoResendUnfulfilledCommands?: boolean;
  /** The name the server lists the connection under (CLIENT LIST). */
  connectionName?: string;
}

/**
 * The user's ioredis client (`new Redis(...)`). stepwise sends plain commands on it, duplicates it
 * for connections that block or subscribe, and never quits or disconnects it.
 */
export interface RedisClient {
  /** Sends one command; the reply comes as the client parses it (RESP2 or RESP3 shapes). */
  call(...args: [command: string, ...args: (string | number)[]]): Promise<unknown>;
  /** As `call`, but bulk replies come as Buffers, so bytes that are not UTF-8 (a record's object) survive. */
  callBuffer(...args: [command: string, ...args: (string | number | Buffer)[]]): Promise<unknown>;
  /** A new connection with the client's options, and `override` on top. */
  duplicate(override?: RedisDuplicateOptions): RedisConnection;
}

/** A connection stepwise duplicated from the user's client; it is stepwise's to close. */
export interface RedisConnection extends RedisClient {
  /** "wait", "connecting", "connect", "ready", "close", "reconnecting" or "end" (never reconnects). */
  readonly status: string;
  subscribe(...channels: string[]): Promise<unknown>;
  /** Closes the connection at once, without waiting for replies (a blocking read in flight ends). */
  disconnect(reconnect?: boolean): void;
  on(event: "error", listener: (err: Error) => void): unknown;
  on(event: "message", listener: (channel: string, message: string) => void): unknown;
  /** "close": an established connection closed (ioredis then reconnects unless told not to). */
  on(event: "close", listener: () => void): unknown;
}
