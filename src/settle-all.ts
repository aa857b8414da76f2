/**
 * Runs `work` for each item with at most `concurrency` running at once, and settles with each
 * one's outcome, in the items' order.
 */
export async function settleAll<Item, Value>(
  items: readonly Item[],
  concurrency: number,
  work: (item: Item, index: number) => Promise<Value>,
): Promise<PromiseSettledResult<Value>[]> {
  const outcomes = new Array<PromiseSettledResult<Value>>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      try {
        outcomes[index] = { status: "fulfilled", value: await work(items[index] as Item, index) };
      } catch (reason) {
        outcomes[index] = { status: "rejected", reason };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return outcomes;
}
