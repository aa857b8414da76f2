// One run: what it is, its object, its meta, its timeline, and the actions its run state allows.
import { h } from "./element.js";
import { actions, isAllowed, runStateBadge } from "./run-state.js";
import { localTime } from "./time.js";
import { workflowHref } from "./workflows.js";

/** Renders `run` into `container`; `onAction(action)` is called when an action button is pressed. */
export function renderRunDetail(container, run, onAction) {
  container.replaceChildren(
    h("a", { class: "back", href: workflowHref(run.workflowName), text: `← Runs of ${run.workflowName}` }),
    h(
      "div",
      { class: "run-head" },
      h("h1", {}, h("span", { class: "label", text: "Foreign id" }), h("span", { id: "run-foreign-id", text: run.foreignId })),
      h("div", { id: "run-state", class: "run-state" }, runStateBadge(run.runState, run.runStateName)),
      h("div", { class: "actions" }, ...actions.map((action) => actionButton(action, run, onAction))),
    ),
    h(
      "div",
      { class: "grid" },
      h("section", { class: "card" }, h("h2", { text: "Run" }), facts(summaryFacts(run))),
      h("section", { class: "card" }, h("h2", { text: "Meta" }), facts(metaFacts(run.meta))),
    ),
    h("section", { class: "card" }, h("h2", { text: "Object" }), objectView(run)),
    run.timeline && h("section", { class: "card" }, h("h2", { text: "Timeline" }), timeline(run.timeline)),
  );
}

function actionButton(action, run, onAction) {
  const allowed = isAllowed(action, run.runState);
  return h("button", {
    type: "button",
    class: action.destructive ? "danger" : undefined,
    "data-action": action.name,
    disabled: !allowed,
    title: allowed ? undefined : `Not possible while the run is ${run.runStateName}`,
    text: action.label,
    onClick: () => onAction(action),
  });
}

function summaryFacts(run) {
  return [
    ["Workflow", run.workflowName],
    ["Run id", h("span", { class: "mono", text: run.runId })],
    ["Status", `${run.statusName} (${run.status})`],
    ["Version", String(run.version)],
    ["Created", h("span", { title: run.createdAt, text: localTime(run.createdAt) })],
    ["Updated", h("span", { title: run.updatedAt, text: localTime(run.updatedAt) })],
  ];
}

/** Every meta field the API sends, the known ones first, so a field added later still shows. */
function metaFacts(meta) {
  const known = ["runStateReason", "statusDescription", "version", "traceOrigin"];
  const names = [...known.filter((name) => name in meta), ...Object.keys(meta).filter((name) => !known.includes(name))];
  return names.map((name) => [name, meta[name] === "" || meta[name] === undefined ? h("span", { class: "hint", text: "—" }) : String(meta[name])]);
}

function facts(pairs) {
  return h("dl", { class: "facts" }, ...pairs.flatMap(([term, value]) => [h("dt", { text: term }), h("dd", {}, value)]));
}

function objectView(run) {
  if (run.objectEncoding === "base64") {
    return h("div", {}, h("p", { class: "hint", text: "The object is not JSON; its bytes in base64:" }), h("pre", { id: "run-object", class: "json", text: run.object }));
  }
  return h("pre", { id: "run-object", class: "json", text: JSON.stringify(run.object, null, 2) });
}

/** The versions the run went through, newest first as in the runs table. */
function timeline(entries) {
  const rows = [...entries].reverse().map((entry) =>
    h(
      "tr",
      {},
      h("td", { class: "number", text: String(entry.version) }),
      h("td", { text: entry.statusName }),
      h("td", {}, runStateBadge(entry.runState, entry.runStateName)),
      h("td", { text: entry.runStateReason }),
      h("td", { title: entry.updatedAt, text: localTime(entry.updatedAt) }),
    ),
  );
  const head = ["Version", "Status", "Run state", "Reason", "At"].map((title, i) => h("th", { class: i === 0 ? "number" : undefined, text: title }));
  return h("table", { id: "run-timeline", class: "runs" }, h("thead", {}, h("tr", {}, ...head)), h("tbody", {}, ...rows));
}
