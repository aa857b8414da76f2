import { createHash, timingSafeEqual } from "node:crypto";
import { UnauthorizedError } from "./request-errors.js";

/**
 * Refuses (UnauthorizedError) a request whose `Authorization` header is not `Bearer <token>`;
 * `token: false` lets every request through, as the user chose. The tokens are compared as hashes
 * of equal length in constant time, so the answer's timing tells nothing of the token.
 */
export function checkBearer(authorization: string | undefined, token: string | false): void {
  if (token === false) return;
  const match = /^Bearer +(\S+) *$/i.exec(authorization ?? "");
  const given = match?.[1];
  if (given === undefined || !timingSafeEqual(digest(given), digest(token))) throw new UnauthorizedError();
}

function digest(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}
