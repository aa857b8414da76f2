import type { IncomingMessage, ServerResponse } from "node:http";
import { errorText } from "../logger.js";
import type { UiAnswer } from "./answer.js";
import { readBody } from "./body.js";
import { BodyTooLargeError } from "./request-errors.js";
import { route, type UiSettings } from "./routes.js";
import { splitTarget, type UiRequest } from "./ui-request.js";

/** What frameworks on node:http add to the request: Express's mount and a body a middleware already read. */
interface FrameworkRequest extends IncomingMessage {
  originalUrl?: unknown;
  baseUrl?: unknown;
  body?: unknown;
}

/**
 * The node:http entry point: a `(req, res)` listener that also mounts in Express (`app.use`) and
 * under Fastify's middleware. The promise resolves once the answer is sent and never rejects.
 */
export function nodeHandler(ui: UiSettings): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  return async (req, res) => {
    try {
      const request = uiRequest(req as FrameworkRequest);
      const answer = await route(ui, request.request);
      // A refused body may still be arriving: close the connection rather than read it to the end.
      if (request.bodyRefused()) answer.headers.connection = "close";
      send(res, answer, req.method === "HEAD");
    } catch (err) {
      ui.logger.error(`web UI: could not answer a request: ${errorText(err)}`, { err });
      res.destroy();
    }
  };
}

function uiRequest(req: FrameworkRequest): { request: UiRequest; bodyRefused: () => boolean } {
  // Express and Fastify's middie cut the mount path off req.url and keep the path the browser sent in originalUrl.
  const { path, query } = splitTarget(typeof req.originalUrl === "string" ? req.originalUrl : (req.url ?? "/"));
  let refused = false;
  const request: UiRequest = {
    method: req.method ?? "GET",
    path,
    query,
    mountPath: mountPath(req, path),
    header: (name) => {
      const value = req.headers[name.toLowerCase()];
      return Array.isArray(value) ? value.join(", ") : value;
    },
    body: async (maxBytes) => {
      try {
        // A body parser (express.json()) that ran first has read the stream and left what it parsed.
        if (req.readableEnded) return bodyAlreadyRead(req.body, maxBytes);
        return await readBody(req, maxBytes, declaredLength(req));
      } catch (err) {
        refused = err instanceof BodyTooLargeError;
        throw err;
      }
    },
  };
  return { request, bodyRefused: () => refused };
}

/** Express names its mount (req.baseUrl); middie leaves it to be read off the path it cut. */
function mountPath(req: FrameworkRequest, fullPath: string): string {
  if (typeof req.baseUrl === "string") return req.baseUrl;
  if (typeof req.originalUrl !== "string") return "";
  const cut = splitTarget(req.url ?? "/").path;
  if (cut === fullPath) return "";
  if (fullPath.endsWith(cut)) return fullPath.slice(0, fullPath.length - cut.length);
  // The mount path itself, asked for without its slash.
  return cut === "/" ? fullPath : "";
}

function bodyAlreadyRead(body: unknown, maxBytes: number): string {
  const text = body === undefined ? "" : typeof body === "string" ? body : body instanceof Uint8Array ? Buffer.from(body).toString("utf8") : JSON.stringify(body);
  if (Buffer.byteLength(text) > maxBytes) throw new BodyTooLargeError(maxBytes);
  return text;
}

function declaredLength(req: IncomingMessage): number | undefined {
  const header = req.headers["content-length"];
  return header === undefined || !/^\d+$/.test(header) ? undefined : Number(header);
}

function send(res: ServerResponse, answer: UiAnswer, head: boolean): void {
  const body = typeof answer.body === "string" ? Buffer.from(answer.body) : answer.body;
  res.writeHead(answer.status, { ...answer.headers, "content-length": String(body.byteLength) });
  res.end(head ? undefined : body);
}
