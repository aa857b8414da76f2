import { InvalidOptionError } from "../errors.js";
import type { Logger } from "../logger.js";
import { assetAnswer, jsonAnswer, pageAnswer, redirectAnswer, type UiAnswer } from "./answer.js";
import { asset } from "./assets.js";
import { checkBearer } from "./auth.js";
import { place } from "./base-path.js";
import { errorAnswer } from "./error-answer.js";
import { pageHtml } from "./page.js";
import { actionReason, checkRunsQuery, checkText, pathParameter, runsListOptions } from "./params.js";
import { MethodNotAllowedError, RouteNotFoundError, UnsupportedMediaTypeError } from "./request-errors.js";
import { isRunAction, runAction } from "./run-action.js";
import { runDetail, workflowRun } from "./run-detail.js";
import { runList, type RunList } from "./run-summary.js";
import type { Catalogue, ServedWorkflow } from "./source.js";
import type { UiRequest } from "./ui-request.js";
import { workflowSummary } from "./workflow-summary.js";

/** What the routes need, resolved once from the options. */
export interface UiSettings {
  readonly catalogue: Catalogue;
  readonly token: string | false;
  readonly basePath: string;
  readonly logger: Logger;
}

/** The most a request body may hold: a reason is a sentence, not a document. */
const maxBodyBytes = 16 * 1024;
const assetName = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;

/** Answers one request of the web UI; never throws, an error becomes its answer. */
export async function route(ui: UiSettings, request: UiRequest): Promise<UiAnswer> {
  try {
    return await answer(ui, request);
  } catch (err) {
    return errorAnswer(err, ui.logger);
  }
}

async function answer(ui: UiSettings, request: UiRequest): Promise<UiAnswer> {
  const where = place(request, ui.basePath);
  if (where === undefined) throw new RouteNotFoundError(request.path);
  if ("redirectTo" in where) {
    allow(request, "GET");
    return redirectAnswer(where.redirectTo);
  }
  const segments = where.rest.split("/");
  if (where.rest === "") {
    allow(request, "GET");
    return pageAnswer(pageHtml(where.base));
  }
  if (segments[0] === "api") {
    // Before the route is looked at, so a caller without the token learns nothing, not even which routes exist.
    checkBearer(request.header("authorization"), ui.token);
    return api(ui, request, segments.slice(1));
  }
  const name = segments[1];
  if (segments[0] === "assets" && segments.length === 2 && name !== undefined && assetName.test(name)) {
    allow(request, "GET");
    const found = asset(name);
    if (found) return assetAnswer(found, request.header("if-none-match"));
  }
  throw new RouteNotFoundError(request.path);
}

async function api(ui: UiSettings, request: UiRequest, segments: readonly string[]): Promise<UiAnswer> {
  const [resource, workflowSegment, runIdSegment, action, ...more] = segments;
  if (resource === "workflows" && segments.length === 1) {
    allow(request, "GET");
    return jsonAnswer(200, await Promise.all((await ui.catalogue.all()).map(workflowSummary)));
  }
  if (resource === "runs" && segments.length === 1) {
    allow(request, "GET");
    return jsonAnswer(200, await listAnswer(ui.catalogue, request.query));
  }
  if (resource === "runs" && workflowSegment !== undefined && runIdSegment !== undefined && more.length === 0) {
    if (action === undefined) {
      allow(request, "GET");
      const workflow = await ui.catalogue.workflow(pathParameter("workflow", workflowSegment));
      return jsonAnswer(200, runDetail(workflow, await workflowRun(workflow, pathParameter("runId", runIdSegment))));
    }
    if (isRunAction(action)) {
      allow(request, "POST");
      checkJson(request.header("content-type"));
      const reason = actionReason(await request.body(maxBodyBytes));
      const workflow = await ui.catalogue.workflow(pathParameter("workflow", workflowSegment));
      return jsonAnswer(200, await runAction(workflow, pathParameter("runId", runIdSegment), action, reason));
    }
  }
  throw new RouteNotFoundError(request.path);
}

async function listAnswer(catalogue: Catalogue, query: URLSearchParams): Promise<RunList> {
  checkRunsQuery(query);
  const workflow = await listedWorkflow(catalogue, query.get("workflow"));
  return runList(workflow, await runsListOptions(query, () => workflow.statuses()));
}

/** The workflow named by `?workflow=`, which may be left out when only one is served. */
async function listedWorkflow(catalogue: Catalogue, name: string | null): Promise<ServedWorkflow> {
  if (name !== null) return catalogue.workflow(checkText("workflow", name));
  const all = await catalogue.all();
  const [only] = all;
  if (only !== undefined && all.length === 1) return only;
  throw new InvalidOptionError("workflow", `parameter "workflow" is required: ${all.length} workflows are served (${all.map((w) => w.name).join(", ")})`);
}

/** GET routes take HEAD as well; HEAD answers carry no body. */
function allow(request: UiRequest, method: "GET" | "POST"): void {
  if (request.method === method || (method === "GET" && request.method === "HEAD")) return;
  throw new MethodNotAllowedError(request.method, method === "GET" ? ["GET", "HEAD"] : ["POST"]);
}

/** Only JSON bodies: a browser sends those cross-site only after a CORS preflight, which the web UI never grants. */
function checkJson(contentType: string | undefined): void {
  const mediaType = (contentType ?? "").split(";")[0]?.trim().toLowerCase();
  if (mediaType !== "application/json") throw new UnsupportedMediaTypeError(contentType ?? "");
}
