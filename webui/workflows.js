// The workflow tabs of the top bar: each workflow with its number of runs.
import { h } from "./element.js";

export function totalRuns(workflow) {
  return Object.values(workflow.counts).reduce((sum, n) => sum + n, 0);
}

export function workflowHref(name) {
  return `#/workflows/${encodeURIComponent(name)}`;
}

export function renderTabs(nav, workflows, current) {
  nav.replaceChildren(
    ...workflows.map((wf) =>
      h(
        "a",
        { class: wf.name === current ? "tab active" : "tab", href: workflowHref(wf.name), "aria-current": wf.name === current ? "page" : undefined },
        wf.name,
        h("span", { class: "count", text: totalRuns(wf).toLocaleString("en") }),
      ),
    ),
  );
}
