import type { NatsConnection } from "./driver.js";

/** The answer to a call can no longer come: the connection dropped, or came back, while the call waited. */
export class AnswerLostError extends Error {
  override readonly name = "AnswerLostError";

  constructor() {
    super("the client reconnects by itself");
  }
}

/** The calls waiting for an answer on one connection, failed together when it drops or comes back. */
class WaitingCalls {
  readonly #fails = new Set<(err: Error) => void>();

  constructor(connection: NatsConnection) {
    void this.#watch(connection);
  }

  wait<T>(call: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const fail = (err: Error) => {
        this.#fails.delete(fail);
        reject(err);
      };
      this.#fails.add(fail);
      call.then(resolve, reject).finally(() => this.#fails.delete(fail));
    });
  }

  async #watch(connection: NatsConnection): Promise<void> {
    // Ends when the connection closes.
    for await (const status of connection.status()) {
      if (status.type !== "disconnect" && status.type !== "reconnect") continue;
      for (const fail of [...this.#fails]) fail(new AnswerLostError());
    }
  }
}

/** One watcher per connection, however many streamers and schedulers share it. */
const waitingByConnection = new WeakMap<NatsConnection, WaitingCalls>();

/**
 * `call`'s outcome, or {@link AnswerLostError} as soon as the connection drops or reconnects while
 * it waits. The client never answers such a call: the answer to a request already sent went with
 * the old socket, and what it queued while disconnected it throws away when it dials again. The
 * call would wait for its whole timeout (seconds) although the server is back within
 * milliseconds, and an outbox or a role claim with it. The request itself is not withdrawn: a
 * write may still have happened, as with any timeout.
 */
export function answered<T>(connection: NatsConnection, call: Promise<T>): Promise<T> {
  let waiting = waitingByConnection.get(connection);
  if (waiting === undefined) {
    waiting = new WaitingCalls(connection);
    waitingByConnection.set(connection, waiting);
  }
  return waiting.wait(call);
}
