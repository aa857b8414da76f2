// Type rules of errBackOff and rateLimit, checked by `tsc --noEmit` in `npm test`: each line
// marked @ts-expect-error must fail to compile, and every other line must compile.
import { Builder, type BackOff, type BackOffPolicy, type ProcessOptions, type RateLimit } from "stepwise";

enum Status {
  Unknown = 0,
  Created = 1,
  Done = 2,
}

const b = new Builder<{ id: string }, Status>("options", Status);
const step = b.addStep(Status.Created, async () => Status.Done, Status.Done);

// A number and a policy both compile; factor and jitter may be left out.
step.withOptions({ errBackOff: 500 });
step.withOptions({ errBackOff: { initial: 100, max: 10_000 } });
step.withOptions({ errBackOff: { initial: 100, max: 10_000, factor: 3, jitter: false } });
step.withOptions({ rateLimit: { max: 200, perMs: 1_000 }, parallelCount: 3 });

// @ts-expect-error a policy needs max
step.withOptions({ errBackOff: { initial: 100 } });
// @ts-expect-error jitter is true or false
step.withOptions({ errBackOff: { initial: 100, max: 1_000, jitter: "full" } });
// @ts-expect-error a rate limit needs perMs
step.withOptions({ rateLimit: { max: 10 } });
// @ts-expect-error a rate limit is { max, perMs }, not a number
step.withOptions({ rateLimit: 10 });

// The types are exported for options kept apart from the builder.
const policy: BackOffPolicy = { initial: 50, max: 2_000 };
const backOff: BackOff = policy;
const limit: RateLimit = { max: 5, perMs: 200 };
const shared: ProcessOptions = { errBackOff: backOff, rateLimit: limit };
step.withOptions(shared);
