// The web UI's page in headless chromium, against webui() over a running workflow: signing in with
// the token, the runs table with its filters and pages, a run's detail, pausing it through the
// confirmation dialog, and the diagram's live counts.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Browser, Page } from "playwright-core";
import { RunState } from "stepwise";
import { webui } from "stepwise/webui";
import { until } from "./support/until.js";
import { launchChromium, serve, signIn, type Served } from "./support/webui-browser.js";
import { destination, foreignIdOf, openShop, OrderStatus, type Shop } from "./support/webui-shop.js";

const token = "t0ken-for-the-page";
const orders = 26;
const limitMs = 60_000;

/** The foreign ids of the orders in `status`, newest first as the table lists them. */
function inStatus(status: OrderStatus): string[] {
  const indexes = Array.from({ length: orders }, (_, i) => orders - i);
  return indexes.filter((i) => destination(i) === status).map(foreignIdOf);
}

/** The foreign ids from `from` down to `to`. */
function newestFirst(from: number, to: number): string[] {
  return Array.from({ length: from - to + 1 }, (_, i) => foreignIdOf(from - i));
}

/** Waits until the runs table lists exactly `expected`, failing with what it lists instead. */
async function tableShows(page: Page, expected: string[]): Promise<void> {
  const cells = page.locator("#runs tbody tr td:first-child");
  let listed: string[] = [];
  try {
    await until("the runs table", async () => {
      listed = await cells.allInnerTexts();
      return JSON.stringify(listed) === JSON.stringify(expected);
    }, 10_000);
  } catch {
    assert.deepEqual(listed, expected, "the runs table");
  }
}

function runStateInRow(page: Page, foreignId: string) {
  return page.locator("#runs tbody tr", { has: page.locator(`a:text-is("${foreignId}")`) }).locator(".badge");
}

/** A shop with its web UI served and a browser page open on it; `use` runs with all three, then all close. */
interface PageOptions {
  token: string | false;
  withoutMermaid?: boolean;
  basePath?: string;
  /** Serve the shop's record store without the built workflow, as `npx stepwise ui` does. */
  storeOnly?: boolean;
}

async function withPage(options: PageOptions, use: (page: Page, shop: Shop, served: Served) => Promise<void>): Promise<void> {
  const shop = await openShop(orders);
  let served: Served | undefined;
  let browser: Browser | undefined;
  try {
    const { token, basePath } = options;
    const ui = options.storeOnly ? webui({ recordStore: shop.recordStore, token, basePath }) : webui({ workflows: [shop.wf], token, basePath });
    served = await serve(ui.handler, basePath);
    browser = await launchChromium();
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on("pageerror", (err) => errors.push(err.message));
    // As if mermaid were not installed: the bundle is not there.
    if (options.withoutMermaid) await page.route("**/assets/mermaid.min.js", (route) => route.fulfill({ status: 404 }));
    await page.goto(served.url);
    await use(page, shop, served);
    assert.deepEqual(errors, [], "the page's scripts threw");
  } finally {
    await browser?.close();
    await served?.close();
    await shop.stop();
  }
}

test("without the token the page asks for it and shows no run data", { timeout: limitMs }, async () => {
  await withPage({ token }, async (page) => {
    await page.locator("#sign-in").waitFor();
    assert.equal(await page.locator("#overview").isVisible(), false);
    assert.doesNotMatch((await page.locator("body").textContent()) ?? "", /order-10/);

    await page.locator("#token-input").fill("not-the-token");
    await page.locator("#token-form button[type=submit]").click();
    await page.locator("#notice", { hasText: "The token was refused" }).waitFor();
    assert.equal(await page.locator("#sign-in").isVisible(), true);
    assert.doesNotMatch((await page.locator("body").textContent()) ?? "", /order-10/);
    assert.equal(await page.evaluate("sessionStorage.length"), 0, "a refused token is not kept");

    // Signed in, then "Forget token": the runs leave the page, not only the view.
    await signIn(page, token);
    await page.locator("#sign-out").click();
    await page.locator("#sign-in").waitFor();
    assert.doesNotMatch((await page.locator("body").textContent()) ?? "", /order-10/);
    assert.equal(await page.evaluate("sessionStorage.length"), 0, "a forgotten token is not kept");
  });
});

test("with the token the page lists the runs newest first, a page at a time, and keeps the token for the tab", { timeout: limitMs }, async () => {
  await withPage({ token }, async (page) => {
    await signIn(page, token);
    await tableShows(page, newestFirst(26, 7));
    assert.equal(await page.locator("#page-newer").isDisabled(), true);

    await page.locator("#page-older").click();
    await tableShows(page, newestFirst(6, 1));
    assert.equal(await page.locator("#page-older").isDisabled(), true);
    await page.locator("#page-newer").click();
    await tableShows(page, newestFirst(26, 7));

    // A reload keeps the token of this tab: no second sign-in.
    await page.reload();
    await tableShows(page, newestFirst(26, 7));
    assert.equal(await page.locator("#sign-in").isVisible(), false);
  });
});

test("the runs table filters by status, by run state and by foreign id", { timeout: limitMs }, async () => {
  await withPage({ token }, async (page) => {
    await signIn(page, token);

    await page.locator("#filter-status").selectOption({ label: "Packed" });
    await page.locator("#filters button[type=submit]").click();
    await tableShows(page, inStatus(OrderStatus.Packed));

    await page.locator("#filter-status").selectOption({ label: "Any" });
    await page.locator("#filter-run-state").selectOption({ label: "Initiated" });
    await page.locator("#filters button[type=submit]").click();
    await tableShows(page, inStatus(OrderStatus.Created));

    await page.locator("#filter-clear").click();
    await page.locator("#filter-foreign-id").fill("order-1003");
    await page.locator("#filter-foreign-id").press("Enter");
    await tableShows(page, ["order-1003"]);

    await page.locator("#filter-foreign-id").fill("no-such-order");
    await page.locator("#filters button[type=submit]").click();
    await tableShows(page, []);
    await page.locator("#runs-empty").waitFor();
  });
});

test("a run's detail shows its object; pausing it asks for a reason and shows it Paused", { timeout: limitMs }, async () => {
  await withPage({ token }, async (page, shop) => {
    const foreignId = "order-1024";
    assert.equal(destination(24), OrderStatus.Paid);
    const runId = shop.runIds.get(foreignId) as string;
    await signIn(page, token);
    await page.locator(`#runs a:text-is("${foreignId}")`).click();

    const shown = JSON.parse(await page.locator("#run-object").innerText()) as unknown;
    assert.deepEqual(shown, (await shop.wf.get(runId)).object);
    assert.equal(await page.locator("#run-state").innerText(), "Running");
    assert.equal(await page.locator("#run-timeline tbody tr").count(), 2, "created, then paid");

    // Dismissing the dialog changes nothing.
    await page.locator('button[data-action="cancel"]').click();
    await page.locator("#confirm[open]").waitFor();
    await page.locator("#confirm-cancel").click();
    await page.locator("#confirm").waitFor({ state: "hidden" });
    assert.equal((await shop.wf.get(runId)).runState, RunState.Running);

    await page.locator('button[data-action="pause"]').click();
    await page.locator("#confirm-title", { hasText: `Pause run ${foreignId}?` }).waitFor();
    await page.locator("#confirm-reason").fill("address needs checking");
    await page.locator("#confirm-ok").click();

    await page.locator("#run-state", { hasText: "Paused" }).waitFor();
    await page.locator(".facts dd", { hasText: "address needs checking" }).waitFor();
    const paused = await shop.wf.get(runId);
    assert.equal(paused.runState, RunState.Paused);
    assert.equal(paused.meta.runStateReason, "address needs checking");
    assert.equal(await page.locator('button[data-action="pause"]').isDisabled(), true);
    assert.equal(await page.locator('button[data-action="resume"]').isEnabled(), true);

    await page.locator("a.back").click();
    await runStateInRow(page, foreignId).filter({ hasText: "Paused" }).waitFor();
  });
});

test("an action the run state no longer allows shows the API's refusal", { timeout: limitMs }, async () => {
  await withPage({ token }, async (page, shop) => {
    const runId = shop.runIds.get("order-1025") as string;
    await signIn(page, token);
    await page.locator('#runs a:text-is("order-1025")').click();
    await page.locator("#run-state", { hasText: "Initiated" }).waitFor();
    await page.locator('button[data-action="pause"]').click();
    await page.locator("#confirm[open]").waitFor();
    // Cancelled elsewhere while the dialog is open: the page still offers to pause it.
    await shop.wf.cancel(runId, "cancelled elsewhere");
    await page.locator("#confirm-ok").click();
    await page.locator("#notice", { hasText: "INVALID_TRANSITION" }).waitFor();
    await page.locator("#run-state", { hasText: "Cancelled" }).waitFor();
  });
});

test("the diagram labels each status with its runs and follows new runs", { timeout: limitMs }, async () => {
  await withPage({ token }, async (page, shop) => {
    await signIn(page, token);
    const created = inStatus(OrderStatus.Created).length;
    await page.locator("#diagram svg", { hasText: `Created (${created})` }).waitFor();
    await page.locator("#diagram svg", { hasText: `Delivered (${inStatus(OrderStatus.Delivered).length})` }).waitFor();

    await shop.wf.trigger("order-2000", { initialValue: { orderId: "order-2000", customer: { name: "New", email: "new@example.com" }, lines: [], total: 0, currency: "EUR" } });
    await page.locator("#diagram svg", { hasText: `Created (${created + 1})` }).waitFor({ timeout: 15_000 });
    await page.locator(`#workflow-tabs .count`, { hasText: String(orders + 1) }).waitFor();
  });
});

test("a web UI built with token: false shows the runs without asking for one", { timeout: limitMs }, async () => {
  await withPage({ token: false }, async (page) => {
    await tableShows(page, newestFirst(26, 7));
    assert.equal(await page.locator("#sign-in").isVisible(), false);
    assert.equal(await page.locator("#sign-out").isVisible(), false);
  });
});

test("without mermaid the page shows the runs per status as a table and the diagram's text", { timeout: limitMs }, async () => {
  await withPage({ token, withoutMermaid: true }, async (page) => {
    await signIn(page, token);
    const counts = page.locator("#diagram table.counts tbody tr");
    await counts.first().waitFor();
    const rows = await counts.evaluateAll((trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent)));
    assert.deepEqual(rows.slice(0, 2), [
      ["Created", String(inStatus(OrderStatus.Created).length), ""],
      ["Paid", String(inStatus(OrderStatus.Paid).length), ""],
    ]);
    assert.deepEqual(
      rows.find((row) => row[0] === "Declined"),
      ["Declined", String(inStatus(OrderStatus.Declined).length), "terminal"],
    );
    assert.match(await page.locator("#diagram pre.diagram-text").innerText(), /^stateDiagram-v2[\s\S]*state "Paid \(\d+\)" as Paid/);
    assert.equal(await page.locator("#diagram svg").count(), 0);
  });
});

test("under a base path the page loads its files and calls the API there", { timeout: limitMs }, async () => {
  await withPage({ token, basePath: "/ops/stepwise/" }, async (page, _shop, served) => {
    assert.match(served.url, /\/ops\/stepwise\/$/);
    await signIn(page, token);
    await tableShows(page, newestFirst(26, 7));
    await page.locator("#diagram svg").waitFor();
    await page.locator('#runs a:text-is("order-1020")').click();
    await page.locator("#run-object").waitFor();
    assert.equal(new URL(page.url()).pathname, "/ops/stepwise/");
  });
});

test("over a record store alone the page shows the runs, their statuses and a run's object", { timeout: limitMs }, async () => {
  await withPage({ token, storeOnly: true }, async (page, shop) => {
    await signIn(page, token);
    await tableShows(page, newestFirst(26, 7));
    await page.locator("#diagram svg", { hasText: `Delivered (${inStatus(OrderStatus.Delivered).length})` }).waitFor();
    await page.locator('#runs a:text-is("order-1026")').click();
    const shown = JSON.parse(await page.locator("#run-object").innerText()) as unknown;
    assert.deepEqual(shown, (await shop.wf.get(shop.runIds.get("order-1026") as string)).object);
  });
});
