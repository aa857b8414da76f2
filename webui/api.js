// The web UI's JSON API, called with the token this tab was given. The API lives beside the
// assets folder this module is served from, so the page works under any base path.
const apiBase = new URL("../api/", import.meta.url);
const tokenKey = "stepwise-webui-token";

/** A refused or failed API call, with the API's error code and message. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** The token of this tab: sessionStorage ends with the tab, so closing it forgets the token. */
export function savedToken() {
  return sessionStorage.getItem(tokenKey);
}

export function saveToken(token) {
  sessionStorage.setItem(tokenKey, token);
}

export function forgetToken() {
  sessionStorage.removeItem(tokenKey);
}

export function isUnauthorized(err) {
  return err instanceof ApiError && err.status === 401;
}

export function listWorkflows() {
  return call("workflows");
}

/** One page of runs; `query` holds workflow, status, runState, foreignId, limit and cursor, empty ones left out. */
export function listRuns(query) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== "") params.set(name, String(value));
  }
  return call(`runs?${params}`);
}

export function getRun(workflow, runId) {
  return call(`runs/${encodeURIComponent(workflow)}/${encodeURIComponent(runId)}`);
}

/** Pauses, resumes, cancels or deletes a run; answers its new run state. */
export function changeRun(workflow, runId, action, reason) {
  const path = `runs/${encodeURIComponent(workflow)}/${encodeURIComponent(runId)}/${action}`;
  return call(path, { method: "POST", body: reason ? { reason } : {} });
}

async function call(path, { method = "GET", body } = {}) {
  const headers = { accept: "application/json" };
  const token = savedToken();
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(new URL(path, apiBase), {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store",
  });
  const answer = await response.json().catch(() => null);
  if (!response.ok) {
    const error = answer?.error ?? {};
    throw new ApiError(response.status, error.code ?? `HTTP_${response.status}`, error.message ?? response.statusText);
  }
  return answer;
}
