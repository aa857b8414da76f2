/** String headers carried by every event. The engine's own keys are listed in {@link HeaderKey}. */
export type Headers = { readonly [key: string]: string };

/** Header keys the engine writes on every outbox event. */
export const HeaderKey = {
  workflowName: "workflow_name",
  foreignId: "foreign_id",
  topic: "topic",
  runId: "run_id",
  runState: "run_state",
  recordVersion: "record_version",
} as const;

/** One event as a receiver hands it out. `type` is the run's status. */
export interface Event {
  id: string;
  foreignId: string;
  type: number;
  headers: Headers;
  createdAt: Date;
}

/** Publishes events on one topic. */
export interface EventSender {
  send(foreignId: string, type: number, headers: Headers): Promise<void>;
  close(): Promise<void>;
}

/** Options of {@link EventStreamer.newReceiver}. */
export interface ReceiverOptions {
  /** How often to look for events where the engine cannot push. */
  pollingFrequency?: number;
  /** Start at the end of the topic, but only when `name` has no stored position yet. */
  streamFromLatest?: boolean;
  /**
   * The receiver's position is not kept for a later receiver of the same name: each ephemeral
   * receiver starts afresh, and two open at once each read on their own. Whatever the engine keeps
   * for it (a cursor, a consumer, a group) is removed when the receiver closes, and goes on its
   * own after a process died without closing it. It never holds back a streamer's retention of
   * its durable history, so an ephemeral receiver that falls far behind may find events gone.
   * Combine it with `streamFromLatest` to start at the end of the topic. The engine's `await`
   * uses one per watched topic.
   */
  ephemeral?: boolean;
}

/** A received event and the function that records it as handled. */
export interface Delivery<E> {
  event: E;
  ack: () => Promise<void>;
}

/**
 * Reads one topic as a durable consumer. `recv` waits for the next event (rejecting when the
 * signal aborts); the receiver's name keeps its position, so a new receiver of the same name
 * resumes after the last acked event.
 */
export interface EventReceiver {
  recv(signal: AbortSignal): Promise<Delivery<Event>>;
  close(): Promise<void>;
}

/** Moves events between processes. See `stepwise/adaptertest` for the behaviour every streamer must show. */
export interface EventStreamer {
  newSender(topic: string): Promise<EventSender>;
  newReceiver(topic: string, name: string, opts?: ReceiverOptions): Promise<EventReceiver>;
}
