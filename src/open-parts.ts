import type { EventReceiver, EventSender } from "./event.js";

/**
 * The receivers and senders a streamer handed out and that are not closed yet, so the streamer's
 * `close()` (and the bundle's) ends every one, also those whose owner forgot them. A part is
 * forgotten when it closes, so short-lived receivers do not pile up here.
 */
export class OpenParts {
  readonly #open = new Set<() => Promise<void>>();

  /** `receiver`, tracked until it closes. */
  receiver(receiver: EventReceiver): EventReceiver {
    return { recv: (signal) => receiver.recv(signal), close: this.#track(() => receiver.close()) };
  }

  /** `sender`, tracked until it closes. */
  sender(sender: EventSender): EventSender {
    return { send: (foreignId, type, headers) => sender.send(foreignId, type, headers), close: this.#track(() => sender.close()) };
  }

  /** Closes every part still open. */
  async close(): Promise<void> {
    await Promise.all([...this.#open].map((close) => close()));
  }

  #track(close: () => Promise<void>): () => Promise<void> {
    const forget = (): Promise<void> => {
      this.#open.delete(forget);
      return close();
    };
    this.#open.add(forget);
    return forget;
  }
}
