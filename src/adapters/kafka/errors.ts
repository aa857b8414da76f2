import { StepwiseError } from "../../errors.js";

/**
 * No broker could be reached (or none answered for the partition or group in question) while
 * doing `operation`. Nothing was sent, received or committed by that call; the engine logs the
 * error, backs off and tries again, so a cluster that is down at start delays work but loses none.
 */
export class KafkaUnavailableError extends StepwiseError {
  readonly code = "KAFKA_UNAVAILABLE";
  constructor(
    readonly operation: string,
    options?: ErrorOptions,
  ) {
    super(`kafka: cannot ${operation}: no broker reachable (${describe(options?.cause)})`, options);
  }
}

/** Names of kafkajs errors that mean no connection to a broker could be made or kept. */
const unreachable = new Set(["KafkaJSConnectionError", "KafkaJSConnectionClosedError", "KafkaJSNoBrokerAvailableError"]);

/** Whether `err`, or an error it was caused by, says no broker could be reached. */
function isUnreachable(err: unknown): boolean {
  for (let e = err, depth = 0; typeof e === "object" && e !== null && depth < 5; depth++) {
    const { name, cause, originalError } = e as { name?: unknown; cause?: unknown; originalError?: unknown };
    if (typeof name === "string" && unreachable.has(name)) return true;
    e = cause ?? originalError;
  }
  return false;
}

/**
 * The error to hand on when `operation` failed: {@link KafkaUnavailableError} when no broker could
 * be reached, otherwise an Error naming the operation, with the client's error as its cause.
 */
export function kafkaError(operation: string, err: unknown): Error {
  if (err instanceof StepwiseError) return err;
  if (isUnreachable(err)) return new KafkaUnavailableError(operation, { cause: err });
  return new Error(`kafka: cannot ${operation}: ${describe(err)}`, { cause: err });
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
