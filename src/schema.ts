import type { StandardSchemaV1 } from "@standard-schema/spec";

/**
 * What `Builder.withSchema` asks of its schema beyond Standard Schema: that it accept its own
 * output, since a step is handed the last output stored and what it leaves is validated again. A
 * schema that transforms into another type (`z.string().transform(Number)`) then fails to compile,
 * naming the rule, rather than refusing every step at runtime.
 */
export type AcceptsOwnOutput<Schema extends StandardSchemaV1> = [StandardSchemaV1.InferOutput<Schema>] extends [StandardSchemaV1.InferInput<Schema>]
  ? unknown
  : { readonly "a workflow's schema must accept its own output": StandardSchemaV1.InferOutput<Schema> };

/**
 * What `schema` makes of `value`: its output, or the error `refuse` makes of its issues, thrown.
 * Standard Schema lets `validate` answer now or with a promise; either is awaited.
 */
export async function validate<Output>(
  schema: StandardSchemaV1<unknown, Output>,
  value: unknown,
  refuse: (issues: readonly StandardSchemaV1.Issue[]) => Error,
): Promise<Output> {
  const result = await schema["~standard"].validate(value);
  if (result.issues) throw refuse(result.issues);
  return result.value;
}
