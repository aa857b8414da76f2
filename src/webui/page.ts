/**
 * The web UI's page, served at the base path. `basePath` is where the browser reached it (ends
 * with "/"); the page's links and API calls start there.
 */
export function pageHtml(basePath: string): string {
  const base = escapeHtml(basePath);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>stepwise</title>
</head>
<body>
<h1>stepwise</h1>
<p>The web UI's API is served under <code>${base}api/</code>.</p>
</body>
</html>
`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
