// The web UI in a real browser: served on node:http, opened in headless chromium.
import { createServer, type RequestListener } from "node:http";
import type { AddressInfo } from "node:net";
import { chromium, type Browser, type Page } from "playwright-core";
import { chromiumPath } from "../../scripts/chromium.mjs";

export interface Served {
  /** The page's address, ending in "/". */
  url: string;
  close(): Promise<void>;
}

/** Serves `handler` on a free loopback port. */
export async function serve(handler: RequestListener, basePath = "/"): Promise<Served> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${basePath}`,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
    },
  };
}

/** Headless chromium; without a sandbox, as the tests run as root. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: chromiumPath, headless: true, args: ["--no-sandbox"] });
}

/** Enters the token in the sign-in form and waits for the runs table. */
export async function signIn(page: Page, token: string): Promise<void> {
  await page.locator("#token-input").fill(token);
  await page.locator("#token-form button[type=submit]").click();
  await page.locator("#runs tbody tr").first().waitFor();
}
