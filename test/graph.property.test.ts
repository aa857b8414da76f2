import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { BuildError, Builder, InvalidStatusError, type StatusEnum } from "stepwise";
import { memory } from "stepwise/memory";
import { workflowContext } from "../src/workflow.js";
import { propertyParameters } from "./support/properties.js";

/** How a generated status is consumed: by one step, by one or more callbacks, or not at all. */
type Consumer = { kind: "step"; to: number[] } | { kind: "callbacks"; to: number[][] };

/** A generated workflow definition: an enum of named statuses and the consumers added, in order. */
interface Definition {
  names: Map<number, string>;
  consumers: [from: number, consumer: Consumer][];
}

/**
 * Statuses with distinct numbers and distinct PascalCase names, and consumers added in a random
 * order for a random subset of them; every destination is one of the statuses.
 */
const definition: fc.Arbitrary<Definition> = fc
  .uniqueArray(fc.tuple(fc.integer({ min: 1, max: 10_000 }), fc.stringMatching(/^[A-Z][a-zA-Z0-9]{0,8}$/)), {
    minLength: 1,
    maxLength: 8,
    selector: ([status]) => status,
  })
  .map((pairs) => pairs.filter(([, name], i) => name !== "Unknown" && pairs.findIndex(([, other]) => other === name) === i))
  .filter((pairs) => pairs.length > 0)
  .chain((pairs) => {
    const statuses = pairs.map(([status]) => status);
    const destinations = fc.uniqueArray(fc.constantFrom(...statuses), { minLength: 1, maxLength: statuses.length });
    const consumer: fc.Arbitrary<Consumer> = fc.oneof(
      destinations.map((to): Consumer => ({ kind: "step", to })),
      fc.array(destinations, { minLength: 1, maxLength: 3 }).map((to): Consumer => ({ kind: "callbacks", to })),
    );
    return fc
      .shuffledSubarray(statuses, { minLength: 1 })
      .chain((froms) => fc.tuple(...froms.map((from) => consumer.map((c): [number, Consumer] => [from, c]))))
      .map((consumers) => ({ names: new Map(pairs), consumers }));
  });

/** The enum object TypeScript emits for a numeric enum: names to numbers and numbers back to names. */
function statusEnum(names: ReadonlyMap<number, string>): StatusEnum {
  const members: { [key: string]: string | number } = { Unknown: 0, 0: "Unknown" };
  for (const [status, name] of names) {
    members[name] = status;
    members[status] = name;
  }
  return members;
}

const never = async (): Promise<never> => {
  throw new Error("not run in these properties");
};

function define(def: Definition): Builder<object, number> {
  const b = new Builder<object, number>("graph-property", statusEnum(def.names));
  for (const [from, consumer] of def.consumers) {
    if (consumer.kind === "step") b.addStep(from, never, ...(consumer.to as [number, ...number[]]));
    else for (const to of consumer.to) b.addCallback(from, never, ...(to as [number, ...number[]]));
  }
  return b;
}

/** The model: statuses in the order first mentioned, each status's destinations, the start. */
function model(def: Definition) {
  const statuses: number[] = [];
  const destinations = new Map<number, Set<number>>();
  const mention = (status: number) => {
    if (!statuses.includes(status)) statuses.push(status);
  };
  for (const [from, consumer] of def.consumers) {
    mention(from);
    const to = destinations.get(from) ?? new Set<number>();
    for (const status of consumer.kind === "step" ? consumer.to : consumer.to.flat()) {
      to.add(status);
      mention(status);
    }
    destinations.set(from, to);
  }
  return { statuses, destinations, start: def.consumers[0]?.[0] };
}

test("the graph holds the statuses, destinations, start and terminal statuses its definition gives", () => {
  fc.assert(
    fc.property(definition, (def) => {
      const graph = workflowContext(define(def).build(memory())).graph;
      const expected = model(def);
      assert.deepEqual(graph.statuses, expected.statuses);
      assert.equal(graph.start, expected.start);
      for (const status of def.names.keys()) {
        const to = expected.destinations.get(status);
        assert.equal(graph.has(status), expected.statuses.includes(status), `has ${status}`);
        assert.deepEqual(new Set(graph.destinations(status)), to ?? new Set(), `destinations of ${status}`);
        assert.equal(graph.isTerminal(status), to === undefined, `terminal ${status}`);
        assert.equal(graph.statusName(status), def.names.get(status));
      }
    }),
    propertyParameters(300),
  );
});

test("the Mermaid diagram draws every transition, the start and every terminal status, and nothing else", () => {
  fc.assert(
    fc.property(definition, fc.constantFrom("LR", "TB", "RL", "BT" as const), (def, direction) => {
      const text = define(def).build(memory()).diagram(direction);
      const lines = text.trimEnd().split("\n").map((line) => line.trim());
      const expected = model(def);
      const name = (status: number) => def.names.get(status) as string;
      const edges = new Set(lines.filter((line) => line.includes(" --> ")));
      const wanted = new Set([`[*] --> ${name(expected.start as number)}`]);
      for (const status of expected.statuses) {
        const to = expected.destinations.get(status);
        if (to === undefined) wanted.add(`${name(status)} --> [*]`);
        else if (to.size === 1) wanted.add(`${name(status)} --> ${name([...to][0] as number)}`);
        else {
          // Several destinations go through one choice node.
          assert.ok(lines.includes(`state ${name(status)}_choice <<choice>>`), `choice of ${name(status)}`);
          wanted.add(`${name(status)} --> ${name(status)}_choice`);
          for (const status2 of to) wanted.add(`${name(status)}_choice --> ${name(status2)}`);
        }
      }
      assert.equal(lines[0], "stateDiagram-v2");
      assert.equal(lines[1], `direction ${direction}`);
      assert.deepEqual(edges, wanted);
    }),
    propertyParameters(300),
  );
});

/** A status the builder must refuse: 0, negative, or not a whole number. */
const reserved = fc.oneof(
  fc.constant(0),
  fc.integer({ min: -10_000, max: -1 }),
  fc.double({ min: -100, max: 100, noNaN: true }).filter((n) => !Number.isInteger(n)),
  fc.constant(Number.NaN),
);

test("a reserved or fractional status anywhere in a definition is refused by build() with InvalidStatusError naming it", () => {
  fc.assert(
    fc.property(definition, reserved, fc.nat(), fc.boolean(), (def, bad, at, asFrom) => {
      // Put the bad status in one consumer, as its from status or as one of its destinations.
      const consumers = [...def.consumers];
      const i = at % consumers.length;
      const [from, consumer] = consumers[i] as [number, Consumer];
      const firstTo = consumer.kind === "step" ? consumer.to : (consumer.to[0] as number[]);
      const to = asFrom ? firstTo : [...firstTo, bad];
      consumers[i] = [asFrom ? bad : from, consumer.kind === "step" ? { kind: "step", to } : { kind: "callbacks", to: [to] }];
      const b = define({ ...def, consumers });
      assert.throws(
        () => b.build(memory()),
        (err: unknown) => {
          assert.ok(err instanceof InvalidStatusError, String(err));
          assert.equal(err.code, "INVALID_STATUS");
          assert.ok(Object.is(err.status, bad), `names ${bad}, not ${err.status}`);
          return true;
        },
      );
    }),
    propertyParameters(300),
  );
});

test("a second step for a status is refused by build() with BuildError", () => {
  fc.assert(
    fc.property(definition, fc.nat(), (def, at) => {
      const b = define(def);
      const statuses = [...def.names.keys()];
      b.addStep(statuses[at % statuses.length] as number, never, statuses[0] as number);
      const stepped = new Set([...def.consumers.filter(([, c]) => c.kind === "step").map(([from]) => from)]);
      if (stepped.has(statuses[at % statuses.length] as number)) {
        assert.throws(() => b.build(memory()), (err: unknown) => err instanceof BuildError && err.code === "BUILD");
      } else {
        assert.doesNotThrow(() => b.build(memory()));
      }
    }),
    propertyParameters(200),
  );
});

/** A definition and a start status: mostly one of its statuses (in the graph or not), else any number. */
const withStart = definition.chain((def) =>
  fc.tuple(fc.constant(def), fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...def.names.keys()) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 20_000 }) })),
);

test("trigger refuses a start status outside the graph or terminal, with InvalidStatusError, and stores nothing", async () => {
  await fc.assert(
    fc.asyncProperty(withStart, async ([def, startAt]) => {
      const adapters = memory();
      const wf = define(def).build({ ...adapters, pauseRetry: false });
      const expected = model(def);
      const startable = expected.destinations.has(startAt);
      await wf.run();
      try {
        if (startable) {
          const runId = await wf.trigger("f", { startAt });
          assert.equal((await wf.get(runId)).status, startAt);
        } else {
          await assert.rejects(wf.trigger("f", { startAt }), (err: unknown) => err instanceof InvalidStatusError && err.status === startAt);
          assert.equal((await adapters.recordStore.list({ limit: 10 })).length, 0);
        }
      } finally {
        await wf.stop();
        await adapters.close();
      }
    }),
    propertyParameters(100),
  );
});
