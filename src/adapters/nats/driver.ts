// The NATS client the adapters work with. Both JetStream and its key-value store are client-side
// layers over a plain connection, so the adapters import @nats-io/jetstream and @nats-io/kv (the
// optional peer dependencies) and take the connection in the type those libraries ask for. Which
// transport made it (@nats-io/transport-node, a WebSocket) is the user's choice.
import type { jetstreamManager } from "@nats-io/jetstream";
import { StepwiseError } from "../../errors.js";

/** The user's NATS connection, as `connect()` of `@nats-io/transport-node` returns it. Never closed by stepwise. */
export type NatsConnection = Parameters<typeof jetstreamManager>[0];

/**
 * JetStream could not be reached: the connection is closed or not connected right now, the
 * server did not answer in time, or it runs without JetStream (`nats-server -js`). The engine's
 * processes log it, back off and try again; the connection reconnects by itself unless closed.
 */
export class JetStreamUnavailableError extends StepwiseError {
  readonly code = "JETSTREAM_UNAVAILABLE";
  constructor(
    readonly action: string,
    detail: string,
    options?: ErrorOptions,
  ) {
    super(`NATS JetStream is unavailable, could not ${action}: ${detail}`, options);
  }
}

/** Error names of @nats-io/nats-core and @nats-io/jetstream that mean "the server is not there". */
const unavailableNames: { readonly [name: string]: string } = {
  ClosedConnectionError: "the NATS connection is closed (stepwise never closes it: pass an open one)",
  DrainingConnectionError: "the NATS connection is draining",
  ConnectionError: "the NATS connection failed",
  TimeoutError: "the server did not answer in time (is it up, and is the connection connected?)",
  AnswerLostError: "the connection dropped before the server answered",
  NoResponders: "nobody answered the JetStream API (is JetStream enabled on the server, `nats-server -js`?)",
  RequestError: "the request failed",
  JetStreamNotEnabled: "JetStream is not enabled on the server (`nats-server -js`)",
};

/** The JetStream API's own code for an account without JetStream. */
const jetStreamNotEnabledForAccount = 10039;

/**
 * Wraps an error that means JetStream is not there in a {@link JetStreamUnavailableError} naming
 * what we were doing; anything else (a bad configuration, say) is passed on as it is.
 */
export function translateError(err: unknown, action: string, connection: NatsConnection): unknown {
  if (err instanceof JetStreamUnavailableError) return err;
  const e = typeof err === "object" && err !== null ? (err as { name?: unknown; code?: unknown; message?: unknown }) : {};
  const message = typeof e.message === "string" ? e.message : String(err);
  if (connection.isClosed()) return new JetStreamUnavailableError(action, unavailableNames.ClosedConnectionError ?? message, { cause: err });
  const known = typeof e.name === "string" ? unavailableNames[e.name] : undefined;
  if (known !== undefined) return new JetStreamUnavailableError(action, `${known}: ${message}`, { cause: err });
  if (e.code === jetStreamNotEnabledForAccount) return new JetStreamUnavailableError(action, unavailableNames.JetStreamNotEnabled ?? message, { cause: err });
  return err;
}

/** Throws a clear error at once for a connection the user already closed, instead of a timeout later. */
export function checkOpen(connection: NatsConnection, action: string): void {
  if (connection.isClosed()) throw new JetStreamUnavailableError(action, unavailableNames.ClosedConnectionError ?? "closed");
}

/** Whether `err` is the JetStream API answering with this error code (10014: consumer not found, …). */
export function hasApiCode(err: unknown, code: number): boolean {
  return typeof err === "object" && err !== null && (err as { code?: unknown }).code === code;
}

/** JetStream API error codes the adapters look at. */
export const ApiCode = {
  consumerNotFound: 10014,
  streamNameInUse: 10058,
  streamNotFound: 10059,
  wrongLastSequence: 10071,
  wrongLastSequenceUnknown: 10164,
  consumerAlreadyExists: 10148,
  consumerNameExists: 10013,
} as const;
