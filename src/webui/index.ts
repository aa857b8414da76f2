import type { IncomingMessage, ServerResponse } from "node:http";
import { fetchHandler } from "./fetch-handler.js";
import { nodeHandler } from "./node-handler.js";
import { resolveOptions, type WebUiOptions } from "./options.js";

export type { WebUiCommonOptions, WebUiOptions, WebUiStoreOptions, WebUiWorkflowsOptions } from "./options.js";
export type { AnyWorkflow } from "./built-source.js";
export type { StatusSummary } from "./source.js";
export type { WorkflowSummary } from "./workflow-summary.js";
export type { MalformedRunSummary, RunList, RunSummary } from "./run-summary.js";
export type { RunDetail, TimelineEntry } from "./run-detail.js";
export type { ServedObject } from "./served-object.js";
export type { ActionResult, RunAction } from "./run-action.js";
export type { ErrorBody } from "./error-answer.js";
export {
  BodyTooLargeError,
  MalformedBodyError,
  MethodNotAllowedError,
  RequestRefusedError,
  RouteNotFoundError,
  UnauthorizedError,
  UnsupportedMediaTypeError,
} from "./request-errors.js";

/** The web UI's two entry points; both serve the same routes. */
export interface WebUi {
  /** For node:http, Express (`app.use(path, ui.handler)`) and Fastify's middleware; resolves once answered, never rejects. */
  handler(req: IncomingMessage, res: ServerResponse): Promise<void>;
  /** For Web-standard servers (Hono, Bun, Deno): a `Request` in, a `Response` out. */
  fetch(request: Request): Promise<Response>;
}

/**
 * The web UI and its JSON API: runs with filters and paging, each run's object, meta and history,
 * pause/resume/cancel/delete, and each workflow's diagram with its runs per status. Every `/api/`
 * request needs `Authorization: Bearer <token>`; the page asks for the token and keeps it in the tab.
 * Throws InvalidOptionError for a missing token, a malformed base path, or nothing to serve.
 *
 * ```ts
 * const ui = webui({ workflows: [orders], token: process.env.STEPWISE_UI_TOKEN!, basePath: "/ops/" });
 * http.createServer(ui.handler).listen(8080);     // node:http
 * app.use("/ops", ui.handler);                     // Express (basePath may then stay "/")
 * hono.all("/ops/*", (c) => ui.fetch(c.req.raw));  // Hono, Bun, Deno
 * ```
 */
export function webui(options: WebUiOptions): WebUi {
  const settings = resolveOptions(options);
  return { handler: nodeHandler(settings), fetch: fetchHandler(settings) };
}
