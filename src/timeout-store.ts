/** A timeout as a TimeoutStore keeps it. */
export interface TimeoutRecord {
  id: string;
  workflowName: string;
  foreignId: string;
  runId: string;
  status: number;
  /** Which of the status's timeouts this is, in the order they were added to the builder; absent means the first (0). */
  index?: number;
  completed: boolean;
  expireAt: Date;
  createdAt: Date;
}

/** What {@link TimeoutStore.create} is given. */
export interface NewTimeout {
  workflowName: string;
  foreignId: string;
  runId: string;
  status: number;
  /** Which of the status's timeouts this is, in the order they were added; absent means the first (0). */
  index?: number;
  expireAt: Date;
}

/**
 * Keeps timeouts. `list` returns the active ones (neither completed nor cancelled);
 * `listValid` those of one status that have expired by `now`. Rows either cannot read are reported
 * with MalformedRowsError, which carries the timeouts that were read, rather than failing the whole
 * listing: the timeout poller fires those and sets the others aside.
 */
export interface TimeoutStore {
  create(timeout: NewTimeout): Promise<void>;
  complete(id: string): Promise<void>;
  cancel(id: string): Promise<void>;
  list(workflowName: string): Promise<TimeoutRecord[]>;
  listValid(workflowName: string, status: number, now: Date): Promise<TimeoutRecord[]>;
}
