import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

/** A static file of the page: its bytes or text, its `Content-Type`, and an ETag of its content. */
export interface Asset {
  body: Uint8Array | string;
  contentType: string;
  etag: string;
}

const javascript = "text/javascript; charset=utf-8";

/**
 * The page's own files, shipped raw in the package's `webui/` folder. Both `src/webui/` and
 * `dist/webui/` sit two levels below the package root, so one relative address finds them from
 * sources and from the build alike.
 */
const pageFiles: ReadonlyMap<string, string> = new Map([
  ["app.css", "text/css; charset=utf-8"],
  ["app.js", javascript],
  ["api.js", javascript],
  ["element.js", javascript],
  ["run-state.js", javascript],
  ["time.js", javascript],
  ["confirm.js", javascript],
  ["diagram.js", javascript],
  ["workflows.js", javascript],
  ["runs.js", javascript],
  ["run-detail.js", javascript],
]);

/** Mermaid's self-contained browser bundle: one classic script that sets `globalThis.mermaid`. */
const mermaidBundle = "mermaid.min.js";

/**
 * The asset served at `GET <basePath>assets/<name>`, or undefined when there is none of that name.
 * `name` is one path segment of letters, digits, ".", "_" and "-", never starting with a dot.
 * Only the names listed here are served, so no request reaches any other file.
 */
export function asset(name: string): Asset | undefined {
  const known = loaded.get(name);
  if (known) return known;
  let found: Omit<Asset, "etag"> | undefined;
  if (name === mermaidBundle) {
    const path = mermaidPath();
    found = path === undefined ? undefined : { body: readFileSync(path), contentType: javascript };
  } else {
    const contentType = pageFiles.get(name);
    found = contentType === undefined ? undefined : { body: readFileSync(new URL(`../../webui/${name}`, import.meta.url), "utf8"), contentType };
  }
  if (!found) return undefined;
  const read: Asset = { ...found, etag: `"${createHash("sha256").update(found.body).digest("base64url").slice(0, 27)}"` };
  loaded.set(name, read);
  return read;
}

/**
 * Each file read once: mermaid's bundle alone is megabytes. Only the names above are ever loaded,
 * so this holds a dozen files at most.
 */
const loaded = new Map<string, Asset>();

/**
 * Whether the optional peer `mermaid` is installed, so the page can draw diagrams; without it the
 * page shows the diagram's text and a table of counts.
 */
export function hasMermaid(): boolean {
  return mermaidPath() !== undefined;
}

/** Resolved from this module, so it is the mermaid installed beside stepwise, wherever the app runs. */
function mermaidPath(): string | undefined {
  try {
    return createRequire(import.meta.url).resolve(`mermaid/dist/${mermaidBundle}`);
  } catch {
    return undefined;
  }
}
