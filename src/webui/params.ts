import { InvalidOptionError } from "../errors.js";
import { maxListLimit, type ListOptions } from "../list.js";
import { RunState, runStateName } from "../runstate.js";
import { checkStorableText } from "../storable-text.js";
import { MalformedBodyError } from "./request-errors.js";
import type { StatusSummary } from "./source.js";

/** The longest text a parameter may hold: ids and names are far shorter, and nothing longer is worth a lookup. */
const maxTextLength = 1024;

/** The query parameters of `GET /api/runs`; any other is refused, so a misspelt filter is not silently ignored. */
const runsParameters = new Set(["workflow", "status", "runState", "foreignId", "limit", "cursor"]);
/** May be given more than once, to match any of the values. */
const repeatable = new Set(["status", "runState"]);

/** Refuses (INVALID_OPTION) text no store could hold or no run could have: empty, too long, a NUL, a lone surrogate. */
export function checkText(parameter: string, value: string): string {
  if (value === "" || value.length > maxTextLength) {
    throw new InvalidOptionError(parameter, `parameter "${parameter}" must be 1 to ${maxTextLength} characters long`);
  }
  try {
    checkStorableText(`parameter "${parameter}"`, value);
  } catch (err) {
    throw new InvalidOptionError(parameter, (err as Error).message, { cause: err });
  }
  return value;
}

/** A percent-encoded path segment (`:workflow`, `:runId`), decoded and checked. */
export function pathParameter(parameter: string, segment: string): string {
  let value: string;
  try {
    value = decodeURIComponent(segment);
  } catch (err) {
    throw new InvalidOptionError(parameter, `parameter "${parameter}" is not validly percent-encoded`, { cause: err });
  }
  return checkText(parameter, value);
}

/** Refuses unknown query parameters and a second value of one that takes a single value. */
export function checkRunsQuery(query: URLSearchParams): void {
  for (const key of new Set(query.keys())) {
    if (!runsParameters.has(key)) {
      throw new InvalidOptionError(key, `unknown parameter "${key}" (known: ${[...runsParameters].join(", ")})`);
    }
    if (!repeatable.has(key) && query.getAll(key).length > 1) throw new InvalidOptionError(key, `parameter "${key}" is given more than once`);
  }
}

/**
 * The filters and paging of `GET /api/runs`. `status` and `runState` take the number or the name
 * (`Paused` or `paused`); `limit` 1 to 500.
 */
export async function runsListOptions(query: URLSearchParams, statuses: () => Promise<StatusSummary[]>): Promise<ListOptions<number>> {
  const options: ListOptions<number> = {};
  const statusValues = query.getAll("status");
  if (statusValues.length > 0) {
    const known = statusValues.every((v) => wholeNumber(v) !== undefined) ? [] : await statuses();
    options.status = statusValues.map((value) => statusParameter(value, known));
  }
  const runStates = query.getAll("runState");
  if (runStates.length > 0) options.runState = runStates.map(runStateParameter);
  const foreignId = query.get("foreignId");
  if (foreignId !== null) options.foreignId = checkText("foreignId", foreignId);
  const limit = query.get("limit");
  if (limit !== null) options.limit = limitParameter(limit);
  const cursor = query.get("cursor");
  if (cursor !== null) options.cursor = checkText("cursor", cursor);
  return options;
}

function statusParameter(value: string, known: readonly StatusSummary[]): number {
  const number = wholeNumber(value);
  if (number !== undefined) return number;
  const lower = value.toLowerCase();
  const found = known.find((s) => s.name === value) ?? known.find((s) => s.name.toLowerCase() === lower);
  if (found) return found.status;
  throw new InvalidOptionError("status", `parameter "status" is neither a status number nor a status name of the workflow: ${JSON.stringify(value)}`);
}

function runStateParameter(value: string): RunState {
  const number = wholeNumber(value);
  const lower = value.toLowerCase();
  const states = Object.values(RunState).filter((v): v is RunState => typeof v === "number");
  const found = states.find((s) => s === number || runStateName(s).toLowerCase() === lower);
  if (found !== undefined) return found;
  throw new InvalidOptionError("runState", `parameter "runState" must be a run state number (0 to 7) or name (${states.map(runStateName).join(", ")}), got ${JSON.stringify(value)}`);
}

function limitParameter(value: string): number {
  const limit = wholeNumber(value);
  if (limit === undefined || limit < 1 || limit > maxListLimit) {
    throw new InvalidOptionError("limit", `parameter "limit" must be a whole number from 1 to ${maxListLimit}, got ${JSON.stringify(value)}`);
  }
  return limit;
}

/** Digits only, as a safe integer; anything else (signs, decimals, spaces, hex) is not a number here. */
function wholeNumber(value: string): number | undefined {
  if (!/^\d{1,15}$/.test(value)) return undefined;
  return Number(value);
}

/** The body of a run action: a JSON object with an optional `reason` and nothing else. */
export function actionReason(body: string): string | undefined {
  if (body.trim() === "") return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (err) {
    throw new MalformedBodyError("the body is not valid JSON", { cause: err });
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new MalformedBodyError('the body must be a JSON object such as {"reason":"…"}');
  }
  for (const key of Object.keys(parsed)) {
    if (key !== "reason") throw new InvalidOptionError(key, `unknown field "${key}" in the body (known: reason)`);
  }
  const reason = (parsed as { reason?: unknown }).reason;
  if (reason === undefined || reason === "") return undefined;
  if (typeof reason !== "string") throw new InvalidOptionError("reason", `field "reason" must be a string, got ${typeof reason}`);
  return checkText("reason", reason);
}
