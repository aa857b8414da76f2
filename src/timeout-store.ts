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
 * One page of {@link TimeoutStore.listValid}: at most `limit` timeouts, those ordered after `after`
 * by expiry and then id. The timeout poller reads a status's due timeouts a page at a time, so a
 * burst of them is never held at once, and the timeouts of paused runs, which stay due, never keep
 * the later ones from being read.
 */
export interface TimeoutPage {
  /** The last timeout of the previous page; absent for the first page. */
  after?: { expireAt: Date; id: string };
  limit: number;
}

/**
 * Keeps timeouts. `list` returns the active ones (neither completed nor cancelled); `listValid`
 * those of one status that have expired by `now`, soonest first with ties in an order the store
 * keeps fixed (every adapter here: by id), one page of them when `page` is given. Rows that either
 * cannot read are reported with MalformedRowsError, which carries the timeouts that were read,
 * rather than failing the whole listing: the timeout poller fires those and sets the others aside.
 */
export interface TimeoutStore {
  create(timeout: NewTimeout): Promise<void>;
  complete(id: string): Promise<void>;
  cancel(id: string): Promise<void>;
  list(workflowName: string): Promise<TimeoutRecord[]>;
  listValid(workflowName: string, status: number, now: Date, page?: TimeoutPage): Promise<TimeoutRecord[]>;
}
