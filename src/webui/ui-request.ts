/**
 * A request as the web UI's routes see it, whichever server it came through (node:http and the
 * frameworks on it, or a Web-standard `Request`): both entry points make one and route it the same way.
 */
export interface UiRequest {
  readonly method: string;
  /** The path as the client sent it, still percent-encoded, without the query. */
  readonly path: string;
  readonly query: URLSearchParams;
  /** Where a framework mounted the handler and cut the path (Express's `req.baseUrl`); "" when not mounted. */
  readonly mountPath: string;
  /** A header's value; several of one name joined by ", ". */
  header(name: string): string | undefined;
  /** The body as UTF-8 text; BodyTooLargeError once it passes `maxBytes`. */
  body(maxBytes: number): Promise<string>;
}

/** Splits a request target (`/api/runs?limit=5`) into its path and query, without trusting it to be a URL. */
export function splitTarget(target: string): { path: string; query: URLSearchParams } {
  const mark = target.indexOf("?");
  if (mark < 0) return { path: target, query: new URLSearchParams() };
  return { path: target.slice(0, mark), query: new URLSearchParams(target.slice(mark + 1)) };
}
