import { StepwiseError } from "../errors.js";

/**
 * Why the web UI refused a request before any run was read or changed. Each carries the HTTP
 * status it answers with; the page and scripts switch on `code`.
 */
export abstract class RequestRefusedError extends StepwiseError {
  abstract readonly httpStatus: number;
}

/** An `/api/` request without `Authorization: Bearer <token>`, or with another token. */
export class UnauthorizedError extends RequestRefusedError {
  readonly code = "UNAUTHORIZED";
  readonly httpStatus = 401;
  constructor() {
    super('send the web UI\'s token as "Authorization: Bearer <token>"');
  }
}

/** No route of the web UI has this path. */
export class RouteNotFoundError extends RequestRefusedError {
  readonly code = "ROUTE_NOT_FOUND";
  readonly httpStatus = 404;
  constructor(readonly path: string) {
    super(`the web UI has no route ${JSON.stringify(path)}`);
  }
}

/** The route exists, but not for this method; `allowed` lists the methods it takes. */
export class MethodNotAllowedError extends RequestRefusedError {
  readonly code = "METHOD_NOT_ALLOWED";
  readonly httpStatus = 405;
  constructor(
    readonly method: string,
    readonly allowed: readonly string[],
  ) {
    super(`this route takes ${allowed.join(" or ")}, not ${method}`);
  }
}

/** A POST whose body is not declared as `application/json`; refusing forms is what keeps other sites from posting. */
export class UnsupportedMediaTypeError extends RequestRefusedError {
  readonly code = "UNSUPPORTED_MEDIA_TYPE";
  readonly httpStatus = 415;
  constructor(readonly contentType: string) {
    super(`send the body as application/json, not ${JSON.stringify(contentType)}`);
  }
}

/** A body longer than the web UI reads. */
export class BodyTooLargeError extends RequestRefusedError {
  readonly code = "BODY_TOO_LARGE";
  readonly httpStatus = 413;
  constructor(readonly maxBytes: number) {
    super(`the body is longer than ${maxBytes} bytes`);
  }
}

/** A body that is not JSON, or not the object the route takes; the message says which. */
export class MalformedBodyError extends RequestRefusedError {
  readonly code = "MALFORMED_BODY";
  readonly httpStatus = 400;
}
