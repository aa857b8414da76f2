import assert from "node:assert/strict";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { Builder, createDiagram } from "stepwise";
import { memory } from "stepwise/memory";

enum OrderStatus {
  Unknown = 0,
  Created = 1,
  Paid = 2,
  Shipped = 3,
  Failed = 4,
}

function orders() {
  const b = new Builder<{ amount: number }, OrderStatus>("orders", OrderStatus);
  b.addStep(OrderStatus.Created, async (run) => (run.object.amount > 0 ? OrderStatus.Paid : OrderStatus.Failed), OrderStatus.Paid, OrderStatus.Failed);
  b.addStep(OrderStatus.Paid, async () => OrderStatus.Shipped, OrderStatus.Shipped);
  return b.build(memory());
}

test("diagram() draws the graph as a Mermaid state diagram with a choice where a status branches", () => {
  assert.equal(
    orders().diagram("TB"),
    [
      "stateDiagram-v2",
      "\tdirection TB",
      "\t[*] --> Created",
      "\tstate Created_choice <<choice>>",
      "\tCreated --> Created_choice",
      "\tCreated_choice --> Paid",
      "\tCreated_choice --> Failed",
      "\tPaid --> Shipped",
      "\tFailed --> [*]",
      "\tShipped --> [*]",
      "",
    ].join("\n"),
  );
});

test("createDiagram writes the diagram to a file", async () => {
  const wf = orders();
  const path = join(await mkdtemp(join(tmpdir(), "stepwise-")), "orders.mmd");
  await createDiagram(wf, path, "LR");
  assert.equal(await readFile(path, "utf8"), wf.diagram("LR"));
  assert.match(await readFile(path, "utf8"), /direction LR/);
});
