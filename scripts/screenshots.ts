// Writes the web UI's screenshots in docs/: the runs of a populated order workflow with its
// diagram (webui-runs.png) and one run's detail (webui-run.png). Run with `npm run screenshots`.
import { mkdir } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { webui } from "stepwise/webui";
import { launchChromium, serve, signIn } from "../test/support/webui-browser.js";
import { openShop } from "../test/support/webui-shop.js";
import { ensureChromium } from "./chromium.mjs";

const docs = fileURLToPath(new URL("../docs/", import.meta.url));
const token = "screenshots";

ensureChromium();
await mkdir(docs, { recursive: true });
const shop = await openShop(48);
const runId = (foreignId: string) => shop.runIds.get(foreignId) as string;
// A few runs in the other run states, so the table shows them all.
await shop.wf.pause(runId("order-1046"), "Address needs checking by support");
await shop.wf.cancel(runId("order-1045"), "Customer asked to cancel");
await shop.wf.pause(runId("order-1039"), "Payment under review");
const served = await serve(webui({ workflows: [shop.wf], token }).handler);
const browser = await launchChromium();
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.goto(served.url);
  await signIn(page, token);
  await page.locator("#diagram svg").waitFor();
  await page.screenshot({ path: `${docs}webui-runs.png`, fullPage: true });

  await page.locator('#runs a:text-is("order-1046")').click();
  await page.locator("#run-object").waitFor();
  await page.screenshot({ path: `${docs}webui-run.png`, fullPage: true });
  console.log(`wrote ${docs}webui-runs.png and ${docs}webui-run.png`);
} finally {
  await browser.close();
  await served.close();
  await shop.stop();
}
