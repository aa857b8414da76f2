import type { Consumer, ConsumerMessages, JsMsg } from "@nats-io/jetstream";
import { untilWoken } from "../../abort.js";
import { wallInterval } from "../../clock.js";
import type { Delivery, Event, EventReceiver, Headers } from "../../event.js";
import { ClosedError } from "../../errors.js";
import { ApiCode, hasApiCode, JetStreamUnavailableError, translateError, type NatsConnection } from "./driver.js";

/**
 * How many events one pull asks the server for. The client pulls again as soon as the receiver
 * has queued most of them, so a slow consumer's queue grows until the consumer's
 * `max_ack_pending` (set by the streamer) stops the server: that, not this, bounds the events
 * held in memory, un-acked, in the queue and the engine together. `close()` hands them back at
 * once, a crash after `ackWaitMs`.
 */
const prefetchCount = 100;

/** An event's payload on the wire: JSON, so headers keep any characters (NATS headers may not hold line breaks). */
export interface WireEvent {
  foreignId: string;
  type: number;
  headers: Headers;
}

interface ReceiverSetup {
  consumer: Consumer;
  connection: NatsConnection;
  topic: string;
  name: string;
  durable: string;
  stream: string;
  ackWaitMs: number;
  /** Called when the server says the stream is gone, so the streamer makes it again. */
  onMissingStream(): void;
  /** Called at the end of close: deletes an ephemeral receiver's consumer. Never rejects. */
  onClosed?: () => Promise<void>;
}

/** Reads one topic of a `NatsEventStreamer` as a durable consumer. Made by `newReceiver`. */
export class NatsEventReceiver implements EventReceiver {
  readonly #setup: ReceiverSetup;
  #messages: ConsumerMessages | undefined;
  /** Delivered by the server, not yet handed out by recv. */
  readonly #queue: JsMsg[] = [];
  /** Delivered by the server and neither acked nor handed back: queued or in the caller's hands. */
  readonly #unacked = new Set<JsMsg>();
  /** Whether an ack was sent, to flush on close. */
  #ackedAny = false;
  /** Wakes a waiting recv when a message, a failure or close comes. */
  readonly #wakers = new Set<() => void>();
  #failure: Error | undefined;
  #closed = false;
  readonly #stopProgress: () => void;

  private constructor(setup: ReceiverSetup) {
    this.#setup = setup;
    // The server re-delivers what it has not heard about for ackWaitMs. Telling it that the events
    // we hold are in progress keeps a slow step, or a long queue, from getting them twice; after a
    // crash nobody says so, and the dead process's events come back.
    this.#stopProgress = wallInterval(setup.ackWaitMs / 3, () => {
      for (const msg of this.#unacked) msg.working();
    });
  }

  /** Starts consuming: the server pushes events ahead of `recv`, up to the consumer's `max_ack_pending` un-acked. */
  static async open(setup: ReceiverSetup): Promise<NatsEventReceiver> {
    const receiver = new NatsEventReceiver(setup);
    try {
      receiver.#messages = await setup.consumer.consume({
        max_messages: prefetchCount,
        // A deleted stream or consumer ends the receiver (and the engine opens a new one, which
        // creates them again) instead of waiting for them forever.
        abort_on_missing_resource: true,
        callback: (msg) => receiver.#arrived(msg),
      });
    } catch (err) {
      receiver.#stopProgress();
      throw translateError(err, `consume "${setup.durable}" of stream "${setup.stream}"`, setup.connection);
    }
    void receiver.#messages.closed().then(
      (err) => receiver.#ended(err),
      (err: unknown) => receiver.#ended(err),
    );
    return receiver;
  }

  async recv(signal: AbortSignal): Promise<Delivery<Event>> {
    for (;;) {
      if (this.#closed) throw new ClosedError(`NATS event receiver "${this.#setup.name}" on topic "${this.#setup.topic}"`, "recv");
      signal.throwIfAborted();
      const msg = this.#queue.shift();
      if (msg) {
        const event = this.#decode(msg);
        if (event) return { event, ack: () => this.#ack(msg) };
        continue;
      }
      if (this.#failure) throw this.#failure;
      await this.#arrival(signal);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopProgress();
    this.#wake();
    await this.#messages?.close().catch(() => undefined);
    // Hand back what we hold, oldest first, so the next receiver of this name gets it at once and
    // in order, instead of after ackWaitMs. Nothing is acked here.
    const held = [...this.#unacked].sort((a, b) => a.seq - b.seq);
    this.#unacked.clear();
    this.#queue.length = 0;
    for (const msg of held) handBack(msg);
    if ((this.#ackedAny || held.length > 0) && !this.#setup.connection.isClosed()) {
      // The acks and hand-backs reach the server before anyone opens the name again; a lost
      // connection loses them, and the server delivers those events again.
      await this.#setup.connection.flush().catch(() => undefined);
    }
    await this.#setup.onClosed?.();
  }

  #arrived(msg: JsMsg): void {
    if (this.#closed) {
      handBack(msg);
      return;
    }
    this.#unacked.add(msg);
    this.#queue.push(msg);
    this.#wake();
  }

  /** Consuming stopped by itself: the connection closed, or the stream or consumer is gone. */
  #ended(err: unknown): void {
    if (this.#closed) return;
    const { durable, stream, connection } = this.#setup;
    const reason = err instanceof Error ? err.message : "the connection closed";
    if (hasApiCode(err, ApiCode.streamNotFound) || /stream not found/.test(reason)) this.#setup.onMissingStream();
    const translated = translateError(err, `consume "${durable}" of stream "${stream}"`, connection);
    this.#failure =
      translated instanceof JetStreamUnavailableError
        ? translated
        : new Error(`NATS consumer "${durable}" of stream "${stream}" stopped: ${reason}`, { cause: err });
    this.#wake();
  }

  /**
   * Acks without waiting for the server's answer: a round trip per event would cost more than the
   * event. The server takes a connection's messages in order, so whatever this connection asks
   * next (a new receiver of the name included) comes after the ack; `close` flushes. An ack lost
   * with the connection brings its event back, which the engine's version checks make harmless.
   */
  async #ack(msg: JsMsg): Promise<void> {
    // Acked before, or handed back by close: the server has it already.
    if (!this.#unacked.delete(msg)) return;
    try {
      msg.ack();
    } catch (err) {
      throw translateError(err, `ack event ${msg.seq} of "${this.#setup.durable}"`, this.#setup.connection);
    }
    this.#ackedAny = true;
  }

  /** The event in a message; a message that is not a stepwise event is terminated (never delivered again) and skipped. */
  #decode(msg: JsMsg): Event | undefined {
    let wire: unknown;
    try {
      wire = msg.json();
    } catch {
      wire = undefined;
    }
    if (!isWireEvent(wire)) {
      this.#unacked.delete(msg);
      msg.term("not a stepwise event");
      return undefined;
    }
    return { id: String(msg.seq), foreignId: wire.foreignId, type: wire.type, headers: wire.headers, createdAt: msg.time };
  }

  #wake(): void {
    for (const wake of this.#wakers) wake();
  }

  /** Resolves when something arrives (or fails, or close is called); rejects with the signal's reason on abort. */
  #arrival(signal: AbortSignal): Promise<void> {
    return untilWoken((wake) => {
      this.#wakers.add(wake);
      return () => this.#wakers.delete(wake);
    }, signal);
  }
}

/**
 * Tells the server to deliver `msg` again now. The 1 ms delay is on purpose: a delayed nak goes
 * through the server's redelivery timer, which hands events back in sequence order, while plain
 * naks of several events on nats-server 2.9 deliver one twice and hold another back for the ack wait.
 */
function handBack(msg: JsMsg): void {
  msg.nak(1);
}

function isWireEvent(value: unknown): value is WireEvent {
  if (typeof value !== "object" || value === null) return false;
  const v = value as { foreignId?: unknown; type?: unknown; headers?: unknown };
  if (typeof v.foreignId !== "string" || typeof v.type !== "number") return false;
  if (typeof v.headers !== "object" || v.headers === null) return false;
  return Object.values(v.headers as Headers).every((h) => typeof h === "string");
}
