import type { Asset } from "./assets.js";

/** What the web UI answers, before an entry point turns it into its server's response. */
export interface UiAnswer {
  status: number;
  headers: { [name: string]: string };
  body: string | Uint8Array;
}

/** Sent with every answer: no content sniffing, and no page address leaked to other sites. */
const commonHeaders = {
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};

/**
 * The page loads its scripts, styles and data from the web UI alone, and nothing may frame it (a
 * framed page could be clicked into cancelling runs).
 */
const contentSecurityPolicy = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

/** An API answer: JSON, never cached, since it may hold run data. */
export function jsonAnswer(status: number, value: unknown, headers: { [name: string]: string } = {}): UiAnswer {
  return {
    status,
    headers: { ...commonHeaders, "content-type": "application/json; charset=utf-8", "cache-control": "no-store", ...headers },
    body: JSON.stringify(value),
  };
}

/** The page's HTML, under the content security policy. */
export function pageAnswer(html: string): UiAnswer {
  return {
    status: 200,
    headers: {
      ...commonHeaders,
      "content-type": "text/html; charset=utf-8",
      "content-security-policy": contentSecurityPolicy,
      "cache-control": "no-cache",
    },
    body: html,
  };
}

/**
 * A static asset of the page. Browsers keep it and ask again with its ETag, so an unchanged file
 * (mermaid's bundle is megabytes) costs a 304, while an upgraded package is never served stale.
 */
export function assetAnswer(asset: Asset, ifNoneMatch: string | undefined): UiAnswer {
  const headers = { ...commonHeaders, "content-type": asset.contentType, "cache-control": "no-cache", etag: asset.etag };
  if (ifNoneMatch !== undefined && ifNoneMatch.split(",").some((tag) => tag.trim() === asset.etag)) return { status: 304, headers, body: "" };
  return { status: 200, headers, body: asset.body };
}

/** Sends the browser to the page's own address, so the page's relative links resolve under the base path. */
export function redirectAnswer(location: string): UiAnswer {
  return { status: 308, headers: { ...commonHeaders, location }, body: "" };
}
