import { StepwiseError } from "../../errors.js";

/**
 * A Redis command failed: the server is unreachable (the client gave up waiting for it) or refused
 * the command. `command` and `key` say what stepwise was doing; `cause` is the client's error.
 * The engine logs it, backs off and tries again, so a server that is down at start, or restarts,
 * costs retries, not the process.
 */
export class RedisCommandError extends StepwiseError {
  readonly code = "REDIS_COMMAND";
  constructor(
    readonly command: string,
    readonly key: string,
    options?: ErrorOptions,
  ) {
    const detail = options?.cause instanceof Error ? `: ${options.cause.message}` : "";
    super(`redis: ${command} on "${key}" failed${detail}`, options);
  }
}

/** Whether the server answered with an error (as opposed to the connection failing). */
export function isReplyError(err: unknown): boolean {
  return err instanceof Error && err.name === "ReplyError";
}

/** Whether the server answered with an error starting with `prefix` ("NOGROUP", "BUSYGROUP", …). */
export function isReplyErrorWith(err: unknown, prefix: string): boolean {
  return isReplyError(err) && (err as Error).message.startsWith(prefix);
}
