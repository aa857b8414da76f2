import { hasMermaid } from "./assets.js";

/**
 * The web UI's page, served at the base path. `basePath` is where the browser reached it (ends
 * with "/"); the page's assets load from there, and its script finds the API from its own address.
 * The page holds no inline script or style, so it runs under a `'self'`-only content security policy.
 */
export function pageHtml(basePath: string): string {
  const base = escapeHtml(basePath);
  // Classic deferred scripts and module scripts run in document order, so mermaid is set before app.js runs.
  const mermaidScript = hasMermaid() ? `<script src="${base}assets/mermaid.min.js" defer></script>\n` : "";
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>stepwise</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${base}assets/app.css">
${mermaidScript}<script type="module" src="${base}assets/app.js"></script>
</head>
<body>
<header class="topbar">
  <a class="brand" href="#">stepwise</a>
  <nav id="workflow-tabs" class="tabs" aria-label="Workflows"></nav>
  <button id="sign-out" class="quiet" type="button" hidden>Forget token</button>
</header>
<main>
  <p id="notice" class="notice" role="alert" hidden></p>
  <section id="sign-in" class="card sign-in" hidden>
    <h1>Sign in</h1>
    <p>Enter the web UI's token. It is kept in this tab only and sent with every request.</p>
    <form id="token-form">
      <label for="token-input">Token</label>
      <input id="token-input" name="token" type="password" autocomplete="off" required>
      <button type="submit" class="primary">Open</button>
    </form>
  </section>
  <section id="overview" hidden>
    <section class="card">
      <div class="card-head"><h2 id="diagram-title">Diagram</h2><span class="hint">runs per status, refreshed every few seconds</span></div>
      <div id="diagram" class="diagram"></div>
    </section>
    <section class="card">
      <div class="card-head"><h2>Runs</h2></div>
      <form id="filters" class="filters">
        <label>Status <select id="filter-status" name="status"><option value="">Any</option></select></label>
        <label>Run state <select id="filter-run-state" name="runState"><option value="">Any</option></select></label>
        <label>Foreign id <input id="filter-foreign-id" name="foreignId" type="search" autocomplete="off"></label>
        <button type="submit" class="primary">Filter</button>
        <button id="filter-clear" type="button" class="quiet">Clear</button>
      </form>
      <table id="runs" class="runs">
        <thead><tr><th>Foreign id</th><th>Status</th><th>Run state</th><th class="number">Version</th><th>Created</th><th>Updated</th><th>Run id</th></tr></thead>
        <tbody></tbody>
      </table>
      <p id="runs-empty" class="empty" hidden>No runs match.</p>
      <p id="runs-malformed" class="notice" role="alert" hidden></p>
      <div class="pager">
        <button id="page-newer" type="button" disabled>&larr; Newer</button>
        <span id="page-number" class="hint"></span>
        <button id="page-older" type="button" disabled>Older &rarr;</button>
      </div>
    </section>
  </section>
  <section id="run" hidden></section>
</main>
<dialog id="confirm">
  <form id="confirm-form">
    <h2 id="confirm-title"></h2>
    <p id="confirm-text"></p>
    <label id="confirm-reason-label" for="confirm-reason">Reason</label>
    <input id="confirm-reason" name="reason" type="text" autocomplete="off">
    <div class="dialog-buttons">
      <button id="confirm-cancel" type="button">Keep as it is</button>
      <button id="confirm-ok" type="submit" class="primary"></button>
    </div>
  </form>
</dialog>
</body>
</html>
`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
