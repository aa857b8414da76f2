import { StepwiseError } from "../errors.js";
import { errorText, type Logger } from "../logger.js";
import { jsonAnswer, type UiAnswer } from "./answer.js";
import { MethodNotAllowedError, RequestRefusedError } from "./request-errors.js";

/** The body of every refused or failed request. */
export interface ErrorBody {
  error: { code: string; message: string };
}

/** The HTTP status of the stepwise errors a route may meet; request refusals carry their own. */
const statusByCode: ReadonlyMap<string, number> = new Map([
  ["INVALID_OPTION", 400],
  ["VALUE_NOT_STORABLE", 400],
  ["RECORD_NOT_FOUND", 404],
  ["WORKFLOW_NOT_FOUND", 404],
  ["INVALID_TRANSITION", 409],
  ["VERSION_CONFLICT", 409],
]);

/**
 * The answer for an error thrown while routing: its code and message for stepwise's own errors, a
 * bare 500 for anything else (a driver's message may hold SQL or addresses), which is logged
 * instead. A stack trace is never sent.
 */
export function errorAnswer(err: unknown, logger: Logger): UiAnswer {
  if (err instanceof RequestRefusedError) {
    const headers: { [name: string]: string } = err instanceof MethodNotAllowedError ? { allow: err.allowed.join(", ") } : {};
    if (err.httpStatus === 401) headers["www-authenticate"] = "Bearer";
    return jsonAnswer(err.httpStatus, body(err.code, err.message), headers);
  }
  const status = err instanceof StepwiseError ? statusByCode.get(err.code) : undefined;
  if (err instanceof StepwiseError && status !== undefined) return jsonAnswer(status, body(err.code, err.message));
  logger.error(`web UI: a request failed: ${errorText(err)}`, { err });
  // A stepwise error's message names runs and fields, never connection details: worth showing.
  if (err instanceof StepwiseError) return jsonAnswer(500, body(err.code, err.message));
  return jsonAnswer(500, body("INTERNAL", "the request failed; the server's log says why"));
}

function body(code: string, message: string): ErrorBody {
  return { error: { code, message } };
}
