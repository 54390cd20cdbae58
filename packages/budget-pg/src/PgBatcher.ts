/**
 * Group commit for hot tenants: a per-process queue of retry-safe operations (reserve, commit,
 * release/expire, top-up) drained into ONE function call per batch
 * (`calybris_budget_batch`, migration "4_batch" of `PgSchema`), so that one transaction — one
 * lock of each tenant row and one WAL flush (`synchronous_commit` stays on) — serves many
 * requests.
 *
 * - The operations have exactly `PgOperations`' signatures and results: the same arguments
 *   check (`InvalidArgument` before anything is queued), the same outcomes in the state
 *   machine's order of refusals, operation ids remembered with their results (refusals
 *   included), a retry returning the original, another command under a known id an
 *   `IdempotencyConflict`.
 * - A batch applies its elements in queue order, in one transaction; each caller gets its own
 *   element's result, and only after the batch committed.
 * - The journal (`PgJournal`): each element appends to its tenant's chain exactly the entry its
 *   one-statement twin appends (same record, sequence, previous hash and hash): the command's
 *   record is encoded here (`PgJournal.recordHead`, an admit's audited decision included) with
 *   the caller's `JournalKey`, the result printed by the function; the tenant's head moves once
 *   per batch, with its balances.
 * - A batch that fails (a database error) writes nothing and fails every caller in it with a
 *   `LedgerStoreError`. A batch that lost a race for a new operation id to another process, or
 *   was chosen as a deadlock victim, rolled back whole and is run again (at most 8 times), like
 *   a single statement.
 * - The function's nine array arguments are sent in PostgreSQL's binary array format
 *   (`internal/pgArray`: the same arrays as `pg`'s text form, which escaped every record's bytes
 *   as hex on the client for the server to parse back).
 * - At most `inFlight` batches (1 or 2) run at once, each on its own connection; the queue holds
 *   at most `capacity` waiting operations (a caller beyond that waits for room).
 * - Closing the scope stops the batcher: callers whose batch had not finished, those still
 *   queued and those waiting for room get a `LedgerStoreError` (whether it committed is unknown
 *   to them, as for a lost connection), and later calls fail with one.
 */
import * as Arguments from "@calybris/budget/Arguments"
import type * as Command from "@calybris/budget/Command"
import { type IdempotencyConflict, LedgerStoreError } from "@calybris/budget/LedgerError"
import * as LedgerState from "@calybris/budget/LedgerState"
import * as Hash from "@calybris/core/Hash"
import type * as Json from "@calybris/core/Json"
import * as SqlClient from "@effect/sql/SqlClient"
import { SqlError } from "@effect/sql/SqlError"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Scope from "effect/Scope"
import * as batchRows from "./internal/batchRows.js"
import * as pgArray from "./internal/pgArray.js"
import * as PgJournal from "./PgJournal.js"
import * as PgOperations from "./PgOperations.js"

/** The retry-safe operations, with `PgOperations`' signatures (what the layer takes). */
export interface Operations {
  readonly reserve: typeof PgOperations.reserve
  readonly commit: typeof PgOperations.commit
  readonly release: typeof PgOperations.release
  readonly topUp: typeof PgOperations.topUp
}

/** The one-statement operations of `PgOperations`, as an `Operations` record. */
export const direct: Operations = {
  reserve: PgOperations.reserve,
  commit: PgOperations.commit,
  release: PgOperations.release,
  topUp: PgOperations.topUp
}

export interface Options {
  /** The most operations in one batch (default 256). */
  readonly maxBatch?: number
  /** The most batches running at once: 1 or 2 (default 2). */
  readonly inFlight?: 1 | 2
  /** The most operations waiting in the queue (default 4,096); a caller beyond it waits for room. */
  readonly capacity?: number
}

type Kind = "topUp" | "reserve" | "commit" | "release" | "expire"

/** One queued operation: the function's arguments for it, and how its caller is answered. */
interface Element {
  readonly kind: Kind
  readonly tenant: string | null
  readonly amount: bigint | null
  readonly hold: bigint | null
  readonly expiry: bigint | null
  readonly op: string | null
  readonly fingerprint: string
  /** the command's journal record up to its result (`PgJournal.recordHead`) */
  readonly record: Uint8Array
  /** the caller's journal key (null: unkeyed) */
  readonly key: Uint8Array | null
  /** the caller's operation (named by the errors it gets) */
  readonly operation: string
  /** answer the caller (once: later answers are ignored) */
  readonly answer: (exit: Exit.Exit<PgOperations.Row, LedgerStoreError>) => void
}

const BATCH = `SELECT o_index, o_tag AS tag, o_a::text AS a, o_b::text AS b, o_c::text AS c
FROM calybris_budget_batch($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::text[], $7::text[],
  $8::bytea[], $9::bytea[])`

const utf8 = new TextEncoder()
/** A string's UTF-8 bytes in hex (decoded by the function: any well-formed id, U+0000 included). */
const hex = (s: string): string => Hash.toHex(utf8.encode(s))

const positive = (name: string, value: number | undefined, fallback: number): number => {
  const n = value ?? fallback
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`PgBatcher: ${name} must be a positive integer: ${n}`)
  return n
}

const CLOSED = "the batcher was closed before the batch's outcome was known"
const closed = (operation: string) => new LedgerStoreError({ operation, cause: CLOSED })

/**
 * A batcher on the `SqlClient`: its operations, until the scope closes. Options out of range
 * (a `maxBatch` or `capacity` that is not a positive integer) are a defect of the caller.
 *
 * The queue is a plain array of elements, each answered through its caller's `Effect.async`
 * callback (an `effect/Queue` with a `Deferred` per call cost ~15 µs of CPU per operation, a
 * tenth of the client's whole cost per operation; this costs ~2). Every access to the arrays
 * is synchronous code of this one thread, so none interleaves with another.
 */
export const make = (
  options: Options = {}
): Effect.Effect<Operations, never, SqlClient.SqlClient | Scope.Scope> =>
  Effect.gen(function*() {
    const maxBatch = positive("maxBatch", options.maxBatch, 256)
    const capacity = positive("capacity", options.capacity, 4_096)
    const inFlight = options.inFlight ?? 2
    const sql = yield* SqlClient.SqlClient

    /** the queued elements, in order (at most `capacity`) */
    let queue: Array<Element> = []
    /** callers waiting for room in the queue, in order (each enqueues its element when called) */
    const waiting: Array<() => void> = []
    /** idle drainers, waiting for an element */
    const idle: Array<() => void> = []
    let shut = false
    /** the batches taken and not yet run to their end (answered, at the latest, by the finalizer) */
    const taken = new Set<ReadonlyArray<Element>>()

    /** Queue an element (there is room), waking an idle drainer. */
    const enqueue = (e: Element): void => {
      queue.push(e)
      idle.shift()?.()
    }

    /** The next batch: up to `maxBatch` elements from the queue's head; waiting callers take the room freed. */
    const takeBatch = (): ReadonlyArray<Element> => {
      let batch: Array<Element>
      if (queue.length <= maxBatch) {
        batch = queue
        queue = []
      } else {
        batch = queue.slice(0, maxBatch)
        queue = queue.slice(maxBatch)
      }
      while (waiting.length > 0 && queue.length < capacity) (waiting.shift() as () => void)()
      return batch
    }

    /** Wait for an element in the queue (a drainer). */
    const work: Effect.Effect<void> = Effect.async<void>((resume) => {
      if (queue.length > 0) return resume(Effect.void)
      const wake = () => resume(Effect.void)
      idle.push(wake)
      return Effect.sync(() => {
        const i = idle.indexOf(wake)
        if (i >= 0) idle.splice(i, 1)
      })
    })

    const answerAll = (batch: ReadonlyArray<Element>, cause: unknown): void => {
      for (const e of batch) e.answer(Exit.fail(new LedgerStoreError({ operation: e.operation, cause })))
    }

    /** Run one batch and hand each caller its row; whatever happens, no caller is left waiting. */
    const run = (batch: ReadonlyArray<Element>): Effect.Effect<void> =>
      // (built inside the effect: an encoding that throws is a defect of this batch, answered below)
      Effect.suspend(() =>
        sql.unsafe(BATCH, [
          pgArray.textArray(batch.map((e) => e.kind)),
          pgArray.textArray(batch.map((e) => e.tenant)),
          pgArray.int8Array(batch.map((e) => e.amount)),
          pgArray.int8Array(batch.map((e) => e.hold)),
          pgArray.int8Array(batch.map((e) => e.expiry)),
          pgArray.textArray(batch.map((e) => e.op)),
          pgArray.textArray(batch.map((e) => e.fingerprint)),
          pgArray.byteaArray(batch.map((e) => e.record)),
          pgArray.byteaArray(batch.map((e) => e.key))
        ])
      ).pipe(
        Effect.retry({
          times: 8,
          while: (e) => e instanceof SqlError && (PgOperations.lostIdRace(e) || PgOperations.rolledBack(e))
        }),
        // (untrusted: decoded, as `Schema` would decode it, by a hand-written decoder)
        Effect.flatMap(batchRows.decode),
        Effect.filterOrFail(
          (rows) => rows.length === batch.length && rows.every((row, i) => row.o_index === i + 1),
          (rows) => new Error(`calybris_budget_batch returned ${rows.length} rows for ${batch.length} operations`)
        ),
        // any failure, a defect included (a drainer never dies of one: the next batch is served)
        Effect.matchCause({
          onFailure: (cause) => answerAll(batch, Cause.squash(cause)),
          onSuccess: (rows) => {
            for (let i = 0; i < batch.length; i++) {
              const { o_index: _, ...row } = rows[i] as (typeof rows)[number] // the filter checked the count
              ;(batch[i] as Element).answer(Exit.succeed(row))
            }
          }
        }),
        // interrupted (the scope closed) before every caller was answered: the rest get an error
        Effect.onInterrupt(() => Effect.sync(() => answerAll(batch, CLOSED))),
        Effect.withSpan("PgBatcher.batch", { attributes: { size: batch.length } })
      )

    // registered before the drainers are forked, so it runs after they were interrupted: the
    // operations still queued, and the callers waiting for room, fail; later calls fail too
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        shut = true
        const left = queue
        queue = []
        answerAll(left, CLOSED)
        // (a drainer interrupted between taking a batch and running it answered nobody in it)
        for (const batch of taken) answerAll(batch, CLOSED)
        while (waiting.length > 0) (waiting.shift() as () => void)()
      })
    )
    const drain = Effect.suspend(() => {
      if (queue.length === 0) return work
      const batch = takeBatch()
      taken.add(batch)
      return Effect.ensuring(run(batch), Effect.sync(() => taken.delete(batch)))
    }).pipe(Effect.forever)
    for (let i = 0; i < inFlight; i++) yield* Effect.forkScoped(drain)

    /**
     * Queue an element and wait for its batch's answer: at once when the queue has room,
     * otherwise after the callers that waited before it (an interrupted caller leaves the line;
     * one whose element was queued leaves it to its batch, which answers nobody).
     */
    const submitElement = (element: Omit<Element, "answer">): Effect.Effect<PgOperations.Row, LedgerStoreError> =>
      Effect.async<PgOperations.Row, LedgerStoreError>((resume) => {
        let answered = false
        const e: Element = {
          ...element,
          answer: (exit) => {
            if (answered) return
            answered = true
            resume(exit)
          }
        }
        if (shut) return e.answer(Exit.fail(closed(e.operation)))
        if (queue.length < capacity && waiting.length === 0) return enqueue(e)
        const enter = () => shut ? e.answer(Exit.fail(closed(e.operation))) : enqueue(e)
        waiting.push(enter)
        return Effect.sync(() => {
          const i = waiting.indexOf(enter)
          if (i >= 0) waiting.splice(i, 1)
        })
      })

    /**
     * Check the arguments, queue the element (with its journal record and the caller's journal
     * key, as the statement would take them), wait for its batch.
     */
    const submit = <A>(
      operation: string,
      c: Command.Command,
      element: Pick<Element, "kind" | "tenant" | "amount" | "hold" | "expiry">,
      result: (row: PgOperations.Row, c: Command.Command) => A,
      audited?: Json.Json
    ): Effect.Effect<A, PgOperations.OperationError> =>
      Effect.suspend((): Effect.Effect<A, PgOperations.OperationError> => {
        const invalid = Arguments.validateCommand(c)
        if (invalid !== undefined) return Effect.fail(invalid)
        if (shut) return Effect.fail(closed(operation))
        return Effect.flatMap(PgJournal.JournalKey, ({ key }) => {
          const id = LedgerState.operationId(c)
          return Effect.map(
            submitElement({
              ...element,
              op: id === undefined ? null : hex(id),
              fingerprint: LedgerState.fingerprint(c),
              // (after the validation: the record encodes a valid command)
              record: PgJournal.recordHead(c, true, audited),
              key: key ?? null,
              operation
            }),
            (row) => result(row, c)
          )
        })
      })

    const reserve = (
      c: Command.CommandOf<"Reserve" | "Admit">,
      audited?: Json.Json
    ): Effect.Effect<Command.ReserveResult | IdempotencyConflict, PgOperations.OperationError> =>
      submit(
        "reserve",
        c,
        {
          kind: "reserve",
          tenant: hex(c.tenant),
          amount: c.amount,
          hold: null,
          expiry: c.expires_at_ms ?? null
        },
        PgOperations.reserveResult,
        audited
      )

    const commit = (
      c: Command.CommandOf<"Commit">
    ): Effect.Effect<Command.SettlementResult | IdempotencyConflict, PgOperations.OperationError> =>
      submit("commit", c, {
        kind: "commit",
        tenant: null,
        amount: c.actual,
        hold: PgOperations.held(c.reservation),
        expiry: null
      }, PgOperations.settlementResult)

    const release = (
      c: Command.CommandOf<"Release" | "Expire">
    ): Effect.Effect<Command.SettlementResult | IdempotencyConflict, PgOperations.OperationError> =>
      submit(c._tag === "Expire" ? "expire" : "release", c, {
        kind: c._tag === "Expire" ? "expire" : "release",
        tenant: null,
        amount: null,
        hold: PgOperations.held(c.reservation),
        expiry: null
      }, PgOperations.settlementResult)

    const topUp = (
      c: Command.CommandOf<"TopUp">
    ): Effect.Effect<Command.TopUpResult | IdempotencyConflict, PgOperations.OperationError> =>
      submit("topUp", c, {
        kind: "topUp",
        tenant: hex(c.tenant),
        amount: c.amount,
        hold: null,
        expiry: null
      }, PgOperations.topUpResult)

    return { reserve, commit, release, topUp }
  })
