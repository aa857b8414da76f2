import { InvalidOptionError } from "../errors.js";
import type { UiRequest } from "./ui-request.js";

/** Where a request falls: under the base (`rest` is the path after it), or on the base without its slash. */
export type Place = { base: string; rest: string } | { redirectTo: string };

/**
 * Checks and normalises the `basePath` option: a path starting with "/", given an ending "/".
 * Refuses (InvalidOptionError) a query, fragment, "." or ".." segment, or spaces.
 */
export function normalBasePath(basePath: string | undefined): string {
  if (basePath === undefined) return "/";
  const invalid = (why: string) => new InvalidOptionError("basePath", `webui: option "basePath" ${why}, got ${JSON.stringify(basePath)}`);
  if (typeof basePath !== "string" || !basePath.startsWith("/")) throw invalid('must be a path starting with "/"');
  if (/[?#\s\\]/.test(basePath) || basePath.startsWith("//")) throw invalid("must be a plain path");
  if (basePath.split("/").some((segment) => segment === "." || segment === "..")) throw invalid('must not hold "." or ".." segments');
  return basePath.endsWith("/") ? basePath : `${basePath}/`;
}

/**
 * Finds the request under the base path. A framework that mounted the handler (Express's
 * `app.use("/ops", ui.handler)`) gives its mount path, and the base is then looked for under it
 * first, so the base path may stay "/" there; the full path the browser used is tried against
 * `basePath` alone after that. Undefined when the request is outside the web UI.
 */
export function place(request: UiRequest, basePath: string): Place | undefined {
  const bases = request.mountPath === "" ? [basePath] : [`${request.mountPath.replace(/\/+$/, "")}${basePath}`, basePath];
  for (const base of bases) {
    if (request.path.startsWith(base)) return { base, rest: request.path.slice(base.length) };
    if (request.path === base.slice(0, -1)) return { redirectTo: base };
  }
  return undefined;
}
