// The web UI page: signs in with the token, follows the address (#/workflows/<name>,
// #/runs/<workflow>/<runId>), and keeps what it shows fresh by polling the API.
import { ApiError, changeRun, forgetToken, getRun, isUnauthorized, listRuns, listWorkflows, savedToken, saveToken } from "./api.js";
import { confirmAction } from "./confirm.js";
import { diagramPainter } from "./diagram.js";
import { byId, show } from "./element.js";
import { renderRunDetail } from "./run-detail.js";
import { fillRunStateFilter, fillStatusFilter, renderRuns } from "./runs.js";
import { renderTabs } from "./workflows.js";

const pageSize = 20;
const pollMs = 4000;

const state = {
  workflows: [],
  /** The workflow the runs table shows. */
  workflow: null,
  filters: { status: "", runState: "", foreignId: "" },
  /** The cursor of each page seen so far: the first page has none; "Older" adds one, "Newer" drops one. */
  cursors: [null],
  nextCursor: null,
  /** Bumped by each load, so an answer that arrives after a newer request was made is dropped. */
  loads: 0,
  /** What the runs table or the run view shows, as JSON: a poll that finds it unchanged redraws nothing, so a text selection survives. */
  shown: "",
};

const diagram = diagramPainter(byId("diagram"));

/** Which view the address asks for. */
function currentRoute() {
  let parts;
  try {
    parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  } catch {
    return { view: "overview", workflow: undefined };
  }
  if (parts[0] === "runs" && parts.length === 3) return { view: "run", workflow: parts[1], runId: parts[2] };
  if (parts[0] === "workflows" && parts.length === 2) return { view: "overview", workflow: parts[1] };
  return { view: "overview", workflow: undefined };
}

function notify(message) {
  byId("notice").textContent = message;
  show(byId("notice"), Boolean(message));
}

/** Shows an API failure; a refused token sends the user back to sign in. */
function failed(err) {
  if (isUnauthorized(err)) return askForToken(savedToken() ? "The token was refused. Enter it again." : "");
  notify(err instanceof ApiError ? `${err.message} (${err.code})` : `The web UI could not be reached: ${err.message}`);
}

/** Forgets the token and every run shown with it, and asks for a token. */
function askForToken(message) {
  forgetToken();
  notify(message);
  for (const id of ["overview", "run", "sign-out"]) show(byId(id), false);
  for (const id of ["workflow-tabs", "run"]) byId(id).replaceChildren();
  byId("runs").tBodies[0].replaceChildren();
  diagram.clear();
  state.workflows = [];
  state.workflow = null;
  state.shown = "";
  show(byId("sign-in"), true);
  byId("token-input").focus();
}

/** Loads the workflows and shows the view the address names. */
async function open() {
  try {
    state.workflows = await listWorkflows();
  } catch (err) {
    return failed(err);
  }
  notify("");
  show(byId("sign-in"), false);
  show(byId("sign-out"), Boolean(savedToken()));
  await showRoute();
}

async function showRoute() {
  const route = currentRoute();
  const name = route.workflow ?? state.workflow ?? state.workflows[0]?.name;
  const workflow = state.workflows.find((wf) => wf.name === name);
  renderTabs(byId("workflow-tabs"), state.workflows, workflow?.name);
  show(byId("overview"), route.view === "overview");
  show(byId("run"), route.view === "run");
  if (route.view === "run") return loadRun(route.workflow, route.runId);
  if (!workflow) return notify(name ? `No workflow named "${name}" is served here.` : "No workflows are served here.");
  if (workflow.name !== state.workflow) chooseWorkflow(workflow);
  await Promise.all([diagram.paint(workflow), loadRuns()]);
}

/** A new workflow starts from the first page, unfiltered. */
function chooseWorkflow(workflow) {
  state.workflow = workflow.name;
  byId("diagram-title").textContent = workflow.name;
  fillStatusFilter(byId("filter-status"), workflow.statuses);
  byId("filters").reset();
  state.filters = { status: "", runState: "", foreignId: "" };
  state.cursors = [null];
}

async function loadRuns() {
  const load = ++state.loads;
  try {
    const page = await listRuns({ workflow: state.workflow, ...state.filters, limit: pageSize, cursor: state.cursors.at(-1) });
    if (load !== state.loads) return;
    state.nextCursor = page.nextCursor;
    if (changed(page)) {
      renderRuns(byId("runs").tBodies[0], page.runs);
      show(byId("runs-empty"), page.runs.length === 0);
      showMalformed(page.malformed ?? []);
    }
    byId("page-newer").disabled = state.cursors.length === 1;
    byId("page-older").disabled = page.nextCursor === null;
    byId("page-number").textContent = `Page ${state.cursors.length}`;
  } catch (err) {
    failed(err);
  }
}

/** Runs of the page the store could not read: named, so an operator can cancel or mend them. */
function showMalformed(malformed) {
  const list = byId("runs-malformed");
  list.textContent = malformed.length === 0 ? "" : `Left out, the store cannot read them: ${malformed.map((m) => `run ${m.runId} (${m.error.message})`).join("; ")}`;
  show(list, malformed.length > 0);
}

async function loadRun(workflow, runId) {
  const load = ++state.loads;
  try {
    const run = await getRun(workflow, runId);
    if (load !== state.loads || !changed(run)) return;
    renderRunDetail(byId("run"), run, (action) => act(run, action));
  } catch (err) {
    // Not another run's detail under this one's address.
    byId("run").replaceChildren();
    state.shown = "";
    failed(err);
  }
}

/** Whether `answer` differs from what is shown; if so, it is what will be shown. */
function changed(answer) {
  const json = JSON.stringify(answer);
  if (json === state.shown) return false;
  state.shown = json;
  return true;
}

/** Asks for confirmation, changes the run, and shows it as it is now (or why it could not change). */
async function act(run, action) {
  const answer = await confirmAction(action, run.foreignId);
  if (!answer) return;
  try {
    await changeRun(run.workflowName, run.runId, action.name, answer.reason);
    notify("");
  } catch (err) {
    failed(err);
  }
  await refresh();
}

/** Fetches the counts and the view shown again; polling and actions both end here. */
async function refresh() {
  try {
    state.workflows = await listWorkflows();
  } catch (err) {
    return failed(err);
  }
  await showRoute();
}

function submitFilters(event) {
  // Never submitted: the filters change the table, not the page.
  event.preventDefault();
  applyFilters();
}

function applyFilters() {
  const form = new FormData(byId("filters"));
  state.filters = { status: form.get("status"), runState: form.get("runState"), foreignId: form.get("foreignId").trim() };
  state.cursors = [null];
  loadRuns();
}

function navigated() {
  notify("");
  showRoute();
}

function clearFilters() {
  byId("filters").reset();
  applyFilters();
}

function older() {
  if (state.nextCursor === null) return;
  state.cursors.push(state.nextCursor);
  loadRuns();
}

function newer() {
  if (state.cursors.length > 1) state.cursors.pop();
  loadRuns();
}

function signIn(event) {
  event.preventDefault();
  const token = byId("token-input").value.trim();
  if (!token) return;
  saveToken(token);
  byId("token-input").value = "";
  open();
}

/** Polls while the tab is visible and signed in; the next poll is planned only after this one ended. */
async function poll() {
  const signedIn = byId("sign-in").hidden;
  const dialogOpen = byId("confirm").open;
  if (signedIn && !dialogOpen && document.visibilityState === "visible") await refresh();
  setTimeout(poll, pollMs);
}

function start() {
  fillRunStateFilter(byId("filter-run-state"));
  byId("filters").addEventListener("submit", submitFilters);
  byId("filter-clear").addEventListener("click", clearFilters);
  byId("page-older").addEventListener("click", older);
  byId("page-newer").addEventListener("click", newer);
  byId("token-form").addEventListener("submit", signIn);
  byId("sign-out").addEventListener("click", () => askForToken(""));
  for (const id of ["filter-status", "filter-run-state"]) byId(id).addEventListener("change", applyFilters);
  window.addEventListener("hashchange", navigated);
  open();
  setTimeout(poll, pollMs);
}

start();
