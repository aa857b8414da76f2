import assert from "node:assert/strict";
import type { NewTimeout, TimeoutRecord, TimeoutStore } from "../timeout-store.js";
import { assertRejectsWithCode } from "./assert-code.js";
import type { ConformanceCase } from "./case.js";
import { uniqueName } from "./unique-name.js";

const now = new Date("2026-01-01T12:00:00.000Z");
/** `now` moved by `minutes`. */
const from = (minutes: number) => new Date(now.getTime() + minutes * 60_000);

/**
 * The behaviour every {@link TimeoutStore} must show. `make` is called once per case; cases use
 * their own workflow names, so a database shared by all cases passes too.
 *
 * @example
 * ```ts
 * for (const c of timeoutStoreCases(async () => new MyTimeoutStore(pool))) test(`mine: ${c.name}`, c.run);
 * ```
 */
export function timeoutStoreCases(make: () => Promise<TimeoutStore>): ConformanceCase[] {
  return [
    {
      name: "timeout store: created timeouts are listed, soonest expiry first, with their fields",
      run: async () => {
        const store = await make();
        const workflowName = uniqueName("workflow");
        const later = newTimeout(workflowName, { status: 2, expireAt: from(30) });
        const soon = newTimeout(workflowName, { status: 1, expireAt: from(-5) });
        const middle = newTimeout(workflowName, { status: 1, expireAt: from(10) });
        for (const t of [later, soon, middle]) await store.create(t);

        const listed = await store.list(workflowName);
        assert.deepEqual(listed.map((t) => t.runId), [soon.runId, middle.runId, later.runId], "ordered by expireAt");
        for (const [t, want] of [[listed[0], soon], [listed[1], middle], [listed[2], later]] as const) {
          assert.ok(t !== undefined);
          assert.ok(typeof t.id === "string" && t.id !== "", "id is a non-empty string");
          assert.equal(t.workflowName, want.workflowName, "workflowName");
          assert.equal(t.foreignId, want.foreignId, "foreignId");
          assert.equal(t.status, want.status, "status");
          assert.equal(t.completed, false, "an active timeout is not completed");
          assert.equal(t.expireAt.getTime(), want.expireAt.getTime(), "expireAt");
          assert.ok(t.createdAt instanceof Date && !Number.isNaN(t.createdAt.getTime()), "createdAt is a valid Date");
        }
        assert.equal(new Set(listed.map((t) => t.id)).size, 3, "ids are distinct");
      },
    },
    {
      name: "timeout store: each of a status's timeouts keeps its index; one created without an index reads back as the first",
      run: async () => {
        const store = await make();
        const workflowName = uniqueName("workflow");
        const reminder = newTimeout(workflowName, { index: 0, expireAt: from(-2) });
        // The same run and status: a reminder and an expiry, as the engine inserts them.
        const expiry = { ...reminder, index: 1, expireAt: from(-1) };
        const unindexed = newTimeout(workflowName, { expireAt: from(-3) });
        for (const t of [reminder, expiry, unindexed]) await store.create(t);

        // Absent reads as 0, as the engine reads it.
        const indexes = (listed: TimeoutRecord[]) => listed.map((t) => [t.runId, t.index ?? 0]);
        const want = [[unindexed.runId, 0], [reminder.runId, 0], [reminder.runId, 1]];
        assert.deepEqual(indexes(await store.list(workflowName)), want, "list keeps both timeouts of the run, each with its index");
        assert.deepEqual(indexes(await store.listValid(workflowName, 1, now)), want, "and so does listValid");
      },
    },
    {
      name: "timeout store: listValid returns only the expired timeouts of the status",
      run: async () => {
        const store = await make();
        const workflowName = uniqueName("workflow");
        const expired = newTimeout(workflowName, { status: 1, expireAt: from(-1) });
        const expiringNow = newTimeout(workflowName, { status: 1, expireAt: now });
        const future = newTimeout(workflowName, { status: 1, expireAt: from(1) });
        const otherStatus = newTimeout(workflowName, { status: 2, expireAt: from(-1) });
        for (const t of [expired, expiringNow, future, otherStatus]) await store.create(t);

        const valid = await store.listValid(workflowName, 1, now);
        assert.deepEqual(runIds(valid), [expired.runId, expiringNow.runId].sort(), "expired (expireAt <= now) timeouts of status 1");
        assert.deepEqual(runIds(await store.listValid(workflowName, 2, now)), [otherStatus.runId], "status 2");
        assert.deepEqual(runIds(await store.listValid(workflowName, 1, from(1))), runIds([expired, expiringNow, future]), "later, all of status 1");
        assert.deepEqual(await store.listValid(workflowName, 3, from(60)), [], "a status without timeouts");
      },
    },
    {
      name: "timeout store: listValid pages in expiry order, ties in a fixed order, each page after the last of the one before, also when that one is gone",
      run: async () => {
        const store = await make();
        const workflowName = uniqueName("workflow");
        // Twelve due timeouts, eight of them sharing an expiry (their order then rests on ids past 9),
        // created out of expiry order; and two that are not due or of another status.
        const minutes = [-1, -1, -3, -1, -1, -2, -1, -1, -1, -1, -4, -2];
        for (const m of minutes) await store.create(newTimeout(workflowName, { status: 1, expireAt: from(m) }));
        await store.create(newTimeout(workflowName, { status: 1, expireAt: from(5) }));
        await store.create(newTimeout(workflowName, { status: 2, expireAt: from(-5) }));
        const whole = await store.listValid(workflowName, 1, now);
        assert.equal(whole.length, minutes.length, "the unpaged listing has every due timeout of the status");

        const pages: TimeoutRecord[][] = [];
        let after: TimeoutRecord | undefined;
        for (;;) {
          const page = await store.listValid(workflowName, 1, now, { after, limit: 5 });
          pages.push(page);
          if (page.length < 5) break;
          after = page.at(-1);
          assert.ok(pages.length < 10, "the pages come to an end");
        }
        assert.deepEqual(pages.map((page) => page.length), [5, 5, 2], "pages of at most the limit");
        assert.deepEqual(pages.flat().map((t) => t.id), whole.map((t) => t.id), "the pages together are the whole listing, in its order");
        const expiries = whole.map((t) => t.expireAt.getTime());
        assert.deepEqual(expiries, [...expiries].sort((a, b) => a - b), "soonest first");

        const [first, second] = pages;
        assert.ok(first && second);
        const last = first.at(-1);
        assert.ok(last);
        await store.complete(last.id);
        assert.deepEqual(
          (await store.listValid(workflowName, 1, now, { after: last, limit: 5 })).map((t) => t.id),
          second.map((t) => t.id),
          "a page after a timeout that is gone starts where it would have",
        );
        assert.deepEqual(await store.listValid(workflowName, 1, now, { after: whole.at(-1), limit: 5 }), [], "nothing after the last");
      },
    },
    {
      name: "timeout store: complete and cancel remove a timeout from list and listValid",
      run: async () => {
        const store = await make();
        const workflowName = uniqueName("workflow");
        const toComplete = newTimeout(workflowName, { expireAt: from(-2) });
        const toCancel = newTimeout(workflowName, { expireAt: from(-1) });
        const kept = newTimeout(workflowName, { expireAt: from(-3) });
        for (const t of [toComplete, toCancel, kept]) await store.create(t);
        const idOf = idsByRun(await store.list(workflowName));

        await store.complete(idOf(toComplete));
        await store.cancel(idOf(toCancel));
        assert.deepEqual(runIds(await store.list(workflowName)), [kept.runId], "list keeps only the active timeout");
        assert.deepEqual(runIds(await store.listValid(workflowName, 1, now)), [kept.runId], "listValid keeps only the active timeout");
      },
    },
    {
      name: "timeout store: completing or cancelling an unknown or inactive timeout is a TimeoutNotFoundError",
      run: async () => {
        const store = await make();
        const workflowName = uniqueName("workflow");
        const completed = newTimeout(workflowName);
        const cancelled = newTimeout(workflowName);
        await store.create(completed);
        await store.create(cancelled);
        const idOf = idsByRun(await store.list(workflowName));
        await store.complete(idOf(completed));
        await store.cancel(idOf(cancelled));

        await assertRejectsWithCode(store.complete(idOf(completed)), "TIMEOUT_NOT_FOUND", "completing a completed timeout");
        await assertRejectsWithCode(store.cancel(idOf(completed)), "TIMEOUT_NOT_FOUND", "cancelling a completed timeout");
        await assertRejectsWithCode(store.complete(idOf(cancelled)), "TIMEOUT_NOT_FOUND", "completing a cancelled timeout");
        await assertRejectsWithCode(store.cancel(idOf(cancelled)), "TIMEOUT_NOT_FOUND", "cancelling a cancelled timeout");
      },
    },
    {
      name: "timeout store: timeouts are scoped by workflow",
      run: async () => {
        const store = await make();
        const a = uniqueName("workflow-a");
        const b = uniqueName("workflow-b");
        const inA = newTimeout(a, { expireAt: from(-1) });
        const inB = newTimeout(b, { expireAt: from(-1) });
        await store.create(inA);
        await store.create(inB);
        assert.deepEqual(runIds(await store.list(a)), [inA.runId], "list of workflow A");
        assert.deepEqual(runIds(await store.listValid(b, 1, now)), [inB.runId], "listValid of workflow B");
        assert.deepEqual(await store.list(uniqueName("workflow")), [], "an unknown workflow has none");
      },
    },
  ];
}

function newTimeout(workflowName: string, overrides: Partial<NewTimeout> = {}): NewTimeout {
  return { workflowName, foreignId: uniqueName("foreign"), runId: uniqueName("run"), status: 1, expireAt: now, ...overrides };
}

/** Run ids (unique per timeout in these cases), sorted, to compare sets. */
function runIds(timeouts: readonly { runId: string }[]): string[] {
  return timeouts.map((t) => t.runId).sort();
}

/** Looks up a created timeout's id (create does not return it) by its unique run id. */
function idsByRun(listed: TimeoutRecord[]): (t: NewTimeout) => string {
  return (t) => {
    const found = listed.find((l) => l.runId === t.runId);
    assert.ok(found !== undefined, `timeout of run ${t.runId} is listed`);
    return found.id;
  };
}
