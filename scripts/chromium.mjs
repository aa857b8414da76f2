// The browser of the web UI's tests and screenshots: Debian's chromium, driven by playwright-core.
// Playwright's own browser download cannot be used here, so a machine without chromium gets it
// from apt, as the test servers are installed.
import { existsSync } from "node:fs";
import process from "node:process";
import { installDebianPackage } from "./debian-package.mjs";

/** Where the browser is; CHROMIUM_PATH points elsewhere (another distribution, a Chrome). */
export const chromiumPath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/** Installs Debian's chromium when the browser is missing. */
export function ensureChromium() {
  if (!existsSync(chromiumPath)) installDebianPackage("chromium");
}

if (import.meta.url === `file://${process.argv[1]}`) ensureChromium();
