/**
 * Values of a kernel schema built from plain fields: the schema's own type-side validation
 * (`Schema.validateSync` of its `typeSchema`: every branded integer's range, every literal)
 * checks them and types the result, so fixtures and arbitraries need no cast. A drawn or
 * hand-written value outside the schema throws the schema's ParseError at once (a bug in the
 * test support, never a silently mistyped value).
 */
import * as Schema from "effect/Schema"

export const typed = <A, I>(schema: Schema.Schema<A, I>): (value: unknown) => A =>
  Schema.validateSync(Schema.typeSchema(schema))
