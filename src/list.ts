import type { WorkflowContext } from "./context.js";
import { InvalidOptionError } from "./errors.js";
import type { Run } from "./run.js";
import type { Record, RecordStore } from "./record.js";
import type { RunState } from "./runstate.js";
import { decodeRun } from "./update.js";

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

/** A page of stored records, newest first; `nextCursor` is null on the last page. */
export interface RecordPage {
  records: Record[];
  nextCursor: string | null;
}

/** The most runs one page may hold. */
export const maxListLimit = 500;
const defaultListLimit = 50;

/**
 * Where the next page starts: before `createdAt`, after skipping `seen` runs created at that very
 * millisecond. Keyed on creation time rather than an offset, so runs started while a caller pages
 * do not shift the pages.
 */
interface Cursor {
  createdAt: number;
  seen: number;
}

/** One page of the workflow's runs, newest first, decoded with the workflow's codec. */
export async function listRuns<T, S extends number>(ctx: WorkflowContext<T>, options: ListOptions<S>): Promise<RunPage<T, S>> {
  const page = await listRecords(ctx.recordStore, ctx.name, options);
  return { runs: page.records.map((record) => decodeRun<T, S>(ctx, record)), nextCursor: page.nextCursor };
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
  const records = await recordStore.list({
    workflowName,
    order: "desc",
    limit: limit + 1,
    offset: cursor?.seen ?? 0,
    filter: {
      status: asList(options.status),
      runState: asList(options.runState),
      foreignId: options.foreignId === undefined ? undefined : [options.foreignId],
      // Exclusive, so one millisecond later takes in the runs of the cursor's own millisecond.
      createdBefore: cursor ? new Date(cursor.createdAt + 1) : undefined,
    },
  });
  const page = records.slice(0, limit);
  const last = page.at(-1);
  let nextCursor: string | null = null;
  if (records.length > limit && last) {
    const lastMs = last.createdAt.getTime();
    const sameMs = page.filter((r) => r.createdAt.getTime() === lastMs).length;
    const carried = cursor && cursor.createdAt === lastMs ? cursor.seen : 0;
    nextCursor = formatCursor({ createdAt: lastMs, seen: carried + sameMs });
  }
  return { records: page, nextCursor };
}

function asList<V>(value: V | V[] | undefined): V[] | undefined {
  if (value === undefined) return undefined;
  return Array.isArray(value) ? value : [value];
}

function formatCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify([cursor.createdAt, cursor.seen])).toString("base64url");
}

function parseCursor(text: string): Cursor {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, "base64url").toString());
  } catch {
    parsed = undefined;
  }
  if (Array.isArray(parsed) && parsed.length === 2 && parsed.every((n) => Number.isSafeInteger(n) && n >= 0)) {
    return { createdAt: parsed[0] as number, seen: parsed[1] as number };
  }
  throw new InvalidOptionError("cursor", 'list: option "cursor" is not a cursor this workflow handed out');
}
