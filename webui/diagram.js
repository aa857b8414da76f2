// The workflow's diagram with the runs per status on it. The API's Mermaid text gets a label per
// status ("Created (12)"); mermaid, served from the package when installed, draws it. Without
// mermaid the page shows the text and a table of counts.
import { h } from "./element.js";

/** The state id the server's diagram gives a status: its name with anything but word characters as "_". */
function stateId(name) {
  return name.replace(/\W/g, "_");
}

/** A status name as label text: quotes, semicolons and the like would end the Mermaid statement. */
function labelText(name) {
  return name.replace(/[^\w .,/()'-]/g, "_");
}

function appearsIn(text, id) {
  return text.split(/\s+/).includes(id);
}

/**
 * The diagram's text with each status it shows labelled with its count, and statuses holding runs
 * marked: `busy` for those in progress, `done` for terminal ones.
 */
export function labelledDiagram(workflow) {
  const lines = [workflow.diagram.trimEnd()];
  const busy = [];
  const done = [];
  for (const status of workflow.statuses) {
    const id = stateId(status.name);
    if (!appearsIn(workflow.diagram, id)) continue;
    const count = workflow.counts[status.name] ?? 0;
    lines.push(`\tstate "${labelText(status.name)} (${count.toLocaleString("en")})" as ${id}`);
    if (count > 0) (status.terminal ? done : busy).push(id);
  }
  lines.push("\tclassDef busy fill:#dbe7ff,stroke:#3b6fd8,stroke-width:2px,color:#14213d");
  lines.push("\tclassDef done fill:#dcf3e3,stroke:#2f8a4c,stroke-width:2px,color:#123d22");
  if (busy.length > 0) lines.push(`\tclass ${busy.join(",")} busy`);
  if (done.length > 0) lines.push(`\tclass ${done.join(",")} done`);
  return lines.join("\n") + "\n";
}

/**
 * Draws workflows' diagrams into one container, redrawing only when the labelled text changed, so
 * polling the counts does not make the picture flicker. `clear()` empties the container.
 */
export function diagramPainter(container) {
  const mermaid = globalThis.mermaid;
  let drawn = "";
  let renders = 0;
  const sheet = new CSSStyleSheet();
  if (mermaid) {
    mermaid.initialize({
      startOnLoad: false,
      securityLevel: "strict",
      theme: "base",
      fontFamily: "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
      themeVariables: {
        fontSize: "14px",
        primaryColor: "#f5f7fb",
        primaryBorderColor: "#a9b4c6",
        primaryTextColor: "#1f2937",
        lineColor: "#8a96a8",
      },
    });
    document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];
  }
  async function paint(workflow) {
    const text = labelledDiagram(workflow);
    if (text === drawn) return;
    drawn = text;
    if (!mermaid) {
      container.replaceChildren(...diagramFallback(workflow, text));
      return;
    }
    try {
      renders += 1;
      const { svg } = await mermaid.render(`stepwise-diagram-${renders}`, text);
      if (drawn === text) container.replaceChildren(importSvg(svg, sheet));
    } catch (err) {
      container.replaceChildren(h("p", { class: "hint", text: `The diagram could not be drawn: ${err.message}` }), ...diagramFallback(workflow, text));
    }
  }
  function clear() {
    drawn = "";
    container.replaceChildren();
  }
  return { paint, clear };
}

/**
 * The SVG mermaid made, made fit for a page whose policy allows no inline styles: the SVG's own
 * <style> goes into a constructed stylesheet and each style attribute is set through the CSSOM,
 * neither of which the policy blocks. Style attributes are renamed before parsing (inside tags
 * only: text holds no raw "<"), so parsing does not trip the policy either.
 */
function importSvg(svgText, sheet) {
  const renamed = svgText.replace(/(<[^>]*?\s)style="/g, '$1data-style="');
  const parsed = new DOMParser().parseFromString(`<!doctype html><body>${renamed}`, "text/html");
  const svg = parsed.querySelector("svg");
  if (!svg) throw new Error("mermaid made no SVG");
  const css = [...svg.querySelectorAll("style")].map((style) => {
    style.remove();
    return style.textContent;
  });
  sheet.replaceSync(css.join("\n"));
  const node = document.importNode(svg, true);
  for (const el of [node, ...node.querySelectorAll("[data-style]")]) {
    if (!el.hasAttribute("data-style")) continue;
    el.style.cssText = el.getAttribute("data-style");
    el.removeAttribute("data-style");
  }
  return node;
}

/** Without mermaid: the runs per status as a table, and the diagram's text to paste elsewhere. */
function diagramFallback(workflow, text) {
  const rows = workflow.statuses.map((status) =>
    h(
      "tr",
      {},
      h("td", { text: status.name }),
      h("td", { class: "number", text: String(workflow.counts[status.name] ?? 0) }),
      h("td", { text: status.terminal ? "terminal" : "" }),
    ),
  );
  return [
    h("table", { class: "counts" }, h("thead", {}, h("tr", {}, h("th", { text: "Status" }), h("th", { class: "number", text: "Runs" }), h("th", {}))), h("tbody", {}, ...rows)),
    h("p", { class: "hint", text: "Install the mermaid package beside stepwise to see this diagram drawn. Its Mermaid text:" }),
    h("pre", { class: "diagram-text", text }),
  ];
}
