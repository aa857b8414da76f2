import type { WorkflowContext } from "./context.js";
import { InvalidOptionError, type MalformedRow } from "./errors.js";
import { errorText } from "./logger.js";
import { readableRows } from "./readable-rows.js";
import type { Run } from "./run.js";
import type { Record, RecordStore } from "./record.js";
import type { RunState } from "./runstate.js";
import { decodeRun } from "./update.js";
import { isOlderVersion } from "./upgrade.js";

/** Options of `Workflow.list`. */
export interface ListOptions<S extends number> {
  status?: S | S[];
  runState?: RunState | RunState[];
  foreignId?: string;
  /** Runs per page, 1 to 500. Default 50. */
  limit?: number;
  /** The `nextCursor` of the previous page. */
  cursor?: string;
}

/** A page of runs, newest first; `nextCursor` is null on the last page. */
export interface RunPage<T, S extends number> {
  runs: Run<T, S>[];
  nextCursor: string | null;
}

/**
 * A page of stored records, newest first; `nextCursor` is null on the last page. `malformed` names
 * the page's rows the store could not read, which `records` leaves out.
 */
export interface RecordPage {
  records: Record[];
  nextCursor: string | null;
  malformed: readonly MalformedRow[];
}

/** The most runs one page may hold. */
export const maxListLimit = 500;
const defaultListLimit = 50;

/**
 * Where the next page starts: before `createdAt`, after skipping `seen` runs created at that very
 * millisecond. Keyed on creation time rather than an offset, so runs started while a caller pages
 * do not shift the pages. Without `createdAt` (a first page whose every row was unreadable) it is
 * the offset from the newest run.
 */
interface Cursor {
  createdAt: number | undefined;
  seen: number;
}

/**
 * One page of the workflow's runs, newest first, decoded with the workflow's codec. A run the store
 * cannot read is left out and logged as an error, as its events are. The store filters by stored
 * status numbers; a run of an older version that matched one by a number that meant another status
 * then is left out too (the page may be shorter than `limit`).
 */
export async function listRuns<T, S extends number>(ctx: WorkflowContext<T>, options: ListOptions<S>): Promise<RunPage<T, S>> {
  const page = await listRecords(ctx.recordStore, ctx.name, options);
  for (const { id, error } of page.malformed) {
    ctx.logger.error(`run ${id} is malformed and was left out of a list: ${errorText(error)}`, { runId: id, skipped: "record_malformed", err: error });
  }
  let runs = page.records.map((record) => decodeRun<T, S>(ctx, record));
  if (options.status !== undefined && page.records.some((record) => isOlderVersion(ctx, record))) {
    const statuses: number[] = Array.isArray(options.status) ? options.status : [options.status];
    runs = runs.filter((run) => statuses.includes(run.status));
  }
  return { runs, nextCursor: page.nextCursor };
}

/**
 * One page of a workflow's stored records, newest first, as they are: for readers without a built
 * workflow (the web UI over a store) and, decoded, for `Workflow.list`.
 */
export async function listRecords(recordStore: Pick<RecordStore, "list">, workflowName: string, options: ListOptions<number>): Promise<RecordPage> {
  const limit = options.limit ?? defaultListLimit;
  if (!Number.isInteger(limit) || limit < 1 || limit > maxListLimit) {
    throw new InvalidOptionError("limit", `list: option "limit" must be a whole number from 1 to ${maxListLimit}, got ${String(limit)}`);
  }
  const cursor = options.cursor === undefined ? undefined : parseCursor(options.cursor);
  const { rows: records, malformed } = await readableRows(recordStore.list({
    workflowName,
    order: "desc",
    limit: limit + 1,
    offset: cursor?.seen ?? 0,
    filter: {
      status: asList(options.status),
      runState: asList(options.runState),
      foreignId: options.foreignId === undefined ? undefined : [options.foreignId],
      // Exclusive, so one millisecond later takes in the runs of the cursor's own millisecond.
      createdBefore: cursor?.createdAt === undefined ? undefined : new Date(cursor.createdAt + 1),
    },
  }));
  // Unreadable rows hold places in the page as well: the next page starts after them.
  const page = records.slice(0, limit);
  const last = page.at(-1);
  let nextCursor: string | null = null;
  if (records.length + malformed.length > limit) {
    if (last) {
      const lastMs = last.createdAt.getTime();
      const sameMs = page.filter((r) => r.createdAt.getTime() === lastMs).length;
      const carried = cursor && cursor.createdAt === lastMs ? cursor.seen : 0;
      nextCursor = formatCursor({ createdAt: lastMs, seen: carried + sameMs });
    } else {
      // Nothing on the page could be read, so no time to start from: the same window, further in.
      nextCursor = formatCursor({ createdAt: cursor?.createdAt, seen: (cursor?.seen ?? 0) + limit });
    }
  }
  return { records: page, nextCursor, malformed };
}

function asList<V>(value: V | V[] | undefined): V[] | undefined {
  if (value === undefined) return undefined;
  return Array.isArray(value) ? value : [value];
}

function formatCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify([cursor.createdAt ?? null, cursor.seen])).toString("base64url");
}

function parseCursor(text: string): Cursor {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, "base64url").toString());
  } catch {
    parsed = undefined;
  }
  const whole = (n: unknown) => Number.isSafeInteger(n) && (n as number) >= 0;
  if (Array.isArray(parsed) && parsed.length === 2 && (parsed[0] === null || whole(parsed[0])) && whole(parsed[1])) {
    return { createdAt: parsed[0] === null ? undefined : (parsed[0] as number), seen: parsed[1] as number };
  }
  throw new InvalidOptionError("cursor", 'list: option "cursor" is not a cursor this workflow handed out');
}
