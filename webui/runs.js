// The runs table and its filters.
import { h } from "./element.js";
import { runStateBadge, runStates, spaced } from "./run-state.js";
import { localTime } from "./time.js";

export function runHref(workflow, runId) {
  return `#/runs/${encodeURIComponent(workflow)}/${encodeURIComponent(runId)}`;
}

/** Fills a filter's options, keeping what was selected where it is still offered. */
function fillSelect(select, options) {
  const selected = select.value;
  select.replaceChildren(h("option", { value: "", text: "Any" }), ...options.map(({ value, label }) => h("option", { value, text: label })));
  select.value = options.some((o) => String(o.value) === selected) ? selected : "";
}

export function fillStatusFilter(select, statuses) {
  fillSelect(select, statuses.map((s) => ({ value: String(s.status), label: s.name })));
}

export function fillRunStateFilter(select) {
  fillSelect(select, runStates.map((s) => ({ value: String(s.value), label: spaced(s.name) })));
}

export function renderRuns(tbody, runs) {
  tbody.replaceChildren(...runs.map(runRow));
}

function runRow(run) {
  const href = runHref(run.workflowName, run.runId);
  return h(
    "tr",
    { "data-run-id": run.runId },
    h("td", {}, h("a", { href, text: run.foreignId })),
    h("td", { text: run.statusName }),
    h("td", {}, runStateBadge(run.runState, run.runStateName)),
    h("td", { class: "number", text: String(run.version) }),
    h("td", { title: run.createdAt, text: localTime(run.createdAt) }),
    h("td", { title: run.updatedAt, text: localTime(run.updatedAt) }),
    h("td", { class: "mono", title: run.runId, text: run.runId.slice(0, 8) }),
  );
}
