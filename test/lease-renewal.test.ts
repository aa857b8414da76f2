import assert from "node:assert/strict";
import { test } from "node:test";
import { renewLease, type LeaseRenewal } from "../src/lease-renewal.js";

const ttlMs = 3_000;

/**
 * Keeps a lease asked for `askedAgoMs` before it was granted, with a renewal the engine confirms
 * 50 ms after it is sent, until the first renewal has answered: what `renewLease` made of it.
 */
async function firstRenewal(role: string, askedAgoMs: number) {
  const leased = new AbortController();
  const renewal: LeaseRenewal<object> = {
    ttlMs: () => ttlMs,
    askedAtMs: () => Date.now() - askedAgoMs,
    renew: async () => {
      await new Promise((resolve) => setTimeout(resolve, 50));
      leased.abort();
      return true;
    },
  };
  return renewLease(role, renewal, {}, leased.signal);
}

test("a lease's first term counts from when it was asked for, so one granted by a late answer is given up before the engine lets it go", async () => {
  // Asked for 2.9 s before the answer came: by the first renewal, a second later, its term is over.
  const lost = await firstRenewal("late-answer", 2_900);
  assert.equal(lost?.code, "ROLE_LOST");
  assert.match(String(lost), /no renewal succeeded before it could expire/);
});

test("a lease granted as soon as it was asked for is kept by a renewal that answers in time", async () => {
  assert.equal(await firstRenewal("prompt-answer", 0), undefined, "renewed, then given back when its holder let go");
});
