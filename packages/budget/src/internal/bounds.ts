/**
 * Upper bounds of the UTF-8 bytes of checked Json, by the object that carries it: an audited
 * record copied and checked (`Arguments.audited`), or the builder `Ledger.admit` hands a layer
 * (its metadata's bound, measured when checked). A journaled layer adds the bounded rest of a
 * record (`Journal.lineProblem`). Internal: a bound noted by a caller would let a record skip its
 * measure (a review of the first version, which exported it).
 */
const bounds = new WeakMap<object, number>()

/** Note that what `carrier` prints (or builds) takes at most `bytes` UTF-8 bytes of unbounded Json. */
export const noteBound = (carrier: object, bytes: number): void => {
  bounds.set(carrier, bytes)
}

/** The bound noted for an audited record or its builder, or undefined when none is known. */
export const boundOf = (audit: unknown): number | undefined =>
  (typeof audit === "object" && audit !== null) || typeof audit === "function" ? bounds.get(audit) : undefined
