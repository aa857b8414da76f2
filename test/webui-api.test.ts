// The web UI's HTTP API through both entry points: real HTTP requests to a node:http server running
// `handler`, and Web `Request`s handed to `fetch`; over built workflows and over stores alone, on
// the memory store and on a SQLite file.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type RequestListener, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { Builder, RunState, type BuildConfig, type Logger, type Record, type RecordStore, type Workflow } from "stepwise";
import { memory } from "stepwise/memory";
import { sqlite } from "stepwise/sqlite";
import { FakeClock } from "stepwise/testing";
import { webui, type WebUi, type WebUiOptions } from "stepwise/webui";
import { until } from "./support/until.js";

enum OrderStatus {
  Created = 1,
  Paid = 2,
  Shipped = 3,
}

type Order = { item: string; paid?: boolean; shipped?: boolean };

const token = "s3cret-token";
const dir = mkdtempSync(join(tmpdir(), "stepwise-webui-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Created waits for a payment callback, Paid for a shipping one; Shipped completes the run. */
function orders(adapters: Pick<BuildConfig<Order>, "eventStreamer" | "recordStore" | "roleScheduler" | "timeoutStore" | "outbox">, clock: FakeClock, name = "orders"): Workflow<Order, OrderStatus> {
  const b = new Builder<Order, OrderStatus>(name, OrderStatus);
  const callbacks: [OrderStatus, OrderStatus, "paid" | "shipped"][] = [
    [OrderStatus.Created, OrderStatus.Paid, "paid"],
    [OrderStatus.Paid, OrderStatus.Shipped, "shipped"],
  ];
  for (const [from, to, flag] of callbacks) {
    b.addCallback(
      from,
      async (run) => {
        run.object[flag] = true;
        return to;
      },
      to,
    );
  }
  return b.build({ ...adapters, clock });
}

/**
 * Seven orders a second apart: o-1 shipped (Completed), o-2 and o-3 paid (Running), o-4 to o-7
 * created (Initiated). Returns the run ids by foreign id.
 */
async function placeOrders(wf: Workflow<Order, OrderStatus>, clock: FakeClock): Promise<Map<string, string>> {
  const runIds = new Map<string, string>();
  for (let i = 1; i <= 7; i++) {
    runIds.set(`o-${i}`, await wf.trigger(`o-${i}`, { initialValue: { item: `item ${i}` } }));
    clock.advance(1000);
  }
  for (const id of ["o-1", "o-2", "o-3"]) await wf.callback(id, OrderStatus.Created, {});
  await wf.callback("o-1", OrderStatus.Paid, {});
  return runIds;
}

/** Sends requests to the web UI, over HTTP or straight into `fetch`. */
interface Client {
  request(path: string, init?: RequestInit): Promise<Response>;
}

async function listen(listener: RequestListener): Promise<{ origin: string; close(): Promise<void> }> {
  const server = createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
    },
  };
}

/** Runs `fn` with a client for each entry point: a node:http server on `handler`, and `fetch`. */
async function eachEntryPoint(ui: WebUi, fn: (client: Client, entry: string) => Promise<void>): Promise<void> {
  const server = await listen(ui.handler);
  try {
    await fn({ request: (path, init) => fetch(server.origin + path, { redirect: "manual", ...init }) }, "handler");
  } finally {
    await server.close();
  }
  await fn({ request: (path, init) => ui.fetch(new Request(`http://stepwise.test${path}`, init)) }, "fetch");
}

const auth = { authorization: `Bearer ${token}` };

async function getJson<T = unknown>(client: Client, path: string): Promise<{ status: number; body: T; headers: Headers }> {
  const res = await client.request(path, { headers: auth });
  return { status: res.status, body: (await res.json()) as T, headers: res.headers };
}

async function post<T = unknown>(client: Client, path: string, body: unknown = {}): Promise<{ status: number; body: T }> {
  const res = await client.request(path, { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as T };
}

interface Summary {
  foreignId: string;
  runId: string;
  status: number;
  statusName: string;
  runState: number;
  runStateName: string;
  version: number;
  createdAt: string;
  updatedAt: string;
  workflowName: string;
}
interface Page {
  runs: Summary[];
  nextCursor: string | null;
}
interface ErrorBody {
  error: { code: string; message: string };
}

/** Every page of a listing, following `nextCursor`. */
async function allPages(client: Client, query: string): Promise<Summary[][]> {
  const pages: Summary[][] = [];
  let cursor: string | null = null;
  do {
    const { status, body }: { status: number; body: Page } = await getJson<Page>(client, `/api/runs?${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    assert.equal(status, 200);
    pages.push(body.runs);
    cursor = body.nextCursor;
  } while (cursor !== null);
  return pages;
}

interface Backend {
  name: string;
  /** Builds the workflow on fresh adapters and the options of a web UI over it. */
  make(clock: FakeClock): { wf: Workflow<Order, OrderStatus>; options: WebUiOptions; close(): Promise<void> };
  /** Whether the store keeps every version, so run details carry a timeline. */
  timeline: boolean;
  /** Whether the UI serves the built workflow (else the store alone). */
  built: boolean;
}

let files = 0;
const sqliteFile = () => join(dir, `ui-${++files}.db`);

const backends: Backend[] = [
  {
    name: "built workflow on memory",
    timeline: true,
    built: true,
    make: (clock) => {
      const wf = orders(memory({ clock }), clock);
      return { wf, options: { workflows: [wf], token }, close: async () => {} };
    },
  },
  {
    name: "built workflow on sqlite",
    timeline: false,
    built: true,
    make: (clock) => {
      const adapters = sqlite(sqliteFile(), { clock });
      const wf = orders(adapters, clock);
      return { wf, options: { workflows: [wf], token }, close: () => adapters.close() };
    },
  },
  {
    name: "record store on memory, names found in the store",
    timeline: true,
    built: false,
    make: (clock) => {
      const adapters = memory({ clock });
      const wf = orders(adapters, clock);
      return { wf, options: { recordStore: adapters.recordStore, token }, close: async () => {} };
    },
  },
  {
    name: "record store on sqlite, names given",
    timeline: false,
    built: false,
    make: (clock) => {
      const file = sqliteFile();
      const adapters = sqlite(file, { clock });
      // The UI reads the file through its own connection, as the CLI would.
      const reader = sqlite(file);
      const wf = orders(adapters, clock);
      return {
        wf,
        options: { recordStore: reader.recordStore, names: ["orders"], token },
        close: async () => {
          await reader.close();
          await adapters.close();
        },
      };
    },
  },
];

for (const backend of backends) {
  test(`web UI API, ${backend.name}`, async (t) => {
    const clock = new FakeClock(new Date("2026-03-01T12:00:00Z"));
    const { wf, options, close } = backend.make(clock);
    await wf.run();
    try {
      const runIds = await placeOrders(wf, clock);
      const ui = webui(options);
      const runId = (foreignId: string) => runIds.get(foreignId) as string;
      await eachEntryPoint(ui, async (client, entry) => {
        await t.test(`${entry}: GET /api/workflows lists statuses, counts per status name and the diagram`, async () => {
          const { status, body, headers } = await getJson<{ name: string; statuses: unknown[]; counts: object; diagram: string }[]>(client, "/api/workflows");
          assert.equal(status, 200);
          assert.equal(headers.get("cache-control"), "no-store");
          assert.equal(body.length, 1);
          const [orders] = body;
          assert.equal(orders?.name, "orders");
          assert.deepEqual(orders?.statuses, [
            { status: 1, name: "Created", terminal: false },
            { status: 2, name: "Paid", terminal: false },
            { status: 3, name: "Shipped", terminal: true },
          ]);
          assert.deepEqual({ ...orders?.counts }, { Created: 4, Paid: 2, Shipped: 1 });
          assert.match(orders?.diagram ?? "", /^stateDiagram-v2\n/);
          for (const name of ["Created", "Paid", "Shipped"]) assert.match(orders?.diagram ?? "", new RegExp(`\\b${name}\\b`));
        });

        await t.test(`${entry}: GET /api/runs lists newest first, and the workflow may be left out when one is served`, async () => {
          const { status, body } = await getJson<Page>(client, "/api/runs");
          assert.equal(status, 200);
          assert.deepEqual(
            body.runs.map((r) => r.foreignId),
            ["o-7", "o-6", "o-5", "o-4", "o-3", "o-2", "o-1"],
          );
          assert.equal(body.nextCursor, null);
          const shipped = body.runs.find((r) => r.foreignId === "o-1");
          assert.deepEqual(shipped, {
            workflowName: "orders",
            foreignId: "o-1",
            runId: runId("o-1"),
            status: 3,
            statusName: "Shipped",
            runState: RunState.Completed,
            runStateName: "Completed",
            version: 3,
            createdAt: "2026-03-01T12:00:00.000Z",
            updatedAt: "2026-03-01T12:00:07.000Z",
          });
          assert.ok(!("object" in (shipped as object)), "a listing carries no object data");
        });

        await t.test(`${entry}: GET /api/runs filters by status and run state, by number or name, and by foreign id`, async () => {
          const ids = async (query: string) => (await getJson<Page>(client, `/api/runs?workflow=orders&${query}`)).body.runs.map((r) => r.foreignId);
          assert.deepEqual(await ids("status=2"), ["o-3", "o-2"]);
          assert.deepEqual(await ids("status=Paid"), ["o-3", "o-2"]);
          assert.deepEqual(await ids("status=paid&status=Shipped"), ["o-3", "o-2", "o-1"]);
          assert.deepEqual(await ids("runState=Completed"), ["o-1"]);
          assert.deepEqual(await ids("runState=1&status=Created"), ["o-7", "o-6", "o-5", "o-4"]);
          assert.deepEqual(await ids("foreignId=o-5"), ["o-5"]);
          assert.deepEqual(await ids("foreignId=nobody"), []);
        });

        await t.test(`${entry}: GET /api/runs pages with the cursor, every run once`, async () => {
          const pages = await allPages(client, "workflow=orders&limit=3");
          assert.deepEqual(
            pages.map((p) => p.map((r) => r.foreignId)),
            [["o-7", "o-6", "o-5"], ["o-4", "o-3", "o-2"], ["o-1"]],
          );
          const filtered = await allPages(client, "status=Created&limit=2");
          assert.deepEqual(
            filtered.map((p) => p.map((r) => r.foreignId)),
            [["o-7", "o-6"], ["o-5", "o-4"]],
          );
        });

        await t.test(`${entry}: GET /api/runs refuses malformed parameters with 400 and a code`, async () => {
          for (const query of ["limit=501", "limit=0", "limit=abc", "limit=-1", "status=Lost", "runState=Sleeping", "runState=9", "cursor=nonsense", "colour=red", "foreignId=", "limit=1&limit=2", "foreignId=%00"]) {
            const { status, body } = await getJson<ErrorBody>(client, `/api/runs?workflow=orders&${query}`);
            assert.equal(status, 400, query);
            assert.equal(body.error.code, "INVALID_OPTION", query);
            assert.equal(typeof body.error.message, "string");
          }
        });

        await t.test(`${entry}: GET /api/runs/:workflow/:runId answers the run with its object and meta`, async () => {
          const { status, body } = await getJson<Summary & { object: unknown; objectEncoding: string; meta: object; timeline?: { status: number; runStateName: string }[] }>(
            client,
            `/api/runs/orders/${runId("o-1")}`,
          );
          assert.equal(status, 200);
          assert.equal(body.foreignId, "o-1");
          assert.equal(body.statusName, "Shipped");
          assert.deepEqual(body.object, { item: "item 1", paid: true, shipped: true });
          assert.equal(body.objectEncoding, "json");
          assert.deepEqual(body.meta, { runStateReason: "", statusDescription: "Shipped", version: 3, workflowVersion: 1, traceOrigin: "" });
          if (backend.timeline) {
            assert.deepEqual(
              body.timeline?.map((v) => [v.status, v.runStateName]),
              [
                [1, "Initiated"],
                [2, "Running"],
                [3, "Completed"],
              ],
            );
          } else {
            assert.equal(body.timeline, undefined);
          }
        });

        await t.test(`${entry}: unknown runs and workflows are 404`, async () => {
          const unknownRun = await getJson<ErrorBody>(client, "/api/runs/orders/00000000-0000-4000-8000-000000000000");
          assert.equal(unknownRun.status, 404);
          assert.equal(unknownRun.body.error.code, "RECORD_NOT_FOUND");
          const unknownWorkflow = await getJson<ErrorBody>(client, `/api/runs/invoices/${runId("o-1")}`);
          assert.equal(unknownWorkflow.status, 404);
          assert.equal(unknownWorkflow.body.error.code, "WORKFLOW_NOT_FOUND");
          const listed = await getJson<ErrorBody>(client, "/api/runs?workflow=invoices");
          assert.equal(listed.status, 404);
          assert.equal(listed.body.error.code, "WORKFLOW_NOT_FOUND");
          const action = await post<ErrorBody>(client, "/api/runs/orders/no-such-run/pause", { reason: "x" });
          assert.equal(action.status, 404);
          assert.equal(action.body.error.code, "RECORD_NOT_FOUND");
        });
      });

      // The actions change runs, so they run once, through each entry point in turn.
      const [handlerUi, fetchUi] = [ui, webui(options)];
      const server = await listen(handlerUi.handler);
      try {
        const http: Client = { request: (path, init) => fetch(server.origin + path, init) };
        const direct: Client = { request: (path, init) => fetchUi.fetch(new Request(`http://stepwise.test${path}`, init)) };
        await t.test("pause then resume through the API changes the run state", async () => {
          const path = `/api/runs/orders/${runId("o-3")}`;
          assert.deepEqual((await post(http, `${path}/pause`, { reason: "checking the address" })).body, { runState: RunState.Paused, runStateName: "Paused" });
          const paused = await getJson<Summary & { meta: { runStateReason: string } }>(direct, path);
          assert.equal(paused.body.runStateName, "Paused");
          assert.equal(paused.body.meta.runStateReason, "checking the address");
          assert.deepEqual((await post(direct, `${path}/resume`)).body, { runState: RunState.Running, runStateName: "Running" });
          assert.equal((await getJson<Summary>(http, path)).body.runState, RunState.Running);
          assert.equal((await wf.get(runId("o-3"))).runState, RunState.Running);
        });

        await t.test("a transition the rules refuse is 409 INVALID_TRANSITION and changes nothing", async () => {
          const before = await wf.get(runId("o-2"));
          for (const client of [http, direct]) {
            const { status, body } = await post<ErrorBody>(client, `/api/runs/orders/${runId("o-2")}/resume`);
            assert.equal(status, 409);
            assert.equal(body.error.code, "INVALID_TRANSITION");
            const deleted = await post<ErrorBody>(client, `/api/runs/orders/${runId("o-2")}/delete`, { reason: "gdpr" });
            assert.equal(deleted.status, 409);
          }
          assert.equal((await wf.get(runId("o-2"))).meta.version, before.meta.version);
        });

        await t.test("cancel then delete a run that never started", async () => {
          assert.deepEqual((await post(http, `/api/runs/orders/${runId("o-4")}/cancel`, { reason: "duplicate" })).body, {
            runState: RunState.Cancelled,
            runStateName: "Cancelled",
          });
          assert.deepEqual((await post(direct, `/api/runs/orders/${runId("o-4")}/delete`)).body, {
            runState: RunState.RequestedDataDeleted,
            runStateName: "RequestedDataDeleted",
          });
          if (backend.built) {
            // Through the workflow's own write: its delete process hears of the request at once.
            await until("the delete process to delete o-4's data", async () => (await wf.get(runId("o-4"))).runState === RunState.DataDeleted);
          } else {
            assert.ok([RunState.RequestedDataDeleted, RunState.DataDeleted].includes((await wf.get(runId("o-4"))).runState));
          }
        });
      } finally {
        await server.close();
      }
    } finally {
      await wf.stop();
      await close();
    }
  });
}

/** A built workflow on memory with the seven orders, and a web UI over it. */
async function memoryUi(options: Partial<WebUiOptions> = {}): Promise<{ ui: WebUi; runIds: Map<string, string>; stop(): Promise<void> }> {
  const clock = new FakeClock(new Date("2026-03-01T12:00:00Z"));
  const wf = orders(memory({ clock }), clock);
  await wf.run();
  const runIds = await placeOrders(wf, clock);
  const ui = webui({ workflows: [wf], token, ...options } as WebUiOptions);
  return { ui, runIds, stop: () => wf.stop() };
}

test("every /api/ request needs the bearer token: 401 without it or with another, and no object data", async () => {
  const { ui, runIds, stop } = await memoryUi();
  try {
    await eachEntryPoint(ui, async (client, entry) => {
      const detail = `/api/runs/orders/${runIds.get("o-1")}`;
      for (const headers of [{} as { [name: string]: string }, { authorization: "Bearer wrong" }, { authorization: `Bearer ${token}x` }, { authorization: `Basic ${token}` }, { authorization: token }]) {
        for (const path of ["/api/workflows", "/api/runs", detail, "/api/no-such-route"]) {
          const res = await client.request(path, { headers });
          const text = await res.text();
          assert.equal(res.status, 401, `${entry} ${path} ${JSON.stringify(headers)}`);
          assert.equal((JSON.parse(text) as ErrorBody).error.code, "UNAUTHORIZED");
          assert.equal(res.headers.get("www-authenticate"), "Bearer");
          assert.ok(!text.includes("item 1"), "no object data without the token");
        }
        const action = await client.request(`/api/runs/orders/${runIds.get("o-2")}/pause`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
        assert.equal(action.status, 401);
      }
      assert.equal((await client.request(detail, { headers: { authorization: `bearer ${token}` } })).status, 200, "the scheme is case-insensitive");
    });
  } finally {
    await stop();
  }
});

test("token: false serves the API without auth; a missing token is refused when the UI is made", async () => {
  const { ui, stop } = await memoryUi({ token: false });
  try {
    await eachEntryPoint(ui, async (client) => {
      const res = await client.request("/api/workflows");
      assert.equal(res.status, 200);
      assert.equal(((await res.json()) as { name: string }[])[0]?.name, "orders");
    });
    const { recordStore } = memory();
    for (const options of [{ recordStore }, { recordStore, token: "" }, { recordStore, token: "has space" }, { recordStore, token: true }]) {
      assert.throws(
        () => webui(options as unknown as WebUiOptions),
        (err: Error & { code?: string; option?: string }) => err.code === "INVALID_OPTION" && err.option === "token" && /token/.test(err.message),
      );
    }
  } finally {
    await stop();
  }
});

test("webui() refuses options it cannot serve", () => {
  const { recordStore } = memory();
  const refused = (options: unknown, option: string) =>
    assert.throws(
      () => webui(options as WebUiOptions),
      (err: Error & { code?: string; option?: string }) => err.code === "INVALID_OPTION" && err.option === option,
    );
  refused({ token }, "workflows");
  refused({ workflows: [], token }, "workflows");
  refused({ workflows: [{ name: "fake", diagram: () => "" }], token }, "workflows");
  refused({ recordStore, names: [], token }, "names");
  refused({ recordStore, basePath: "ops", token }, "basePath");
  refused({ recordStore, basePath: "/ops/../admin", token }, "basePath");
  refused({ recordStore, basePath: "/ops?x=1", token }, "basePath");
  const clock = new FakeClock(new Date());
  const wf = orders(memory({ clock }), clock);
  refused({ workflows: [wf, orders(memory({ clock }), clock)], token }, "workflows");
  refused({ workflows: [wf], recordStore, token }, "workflows");
});

test("POST takes application/json only: 415 for forms and text, 400 for malformed JSON, 413 for a large body", async () => {
  const { ui, runIds, stop } = await memoryUi();
  try {
    await eachEntryPoint(ui, async (client, entry) => {
      const path = `/api/runs/orders/${runIds.get("o-2")}/pause`;
      const send = (contentType: string | undefined, body: string) =>
        client.request(path, { method: "POST", headers: { ...auth, ...(contentType ? { "content-type": contentType } : {}) }, body });
      for (const contentType of ["application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=x", undefined]) {
        const res = await send(contentType, "reason=x");
        assert.equal(res.status, 415, `${entry} ${contentType}`);
        assert.equal(((await res.json()) as ErrorBody).error.code, "UNSUPPORTED_MEDIA_TYPE");
      }
      for (const body of ["{reason:", "[1]", '"text"', "null"]) {
        const res = await send("application/json", body);
        assert.equal(res.status, 400, `${entry} ${body}`);
        assert.equal(((await res.json()) as ErrorBody).error.code, "MALFORMED_BODY");
      }
      for (const body of ['{"reason":5}', '{"reason":"x","force":true}']) {
        const res = await send("application/json; charset=utf-8", body);
        assert.equal(res.status, 400, `${entry} ${body}`);
        assert.equal(((await res.json()) as ErrorBody).error.code, "INVALID_OPTION");
      }
      const large = await send("application/json", JSON.stringify({ reason: "x".repeat(100_000) }));
      assert.equal(large.status, 413);
      assert.equal(((await large.json()) as ErrorBody).error.code, "BODY_TOO_LARGE");
      assert.equal((await ui.fetch(new Request("http://stepwise.test/")).then((r) => r.status)), 200);
    });
  } finally {
    await stop();
  }
});

test("unknown routes are 404, a known route with another method 405 with Allow", async () => {
  const { ui, runIds, stop } = await memoryUi();
  try {
    await eachEntryPoint(ui, async (client, entry) => {
      for (const path of ["/api/nothing", "/api/runs/orders", "/api/workflows/", `/api/runs/orders/${runIds.get("o-1")}/frobnicate`, "/elsewhere", "/assets/none.js", "/assets/..%2Fsecret"]) {
        const res = await client.request(path, { headers: auth });
        assert.equal(res.status, 404, `${entry} ${path}`);
        assert.equal(((await res.json()) as ErrorBody).error.code, "ROUTE_NOT_FOUND");
      }
      const wrong = [
        ["POST", "/api/workflows", "GET, HEAD"],
        ["DELETE", `/api/runs/orders/${runIds.get("o-1")}`, "GET, HEAD"],
        ["GET", `/api/runs/orders/${runIds.get("o-1")}/pause`, "POST"],
        ["PUT", "/", "GET, HEAD"],
      ] as const;
      for (const [method, path, allowed] of wrong) {
        const res = await client.request(path, { method, headers: { ...auth, "content-type": "application/json" }, body: method === "GET" ? undefined : "{}" });
        assert.equal(res.status, 405, `${entry} ${method} ${path}`);
        assert.equal(res.headers.get("allow"), allowed);
        assert.equal(((await res.json()) as ErrorBody).error.code, "METHOD_NOT_ALLOWED");
      }
    });
  } finally {
    await stop();
  }
});

test("the page is served with security headers; API answers are never cached", async () => {
  const { ui, stop } = await memoryUi();
  try {
    await eachEntryPoint(ui, async (client) => {
      const page = await client.request("/");
      assert.equal(page.status, 200);
      assert.match(page.headers.get("content-type") ?? "", /^text\/html/);
      const csp = page.headers.get("content-security-policy") ?? "";
      assert.match(csp, /script-src 'self'(;|$)/);
      assert.match(csp, /style-src 'self'(;|$)/);
      assert.match(csp, /default-src 'none'/);
      assert.equal(page.headers.get("x-content-type-options"), "nosniff");
      assert.equal(page.headers.get("referrer-policy"), "no-referrer");
      assert.match(await page.text(), /^<!doctype html>/i);
      const api = await client.request("/api/workflows", { headers: auth });
      assert.equal(api.headers.get("cache-control"), "no-store");
      assert.equal(api.headers.get("x-content-type-options"), "nosniff");
      assert.match(api.headers.get("content-type") ?? "", /^application\/json/);
      const head = await client.request("/api/workflows", { method: "HEAD", headers: auth });
      assert.equal(head.status, 200);
      assert.equal(await head.text(), "");
    });
  } finally {
    await stop();
  }
});

test("the page's files carry an ETag: asked again with it, an unchanged file is a 304 without a body", async () => {
  const { ui, stop } = await memoryUi();
  try {
    await eachEntryPoint(ui, async (client) => {
      const first = await client.request("/assets/app.js");
      assert.equal(first.status, 200);
      assert.match(first.headers.get("content-type") ?? "", /^text\/javascript/);
      const etag = first.headers.get("etag");
      assert.ok(etag, "an ETag");
      assert.ok((await first.text()).length > 0);
      const again = await client.request("/assets/app.js", { headers: { "if-none-match": etag } });
      assert.equal(again.status, 304);
      assert.equal(await again.text(), "");
      const other = await client.request("/assets/app.css", { headers: { "if-none-match": etag } });
      assert.equal(other.status, 200, "another file's ETag does not match");
      assert.notEqual(other.headers.get("etag"), etag);
    });
  } finally {
    await stop();
  }
});

test('basePath "/ops/" serves the page and API under it, and only there', async () => {
  const { ui, stop } = await memoryUi({ basePath: "/ops" });
  try {
    await eachEntryPoint(ui, async (client, entry) => {
      assert.equal((await client.request("/ops/")).status, 200);
      const res = await client.request("/ops/api/workflows", { headers: auth });
      assert.equal(res.status, 200, entry);
      assert.equal(((await res.json()) as { name: string }[])[0]?.name, "orders");
      assert.equal((await client.request("/ops/api/runs?status=Shipped", { headers: auth }).then((r) => r.json()) as Page).runs.length, 1);
      const bare = await client.request("/ops");
      assert.equal(bare.status, 308);
      assert.equal(bare.headers.get("location"), "/ops/");
      for (const outside of ["/api/workflows", "/", "/opsx/api/workflows"]) {
        assert.equal((await client.request(outside, { headers: auth })).status, 404, `${entry} ${outside}`);
      }
    });
  } finally {
    await stop();
  }
});

/**
 * What Express does for `app.use("/ops", express.json(), ui.handler)`: cut the mount path off
 * req.url, keep the full one in req.originalUrl and the mount in req.baseUrl, and read a JSON body
 * into req.body before the handler runs. Fastify's middie (`fastify.use("/ops", ui.handler)`) cuts
 * the path the same way but names no mount and leaves the body unread.
 */
function expressLike(mount: string, handler: WebUi["handler"], framework: "express" | "middie"): RequestListener {
  return (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? "/";
    if (url !== mount && !url.startsWith(`${mount}/`) && !url.startsWith(`${mount}?`)) {
      res.writeHead(404, { "content-type": "text/plain" }).end("the app's own 404");
      return;
    }
    const mounted = req as IncomingMessage & { originalUrl: string; baseUrl: string; body?: unknown };
    mounted.originalUrl = url;
    req.url = url.slice(mount.length) || "/";
    if (framework === "middie") {
      if (!req.url.startsWith("/")) req.url = `/${req.url}`;
      void handler(req, res);
      return;
    }
    mounted.baseUrl = mount;
    if (req.headers["content-type"] !== "application/json") {
      void handler(req, res);
      return;
    }
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      mounted.body = JSON.parse(Buffer.concat(chunks).toString() || "{}");
      void handler(req, res);
    });
  };
}

test("mounted by Express or Fastify's middie under a path, the web UI finds its base from the mount", async () => {
  for (const [framework, basePath] of [["express", undefined], ["express", "/ops/"], ["middie", undefined], ["middie", "/ops/"]] as const) {
    const { ui, runIds, stop } = await memoryUi(basePath === undefined ? {} : { basePath });
    const server = await listen(expressLike("/ops", ui.handler, framework));
    try {
      const get = (path: string) => fetch(server.origin + path, { headers: auth, redirect: "manual" });
      assert.equal((await get("/ops/")).status, 200);
      assert.equal((await get("/ops/api/workflows")).status, 200, `${framework}, basePath ${basePath}`);
      const page = (await (await get("/ops/api/runs?limit=2")).json()) as Page;
      assert.equal(page.runs.length, 2);
      const bare = await get("/ops");
      assert.equal(bare.status, 308);
      assert.equal(bare.headers.get("location"), "/ops/");
      assert.equal((await get("/other")).status, 404);
      const paused = await fetch(`${server.origin}/ops/api/runs/orders/${runIds.get("o-2")}/pause`, {
        method: "POST",
        headers: { ...auth, "content-type": "application/json" },
        body: JSON.stringify({ reason: "read by the body parser" }),
      });
      assert.deepEqual(await paused.json(), { runState: RunState.Paused, runStateName: "Paused" });
      const detail = (await (await get(`/ops/api/runs/orders/${runIds.get("o-2")}`)).json()) as { meta: { runStateReason: string } };
      assert.equal(detail.meta.runStateReason, "read by the body parser");
    } finally {
      await server.close();
      await stop();
    }
  }
});

test("with several workflows served, GET /api/runs needs ?workflow=", async () => {
  const clock = new FakeClock(new Date("2026-03-01T12:00:00Z"));
  const adapters = memory({ clock });
  const first = orders(adapters, clock, "orders");
  const second = orders(adapters, clock, "returns");
  await first.run();
  await second.run();
  try {
    await first.trigger("o-1", { initialValue: { item: "a" } });
    const returned = await second.trigger("r-1", { initialValue: { item: "b" } });
    for (const ui of [webui({ workflows: [second, first], token }), webui({ recordStore: adapters.recordStore, token })]) {
      await eachEntryPoint(ui, async (client) => {
        const missing = await getJson<ErrorBody>(client, "/api/runs");
        assert.equal(missing.status, 400);
        assert.equal(missing.body.error.code, "INVALID_OPTION");
        assert.match(missing.body.error.message, /orders, returns/);
        assert.deepEqual((await getJson<Page>(client, "/api/runs?workflow=returns")).body.runs.map((r) => r.foreignId), ["r-1"]);
        assert.deepEqual((await getJson<{ name: string }[]>(client, "/api/workflows")).body.map((w) => w.name), ["orders", "returns"]);
        // A run of one workflow is not found under the other's name.
        assert.equal((await getJson(client, `/api/runs/orders/${returned}`)).status, 404);
        assert.equal((await post(client, `/api/runs/orders/${returned}/cancel`)).status, 404);
        assert.equal((await getJson(client, `/api/runs/returns/${returned}`)).status, 200);
      });
    }
  } finally {
    await first.stop();
    await second.stop();
  }
});

test("over a store alone, an object that is not JSON is served as base64, flagged", async () => {
  const clock = new FakeClock(new Date("2026-03-01T12:00:00Z"));
  const { recordStore } = memory({ clock });
  const record: Record = {
    workflowName: "legacy",
    foreignId: "f-1",
    runId: "run-1",
    runState: RunState.Initiated,
    status: 4,
    object: new Uint8Array([0xff, 0x00, 0x10]),
    createdAt: clock.now(),
    updatedAt: clock.now(),
    meta: { runStateReason: "", statusDescription: "Waiting", version: 1, workflowVersion: 1, traceOrigin: "" },
  };
  await recordStore.store(record);
  const ui = webui({ recordStore, token });
  await eachEntryPoint(ui, async (client) => {
    const { status, body } = await getJson<{ object: unknown; objectEncoding: string; statusName: string }>(client, "/api/runs/legacy/run-1");
    assert.equal(status, 200);
    assert.equal(body.objectEncoding, "base64");
    assert.equal(body.object, "/wAQ");
    assert.equal(body.statusName, "Waiting");
    const [workflow] = (await getJson<{ statuses: unknown[]; counts: object; diagram: string }[]>(client, "/api/workflows")).body;
    assert.deepEqual(workflow?.statuses, [{ status: 4, name: "Waiting", terminal: false }]);
    assert.deepEqual({ ...workflow?.counts }, { Waiting: 1 });
    assert.match(workflow?.diagram ?? "", /Waiting/);
    assert.deepEqual((await getJson<Page>(client, "/api/runs?status=waiting")).body.runs.map((r) => r.runId), ["run-1"]);
  });
});

test("a failure inside the store is a 500 that names no internals, and is logged", async () => {
  const logged: string[] = [];
  const logger: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: (message) => logged.push(message) };
  const { recordStore } = memory();
  const failing: RecordStore = {
    store: (r) => recordStore.store(r),
    lookup: () => Promise.reject(new Error("connect ECONNREFUSED db.internal:5432 (password=hunter2)")),
    latest: (w, f) => recordStore.latest(w, f),
    list: () => Promise.reject(new Error("connect ECONNREFUSED db.internal:5432 (password=hunter2)")),
    listOutboxEvents: (w, l) => recordStore.listOutboxEvents(w, l),
    deleteOutboxEvent: (id) => recordStore.deleteOutboxEvent(id),
  };
  const ui = webui({ recordStore: failing, names: ["orders"], token, logger });
  await eachEntryPoint(ui, async (client) => {
    for (const path of ["/api/runs", "/api/runs/orders/run-1", "/api/workflows"]) {
      const res = await client.request(path, { headers: auth });
      const text = await res.text();
      assert.equal(res.status, 500, path);
      assert.equal((JSON.parse(text) as ErrorBody).error.code, "INTERNAL");
      assert.ok(!/hunter2|db\.internal|at .*\.ts/.test(text), text);
    }
  });
  assert.ok(logged.some((line) => line.includes("ECONNREFUSED")));
});
