import type { UiAnswer } from "./answer.js";
import { readBody } from "./body.js";
import { route, type UiSettings } from "./routes.js";
import type { UiRequest } from "./ui-request.js";

/** The Web-standard entry point (Hono, Bun, Deno, workers): a `Request` in, a `Response` out; never rejects. */
export function fetchHandler(ui: UiSettings): (request: Request) => Promise<Response> {
  return async (request) => {
    const url = new URL(request.url);
    const uiRequest: UiRequest = {
      method: request.method,
      path: url.pathname,
      query: url.searchParams,
      mountPath: "",
      header: (name) => request.headers.get(name) ?? undefined,
      body: (maxBytes) => readBody(request.body ?? noChunks(), maxBytes, declaredLength(request.headers.get("content-length"))),
    };
    return response(await route(ui, uiRequest), request.method === "HEAD");
  };
}

async function* noChunks(): AsyncGenerator<Uint8Array> {}

function declaredLength(header: string | null): number | undefined {
  return header === null || !/^\d+$/.test(header) ? undefined : Number(header);
}

function response(answer: UiAnswer, head: boolean): Response {
  const empty = head || answer.body === "";
  return new Response(empty ? null : answer.body, { status: answer.status, headers: answer.headers });
}
