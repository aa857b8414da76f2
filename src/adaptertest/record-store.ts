import assert from "node:assert/strict";
import { copyRecord, type OutboxEvent, type Record, type RecordStore } from "../record.js";
import { RunState } from "../runstate.js";
import { deleteTopic, runStateChangeTopic, topic } from "../topic.js";
import { assertRejectsWithCode } from "./assert-code.js";
import type { ConformanceCase } from "./case.js";
import { makeRecord } from "./record-fixture.js";
import { uniqueName } from "./unique-name.js";

const t0 = Date.parse("2026-01-01T00:00:00.000Z");
const minute = 60_000;
/** `t0 + n` minutes: timestamps a store of millisecond precision keeps exactly. */
const at = (n: number) => new Date(t0 + n * minute);

/** More outbox events than any case writes, to read them all. */
const allEvents = 1_000;

/**
 * The behaviour every {@link RecordStore} must show: round trips, the outbox event written with
 * each record, the compare-and-set on `meta.version`, one unfinished run per foreign id, lookups,
 * listing and the outbox. `make` is called once per case; cases use their own workflow names and
 * foreign ids, so a database shared by all cases passes too.
 *
 * @example
 * ```ts
 * for (const c of recordStoreCases(async () => new MyRecordStore(pool))) test(`mine: ${c.name}`, c.run);
 * ```
 */
export function recordStoreCases(make: () => Promise<RecordStore>, options: RecordStoreCaseOptions = {}): ConformanceCase[] {
  const { writtenEvents } = options;
  /** The events the store wrote for a workflow, oldest first: its outbox, or where the options say. */
  const written = (store: RecordStore, workflowName: string): Promise<OutboxEvent[]> =>
    writtenEvents ? writtenEvents(workflowName) : store.listOutboxEvents(workflowName, allEvents);
  const cases: ConformanceCase[] = [
    {
      name: "record store: store then lookup round-trips every field",
      run: async () => {
        const store = await make();
        const record = makeRecord({
          workflowName: uniqueName("workflow with spaces"),
          status: 4,
          object: new Uint8Array([0, 1, 2, 127, 128, 200, 255, 0]),
          createdAt: new Date("2026-02-03T04:05:06.789Z"),
          updatedAt: new Date("2026-02-03T04:05:07.001Z"),
          meta: { runStateReason: "because", statusDescription: "Paid", traceOrigin: "test:1", version: 1 },
        });
        await store.store(record);
        assertSameRecord(await store.lookup(record.runId), record, "after the first store");

        const updated = version(record, 2, {
          runState: RunState.Running,
          status: 5,
          object: new TextEncoder().encode(JSON.stringify({ ünïcode: "✓", n: 1 })),
          updatedAt: new Date("2026-02-03T05:00:00.000Z"),
          meta: { ...record.meta, version: 2, statusDescription: "Shipped", runStateReason: "" },
        });
        await store.store(updated);
        assertSameRecord(await store.lookup(record.runId), updated, "after an update");
      },
    },
    {
      name: "record store: a record's trace context reads back, and its event carries it",
      run: async () => {
        const store = await make();
        const traceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        const record = makeRecord({ workflowName: uniqueName("traced"), meta: { traceParent, traceState: "vendor=a,other=b" } });
        await store.store(record);
        assertSameRecord(await store.lookup(record.runId), record, "traceparent and tracestate kept");
        assertSameRecord(await store.latest(record.workflowName, record.foreignId), record, "latest keeps them too");

        const next = version(record, 2, { runState: RunState.Running });
        next.meta = { ...next.meta, traceParent: "00-4bf92f3577b34da6a3ce929d0e0e4736-b7ad6b7169203331-01" };
        delete next.meta.traceState;
        await store.store(next);
        assertSameRecord(await store.lookup(record.runId), next, "a new traceparent without tracestate replaces both");

        const untraced = version(next, 3);
        delete untraced.meta.traceParent;
        await store.store(untraced);
        assertSameRecord(await store.lookup(record.runId), untraced, "a version without a trace context reads back without one");

        const headers = (await written(store, record.workflowName)).map((e) => [e.headers.traceparent, e.headers.tracestate]);
        assert.deepEqual(
          headers,
          [
            [traceParent, "vendor=a,other=b"],
            [next.meta.traceParent, undefined],
            [undefined, undefined],
          ],
          "each event carries its record's trace context",
        );
      },
    },
    {
      name: "record store: every read gives back the record's workflow version, and a later version may change it",
      run: async () => {
        const store = await make();
        const record = makeRecord({ workflowName: uniqueName("versioned"), meta: { workflowVersion: 3 } });
        await store.store(record);
        const reads = async (what: string, want: Record) => {
          assertSameRecord(await store.lookup(record.runId), want, `lookup ${what}`);
          assertSameRecord(await store.latest(record.workflowName, record.foreignId), want, `latest ${what}`);
          const [listed] = await store.list({ workflowName: record.workflowName, limit: 1 });
          assert.ok(listed, `list ${what} finds the run`);
          assertSameRecord(listed, want, `list ${what}`);
          if (store.lookupMany) {
            const [found] = await store.lookupMany([record.runId]);
            assert.ok(found, `lookupMany ${what} finds the run`);
            assertSameRecord(found, want, `lookupMany ${what}`);
          }
        };
        await reads("after the first store", record);

        // An upgrade by a newer definition writes the run's next version with its own workflow version.
        const upgraded = version(record, 2, { runState: RunState.Running, status: 2, meta: { ...record.meta, workflowVersion: 4 } });
        await store.store(upgraded);
        await reads("after a store that changed it", upgraded);
        if (store.storeMany) {
          const again = version(upgraded, 3, { meta: { ...upgraded.meta, workflowVersion: 5 } });
          await store.storeMany([again]);
          await reads("after a storeMany that changed it", again);
        }
      },
    },
    {
      name: "record store: the store keeps its own copy of a record",
      run: async () => {
        const store = await make();
        const record = makeRecord();
        await store.store(record);
        const kept = copyRecord(record);
        record.object[0] = 42;
        record.meta.version = 9;
        record.createdAt.setTime(0);
        assertSameRecord(await store.lookup(record.runId), kept, "changing the stored object afterwards changes nothing");

        const looked = await store.lookup(kept.runId);
        looked.object[0] = 43;
        looked.meta.statusDescription = "changed";
        looked.updatedAt.setTime(0);
        assertSameRecord(await store.lookup(kept.runId), kept, "changing a looked-up record changes nothing");
      },
    },
    {
      name: "record store: every store writes one outbox event with the right topic and headers",
      run: async () => {
        const store = await make();
        const first = makeRecord({ workflowName: uniqueName("workflow") });
        const wf = first.workflowName;
        const versions: Record[] = [first];
        const steps: [RunState, number][] = [
          [RunState.Running, 2],
          [RunState.Paused, 2],
          [RunState.Running, 3],
          [RunState.Cancelled, 3],
          [RunState.RequestedDataDeleted, 3],
          [RunState.DataDeleted, 3],
        ];
        for (const [runState, status] of steps) {
          const prev = versions[versions.length - 1] as Record;
          versions.push(version(prev, prev.meta.version + 1, { runState, status }));
        }
        const completed = makeRecord({ workflowName: wf, runState: RunState.Completed, status: 9 });
        versions.push(completed);
        for (const r of versions) await store.store(r);

        const expectedTopic = (r: Record) => {
          if (r.runState === RunState.RequestedDataDeleted) return deleteTopic(wf);
          if ([RunState.Paused, RunState.Cancelled, RunState.Completed, RunState.DataDeleted].includes(r.runState)) {
            return runStateChangeTopic(wf);
          }
          return topic(wf, r.status);
        };
        const events = await written(store, wf);
        assert.equal(events.length, versions.length, "one outbox event per store");
        for (const [i, r] of versions.entries()) {
          const event = events[i] as OutboxEvent;
          const label = `event ${i + 1} (${RunState[r.runState]}, status ${r.status})`;
          assert.ok(typeof event.id === "string" && event.id !== "", `${label}: id`);
          assert.equal(event.workflowName, wf, `${label}: workflowName`);
          assert.equal(event.foreignId, r.foreignId, `${label}: foreignId`);
          assert.equal(event.type, r.status, `${label}: type is the status`);
          assert.ok(event.createdAt instanceof Date && !Number.isNaN(event.createdAt.getTime()), `${label}: createdAt`);
          assert.deepEqual(
            { ...event.headers },
            {
              workflow_name: wf,
              foreign_id: r.foreignId,
              topic: expectedTopic(r),
              run_id: r.runId,
              run_state: String(r.runState),
              record_version: String(r.meta.version),
            },
            `${label}: headers`,
          );
        }
        assert.equal(new Set(events.map((e) => e.id)).size, events.length, "outbox ids are distinct");
      },
    },
    {
      name: "record store: a version gap is a VersionConflictError and writes nothing",
      run: async () => {
        const store = await make();
        const record = makeRecord();
        await store.store(record);
        const skipping = version(record, 3, { status: 3 });
        await assertRejectsWithCode(store.store(skipping), "VERSION_CONFLICT", "storing version 3 over version 1");
        assertSameRecord(await store.lookup(record.runId), record, "the stored record is unchanged");
        assert.equal((await written(store, record.workflowName)).length, 1, "no outbox event for the refused write");

        const unknown = makeRecord({ meta: { version: 2 } });
        await assertRejectsWithCode(store.store(unknown), "VERSION_CONFLICT", "storing version 2 of a run that does not exist");
        await assertRejectsWithCode(store.lookup(unknown.runId), "RECORD_NOT_FOUND", "the refused run");
      },
    },
    {
      name: "record store: the same version stored twice is a VersionConflictError the second time",
      run: async () => {
        const store = await make();
        const record = makeRecord();
        await store.store(record);
        const winner = version(record, 2, { runState: RunState.Running, status: 2 });
        const loser = version(record, 2, { runState: RunState.Running, status: 3 });
        await store.store(winner);
        await assertRejectsWithCode(store.store(loser), "VERSION_CONFLICT", "storing version 2 a second time");
        assertSameRecord(await store.lookup(record.runId), winner, "the first write stays");
        assert.equal((await written(store, record.workflowName)).length, 2, "no outbox event for the refused write");
      },
    },
    {
      name: "record store: storing version 1 of an existing run is a VersionConflictError",
      run: async () => {
        const store = await make();
        const record = makeRecord();
        await store.store(record);
        // Finished, so only the version check can refuse the second create.
        const done = version(record, 2, { runState: RunState.Completed });
        await store.store(done);
        await assertRejectsWithCode(store.store(makeRecord({ ...record, status: 7 })), "VERSION_CONFLICT", "re-creating a run id");
        assertSameRecord(await store.lookup(record.runId), done, "the stored run is unchanged");
      },
    },
    {
      name: "record store: concurrent writes of one version: exactly one wins",
      run: async () => {
        const store = await make();
        const record = makeRecord();
        await store.store(record);
        const attempts = Array.from({ length: 10 }, (_, i) => version(record, 2, { runState: RunState.Running, status: 10 + i }));
        const results = await Promise.allSettled(attempts.map((r) => store.store(r)));
        const won = results.flatMap((r, i) => (r.status === "fulfilled" ? [attempts[i] as Record] : []));
        assert.equal(won.length, 1, "exactly one concurrent write of version 2 succeeds");
        for (const r of results) {
          if (r.status === "rejected") assert.equal(codeOf(r.reason), "VERSION_CONFLICT", `a losing write: ${String(r.reason)}`);
        }
        assertSameRecord(await store.lookup(record.runId), won[0] as Record, "the winner is stored");
        assert.equal((await written(store, record.workflowName)).length, 2, "one outbox event per successful write");
      },
    },
    {
      name: "record store: a new run while the foreign id has an unfinished run is a WorkflowInProgressError",
      run: async () => {
        const store = await make();
        const first = makeRecord();
        const { workflowName, foreignId } = first;
        await store.store(first);
        const second = makeRecord({ workflowName, foreignId, createdAt: at(1) });
        await assertRejectsWithCode(store.store(second), "WORKFLOW_IN_PROGRESS", "a second run while the first is Initiated");
        await assertRejectsWithCode(store.lookup(second.runId), "RECORD_NOT_FOUND", "the refused run");
        assert.equal((await written(store, workflowName)).length, 1, "no outbox event for the refused run");

        const paused = version(first, 2, { runState: RunState.Paused });
        await store.store(paused);
        await assertRejectsWithCode(store.store(second), "WORKFLOW_IN_PROGRESS", "a second run while the first is Paused");

        const otherWorkflow = makeRecord({ foreignId });
        await store.store(otherWorkflow); // the same foreign id in another workflow is another matter

        await store.store(version(paused, 3, { runState: RunState.Cancelled }));
        await store.store(second);
        assert.equal((await store.latest(workflowName, foreignId)).runId, second.runId, "a new run is allowed once the previous finished");
      },
    },
    {
      name: "record store: concurrent creates for one foreign id yield exactly one run",
      run: async () => {
        const store = await make();
        const workflowName = uniqueName("workflow");
        const foreignId = uniqueName("foreign");
        const attempts = Array.from({ length: 10 }, () => makeRecord({ workflowName, foreignId }));
        const results = await Promise.allSettled(attempts.map((r) => store.store(r)));
        const won = results.flatMap((r, i) => (r.status === "fulfilled" ? [attempts[i] as Record] : []));
        assert.equal(won.length, 1, "exactly one concurrent create succeeds");
        for (const r of results) {
          if (r.status === "rejected") assert.equal(codeOf(r.reason), "WORKFLOW_IN_PROGRESS", `a losing create: ${String(r.reason)}`);
        }
        const runs = await store.list({ workflowName, limit: 100, filter: { foreignId: [foreignId] } });
        assert.deepEqual(runs.map((r) => r.runId), [(won[0] as Record).runId], "one run is stored");
        assert.equal((await written(store, workflowName)).length, 1, "one outbox event");
      },
    },
    {
      name: "record store: lookup of an unknown run id is a RecordNotFoundError",
      run: async () => {
        const store = await make();
        await assertRejectsWithCode(store.lookup(makeRecord().runId), "RECORD_NOT_FOUND", "lookup of an unknown run id");
      },
    },
    {
      name: "record store: latest returns the newest run of the foreign id",
      run: async () => {
        const store = await make();
        const older = makeRecord({ createdAt: at(0) });
        const { workflowName, foreignId } = older;
        await store.store(older);
        assert.equal((await store.latest(workflowName, foreignId)).runId, older.runId, "the only run");
        await store.store(version(older, 2, { runState: RunState.Completed }));
        const newer = makeRecord({ workflowName, foreignId, createdAt: at(1), updatedAt: at(1) });
        await store.store(newer);
        assertSameRecord(await store.latest(workflowName, foreignId), newer, "the newer run");

        await assertRejectsWithCode(store.latest(workflowName, uniqueName("foreign")), "RECORD_NOT_FOUND", "latest of an unknown foreign id");
        await assertRejectsWithCode(store.latest(uniqueName("workflow"), foreignId), "RECORD_NOT_FOUND", "latest in another workflow");
      },
    },
    {
      name: "record store: list orders by creation and pages with offset and limit",
      run: async () => {
        const store = await make();
        const { workflowName, runs } = await storeListFixture(store);
        const ids = (records: Record[]) => records.map((r) => r.runId);
        const want = (...indexes: number[]) => indexes.map((i) => (runs[i] as Record).runId);

        assert.deepEqual(ids(await store.list({ workflowName, limit: 10 })), want(0, 1, 2, 3, 4), "ascending by default");
        assert.deepEqual(ids(await store.list({ workflowName, limit: 10, order: "asc" })), want(0, 1, 2, 3, 4), "asc");
        assert.deepEqual(ids(await store.list({ workflowName, limit: 10, order: "desc" })), want(4, 3, 2, 1, 0), "desc");
        assert.deepEqual(ids(await store.list({ workflowName, limit: 2 })), want(0, 1), "first page");
        assert.deepEqual(ids(await store.list({ workflowName, limit: 2, offset: 2 })), want(2, 3), "second page");
        assert.deepEqual(ids(await store.list({ workflowName, limit: 2, offset: 4 })), want(4), "last page");
        assert.deepEqual(ids(await store.list({ workflowName, limit: 2, offset: 5 })), [], "past the end");
        assert.deepEqual(ids(await store.list({ workflowName, limit: 2, offset: 1, order: "desc" })), want(3, 2), "a desc page");
        assertSameRecord((await store.list({ workflowName, limit: 1, offset: 2 }))[0] as Record, runs[2] as Record, "listed records are whole");
      },
    },
    {
      name: "record store: list filters by foreign id, status, run state and creation time, alone and combined",
      run: async () => {
        const store = await make();
        const { workflowName, runs } = await storeListFixture(store);
        const ids = (records: Record[]) => records.map((r) => r.runId);
        const want = (...indexes: number[]) => indexes.map((i) => (runs[i] as Record).runId);
        const list = (filter: NonNullable<Parameters<RecordStore["list"]>[0]["filter"]>) =>
          store.list({ workflowName, limit: 10, filter }).then(ids);

        const fid = (i: number) => (runs[i] as Record).foreignId;
        assert.deepEqual(await list({ foreignId: [fid(0), fid(2)] }), want(0, 2), "foreignId");
        assert.deepEqual(await list({ status: [2] }), want(1, 2), "one status");
        assert.deepEqual(await list({ status: [1, 3] }), want(0, 3, 4), "two statuses");
        assert.deepEqual(await list({ runState: [RunState.Running] }), want(1, 3), "runState");
        assert.deepEqual(await list({ runState: [RunState.Paused, RunState.Completed] }), want(2, 4), "two run states");
        assert.deepEqual(await list({ createdAfter: at(1) }), want(2, 3, 4), "createdAfter is exclusive");
        assert.deepEqual(await list({ createdBefore: at(3) }), want(0, 1, 2), "createdBefore is exclusive");
        assert.deepEqual(await list({ createdAfter: at(0), createdBefore: at(4) }), want(1, 2, 3), "a time window");
        assert.deepEqual(
          await list({ status: [2, 3], runState: [RunState.Running], createdAfter: at(0) }),
          want(1, 3),
          "status, run state and createdAfter combined",
        );
        assert.deepEqual(
          await list({ foreignId: [fid(1), fid(2), fid(3)], status: [2, 3], runState: [RunState.Running], createdBefore: at(3) }),
          want(1),
          "every filter combined",
        );
        assert.deepEqual(await list({ foreignId: [uniqueName("foreign")] }), [], "no match");
      },
    },
    {
      name: "record store: list is scoped by workflow name",
      run: async () => {
        const store = await make();
        const { workflowName, runs } = await storeListFixture(store);
        const other = makeRecord({ workflowName: uniqueName("other-workflow"), createdAt: at(0) });
        await store.store(other);
        const first = runs[0] as Record;
        const both = { foreignId: [first.foreignId, other.foreignId] };

        const inWorkflow = await store.list({ workflowName, limit: 10, filter: both });
        assert.deepEqual(inWorkflow.map((r) => r.runId), [first.runId], "only the named workflow's runs");
        const inOther = await store.list({ workflowName: other.workflowName, limit: 10 });
        assert.deepEqual(inOther.map((r) => r.runId), [other.runId], "only the other workflow's runs");
        const everywhere = await store.list({ limit: 10, filter: both });
        assert.deepEqual(new Set(everywhere.map((r) => r.runId)), new Set([first.runId, other.runId]), "without a name, every workflow");
      },
    },
    {
      name: "record store: list breaks creation-time ties by insertion order",
      run: async () => {
        const store = await make();
        const workflowName = uniqueName("workflow");
        const runs = [makeRecord({ workflowName }), makeRecord({ workflowName }), makeRecord({ workflowName })];
        for (const r of runs) await store.store(r);
        const ids = runs.map((r) => r.runId);
        assert.deepEqual((await store.list({ workflowName, limit: 10 })).map((r) => r.runId), ids, "asc");
        assert.deepEqual((await store.list({ workflowName, limit: 10, order: "desc" })).map((r) => r.runId), [...ids].reverse(), "desc");
      },
    },
    {
      name: "record store: listOutboxEvents returns the workflow's events oldest first, up to the limit",
      run: async () => {
        const store = await make();
        const a = uniqueName("workflow-a");
        const b = uniqueName("workflow-b");
        const inA = Array.from({ length: 5 }, (_, i) => makeRecord({ workflowName: a, foreignId: uniqueName(`a${i}`) }));
        const inB = Array.from({ length: 2 }, (_, i) => makeRecord({ workflowName: b, foreignId: uniqueName(`b${i}`) }));
        for (const [i, r] of inA.entries()) {
          await store.store(r);
          if (i < inB.length) await store.store(inB[i] as Record); // interleaved across workflows
        }

        const firstThree = await store.listOutboxEvents(a, 3);
        assert.deepEqual(firstThree.map((e) => e.foreignId), inA.slice(0, 3).map((r) => r.foreignId), "the oldest three");
        const allOfA = await store.listOutboxEvents(a, allEvents);
        assert.deepEqual(allOfA.map((e) => e.foreignId), inA.map((r) => r.foreignId), "all of workflow A");
        assert.ok(allOfA.every((e) => e.workflowName === a), "only workflow A's events");
        const allOfB = await store.listOutboxEvents(b, allEvents);
        assert.deepEqual(allOfB.map((e) => e.foreignId), inB.map((r) => r.foreignId), "all of workflow B");
        assert.deepEqual(await store.listOutboxEvents(uniqueName("workflow"), allEvents), [], "none for an unknown workflow");
      },
    },
    {
      name: "record store: deleteOutboxEvent removes the event; an unknown id is an OutboxRecordNotFoundError",
      run: async () => {
        const store = await make();
        const workflowName = uniqueName("workflow");
        await store.store(makeRecord({ workflowName }));
        await store.store(makeRecord({ workflowName }));
        const [first, second] = await store.listOutboxEvents(workflowName, allEvents);
        assert.ok(first !== undefined && second !== undefined, "two outbox events");

        await store.deleteOutboxEvent(first.id);
        const left = await store.listOutboxEvents(workflowName, allEvents);
        assert.deepEqual(left.map((e) => e.id), [second.id], "the deleted event is gone, the other stays");
        await assertRejectsWithCode(store.deleteOutboxEvent(first.id), "OUTBOX_RECORD_NOT_FOUND", "deleting an event twice");
        await store.deleteOutboxEvent(second.id);
        assert.deepEqual(await store.listOutboxEvents(workflowName, allEvents), [], "all deleted");
      },
    },
  ];
  cases.push(
    {
      name: "record store: storeMany writes every record and its event together, or none when one is at fault",
      run: async () => {
        const store = await make();
        if (!store.storeMany) return;
        const workflowName = uniqueName("workflow");
        const firsts = [0, 1, 2].map(() => makeRecord({ workflowName }));
        for (const record of firsts) await store.store(record);
        const seconds = firsts.map((record) => version(record, 2, { runState: RunState.Running, status: 2 }));
        await store.storeMany(seconds);
        for (const record of seconds) assertSameRecord(await store.lookup(record.runId), record, "after storeMany");
        assert.equal((await written(store, workflowName)).length, 6, "one event per record of the batch");

        const [a, b, c] = seconds as [Record, Record, Record];
        const thirds = [version(a, 3, { status: 3 }), version(b, 4, { status: 3 }), version(c, 3, { status: 3 })];
        await assertRejectsWithCode(store.storeMany(thirds), "VERSION_CONFLICT", "a batch with a version gap");
        for (const record of seconds) assertSameRecord(await store.lookup(record.runId), record, "nothing of the refused batch is written");
        assert.equal((await written(store, workflowName)).length, 6, "and no event of it");

        const fresh = makeRecord({ workflowName });
        await store.storeMany([version(a, 3, { status: 3 }), fresh]);
        assertSameRecord(await store.lookup(fresh.runId), fresh, "a new run in a batch");
        const sameForeignId = makeRecord({ workflowName, foreignId: fresh.foreignId });
        await assertRejectsWithCode(store.storeMany([version(b, 3, { status: 3 }), sameForeignId]), "WORKFLOW_IN_PROGRESS", "a second unfinished run in a batch");
        assertSameRecord(await store.lookup(b.runId), b, "the batch with the refused new run writes nothing");
      },
    },
    {
      name: "record store: concurrent storeMany of one version: each run is written once",
      run: async () => {
        const store = await make();
        if (!store.storeMany) return;
        const runs = Array.from({ length: 20 }, () => makeRecord());
        for (const record of runs) await store.store(record);
        const batches = [2, 3].map((status) => runs.map((record) => version(record, 2, { runState: RunState.Running, status })));
        const outcomes = await Promise.allSettled(batches.map((batch) => (store.storeMany as NonNullable<RecordStore["storeMany"]>)(batch)));
        assert.equal(outcomes.filter((o) => o.status === "fulfilled").length, 1, "exactly one batch wins");
        const winner = batches[outcomes.findIndex((o) => o.status === "fulfilled")] as Record[];
        for (const record of winner) assertSameRecord(await store.lookup(record.runId), record, "every run as the winning batch wrote it");
      },
    },
    {
      name: "record store: lookupMany returns the runs found and leaves out the others",
      run: async () => {
        const store = await make();
        if (!store.lookupMany) return;
        const runs = [makeRecord(), makeRecord({ status: 7 })];
        for (const record of runs) await store.store(record);
        const found = await store.lookupMany([runs[1]!.runId, "no-such-run", runs[0]!.runId]);
        assert.equal(found.length, 2, "the unknown run is left out");
        for (const record of runs) assertSameRecord(found.find((r) => r.runId === record.runId) as Record, record, "each run found");
        assert.deepEqual(await store.lookupMany([]), [], "no run ids, no runs");
      },
    },
  );
  cases.push({
    name: "record store: deleteOutboxEvents removes those events in one go and leaves unknown ids alone",
    run: async () => {
      const store = await make();
      if (!store.deleteOutboxEvents) return;
      const workflowName = uniqueName("workflow");
      for (let i = 0; i < 4; i++) await store.store(makeRecord({ workflowName }));
      const events = await store.listOutboxEvents(workflowName, allEvents);
      const [first, second, third, fourth] = events as [OutboxEvent, OutboxEvent, OutboxEvent, OutboxEvent];
      await store.deleteOutboxEvents([first.id, third.id, "no-such-event", "12345678"]);
      assert.deepEqual(
        (await store.listOutboxEvents(workflowName, allEvents)).map((e) => e.id),
        [second.id, fourth.id],
        "the events not named stay, in order",
      );
      await store.deleteOutboxEvents([first.id]);
      assert.equal((await store.listOutboxEvents(workflowName, allEvents)).length, 2, "deleting again changes nothing");
    },
  });
  cases.push(
    {
      name: "record store: countByStatus counts the workflow's runs in each status",
      run: async () => {
        const store = await make();
        if (!store.countByStatus) return;
        const { workflowName, runs } = await storeListFixture(store);
        await store.store(makeRecord({ workflowName: uniqueName("other-workflow"), status: 2 }));
        const countByStatus = store.countByStatus.bind(store);
        const counts = async (name: string) => Object.fromEntries(await countByStatus(name));
        assert.deepEqual(await counts(workflowName), { 1: 2, 2: 2, 3: 1 }, "every run counts once, whatever its run state, and no other workflow's");
        await store.store(version(runs[0] as Record, 2, { runState: RunState.Running, status: 3 }));
        assert.deepEqual(await counts(workflowName), { 1: 1, 2: 2, 3: 2 }, "a run that moved counts in its new status only");
        assert.deepEqual(await counts(uniqueName("workflow")), {}, "an unknown workflow has no counts");
      },
    },
    {
      name: "record store: workflowNames names each workflow with runs once, sorted",
      run: async () => {
        const store = await make();
        if (!store.workflowNames) return;
        // Two names differ only in case: both are listed, in code-point order ("B" before "a").
        const base = uniqueName("names");
        const named = [`${base}-b`, `${base}-a`, `${base}-B`];
        for (const workflowName of named) {
          await store.store(makeRecord({ workflowName }));
          await store.store(makeRecord({ workflowName }));
        }
        const names = await store.workflowNames();
        // The database may be shared with other cases, so only this case's names are compared.
        assert.deepEqual(names.filter((name) => name.startsWith(base)), [...named].sort(), "each name once, sorted");
        assert.deepEqual(names, [...names].sort(), "the whole list is sorted");
        assert.equal(new Set(names).size, names.length, "no name twice");
      },
    },
  );
  if (writtenEvents === undefined) return cases;
  // Events written elsewhere: the outbox cases do not apply, and the outbox must stay empty.
  return [
    ...cases.filter((c) => !c.name.startsWith("record store: listOutboxEvents") && !c.name.startsWith("record store: deleteOutboxEvent")),
    {
      name: "record store: a store that writes its events elsewhere leaves the outbox empty",
      run: async () => {
        const store = await make();
        const workflowName = uniqueName("workflow");
        await store.store(makeRecord({ workflowName }));
        assert.equal((await writtenEvents(workflowName)).length, 1, "the event is written where the options say");
        assert.deepEqual(await store.listOutboxEvents(workflowName, allEvents), [], "and not to the outbox");
      },
    },
  ];
}

/** Options of {@link recordStoreCases}. */
export interface RecordStoreCaseOptions {
  /**
   * For a store that writes each record's event somewhere other than its outbox (the SQL stores
   * with `events: "table"`): the events written for `workflowName`, oldest first, as the outbox
   * would list them. The cases then check those, and that the outbox stays empty.
   */
  writtenEvents?: (workflowName: string) => Promise<OutboxEvent[]>;
}

/**
 * Five runs of one workflow, stored out of creation order:
 * 0: Initiated status 1 at t0; 1: Running 2 at t1; 2: Paused 2 at t2; 3: Running 3 at t3; 4: Completed 1 at t4.
 */
async function storeListFixture(store: RecordStore): Promise<{ workflowName: string; runs: Record[] }> {
  const workflowName = uniqueName("workflow");
  const shape: [RunState, number][] = [
    [RunState.Initiated, 1],
    [RunState.Running, 2],
    [RunState.Paused, 2],
    [RunState.Running, 3],
    [RunState.Completed, 1],
  ];
  const runs = shape.map(([runState, status], i) =>
    makeRecord({ workflowName, foreignId: uniqueName(`foreign-${i}`), runState, status, createdAt: at(i), updatedAt: at(i) }),
  );
  for (const i of [2, 0, 4, 1, 3]) await store.store(runs[i] as Record);
  return { workflowName, runs };
}

/** The next version of `record`, with `changes`. */
function version(record: Record, v: number, changes: Partial<Record> = {}): Record {
  return { ...copyRecord(record), ...changes, meta: { ...record.meta, ...changes.meta, version: v } };
}

/** Compares records field by field, bytes as bytes and dates as instants, so a Buffer or a driver's Date subclass passes. */
function assertSameRecord(got: Record, want: Record, what: string): void {
  assert.ok(got.object instanceof Uint8Array, `${what}: object is a Uint8Array`);
  assert.ok(got.createdAt instanceof Date && got.updatedAt instanceof Date, `${what}: dates are Dates`);
  const plain = (r: Record) => ({
    ...r,
    object: Array.from(r.object),
    createdAt: r.createdAt.toISOString(),
    updatedAt: r.updatedAt.toISOString(),
    meta: { ...r.meta },
  });
  assert.deepEqual(plain(got), plain(want), what);
}

function codeOf(err: unknown): unknown {
  return typeof err === "object" && err !== null && "code" in err ? err.code : undefined;
}
