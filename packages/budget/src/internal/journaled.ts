/**
 * The journaled ledger: every state-changing command is appended to a WAL and acknowledged
 * only after the WAL acknowledges it under its durability; recovery replays the journal
 * through the same state machine.
 *
 * Group commit: callers enqueue commands; one writer fiber takes everything pending, applies
 * it to the state in order, appends the changed commands as ONE WAL entry (one write, one
 * fsync), then completes every caller. Reads wait for the writer, so no fiber ever observes a
 * state that is not yet durable. If the WAL fails, the ledger fails closed: the commands in
 * flight fail, and so does everything after (restart to recover from the journal).
 */
import * as Json from "@calybris/core/Json"
import { type Entry, lineBytes } from "@calybris/wal/Entry"
import * as Reader from "@calybris/wal/Reader"
import * as Wal from "@calybris/wal/Wal"
import type { WalOptions } from "@calybris/wal/Wal"
import { WalRecordTooLong } from "@calybris/wal/WalError"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Stream from "effect/Stream"
import { auditedRecord, checkCount, checkSize, nowMillis, ownCommand, validateRequest } from "../Arguments.js"
import * as Journal from "../Journal.js"
import type { Audit, Ledger } from "../Ledger.js"
import {
  type InvalidArgument,
  type LedgerJournalInconsistent,
  LedgerRecoveryError,
  LedgerStoreError
} from "../LedgerError.js"
import * as L from "../LedgerState.js"
import { Replay, type Replayed } from "./consistency.js"
import { applyGroup, type Pending } from "./engine.js"
import * as Queries from "./queries.js"

export interface JournalOptions {
  /** append a checkpoint after this many journaled commands (default 10,000; 0 = never) */
  readonly checkpointEvery?: number | undefined
  /** most commands in one group commit (default 1,024) */
  readonly maxBatch?: number | undefined
  /**
   * most commands waiting for the writer (default 65,536): beyond it a submitter waits for room
   * (backpressure) — nothing is dropped or refused
   */
  readonly maxPending?: number | undefined
  /**
   * how many operation ids are remembered (a retry is recognised while fewer than this many
   * later operations with ids were answered, applied or refused). Default: the journal's own
   * window (that of its last checkpoint), `DEFAULT_OPERATION_WINDOW` (100,000) for a new
   * journal. Another value is
   * recorded first, in a checkpoint, so that recovery replays every command under the window it
   * was applied under.
   */
  readonly operationWindow?: number | undefined
  /**
   * replay from genesis and compare every checkpoint with the replayed state, instead of
   * starting from the last checkpoint (default false: see docs on checkpoint trust)
   */
  readonly verifyCheckpoints?: boolean | undefined
}

interface Job {
  /** null: only release expired holds */
  readonly command: L.Command | null
  readonly audited?: Json.Json | undefined
  /** answers the submitter (its `Effect.async` callback) */
  readonly resume: (answer: Effect.Effect<L.Result, LedgerStoreError>) => void
}

/** Options of a journaled ledger that owns its log: the journal's and the log's (see `Wal.WalOptions`). */
export interface JournalMemoryOptions
  extends JournalOptions, Pick<WalOptions, "key" | "allowEmptyKey" | "hash" | "maxLineBytes">
{}

/** Options of a journaled ledger that owns its log file (`durability`: see `Wal.Durability`). */
export interface JournalFileOptions extends JournalMemoryOptions, Pick<WalOptions, "durability"> {}

/** One verified journal entry into the replay (`consistency.ts`); the first problem, if any. */
const replayEntry = (
  replay: Replay,
  entry: Pick<Entry, "sequence" | "data">
): Either.Either<void, LedgerRecoveryError | LedgerJournalInconsistent> => {
  const decoded = Journal.decodeReplayable(entry.data)
  if (Either.isLeft(decoded)) {
    return Either.left(
      new LedgerRecoveryError({ reason: `journal entry ${entry.sequence} is not a ledger record`, cause: decoded.left })
    )
  }
  const problem = replay.entry(entry.sequence, decoded.right)
  return problem === undefined ? Either.void : Either.left(problem)
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })

/**
 * One verified journal entry into the replay, as the sequence and canonical bytes of its data
 * (a line the log's fast path accepted: `Wal.OnEntry`): its plain commands read straight from
 * the text (`Journal.fastReplayable`), anything else (a checkpoint, an admit, …) parsed and
 * decoded as `replayEntry` does, with the same errors.
 */
const replayData = (
  replay: Replay,
  sequence: bigint,
  data: Uint8Array
): Either.Either<void, LedgerRecoveryError | LedgerJournalInconsistent> => {
  // checked now (a command that does not decode fails here, in the journal's order); built
  // only if replayed
  const count = Journal.fastCount(data)
  if (count === undefined) {
    const json = Json.parse(utf8.decode(data))
    if (Either.isLeft(json)) {
      return Either.left(
        new LedgerRecoveryError({ reason: `journal entry ${sequence} is not a ledger record`, cause: json.left })
      )
    }
    return replayEntry(replay, { sequence, data: json.right })
  }
  // (the bytes are the reader's: kept as a copy)
  const kept = data.slice()
  const problem = replay.commandsLater(sequence, count, () => {
    const fast = Journal.fastReplayable(kept)
    // (`fastCount` accepted the text: `fastReplayable` reads it the same way)
    if (fast === undefined || fast._tag !== "Commands") {
      throw new Error(`journal entry ${sequence}: decoded twice apart`)
    }
    return fast.commands
  })
  return problem === undefined ? Either.void : Either.left(problem)
}

/**
 * Rebuild the state from journal entries (verified by the caller): every checkpoint and every
 * replayed command checked (`consistency.ts`), last checkpoint (or genesis, with
 * `verifyCheckpoints`), replay, conservation. The entries' own failures pass through.
 */
export const recoverEntries = <E, R>(
  entries: Stream.Stream<Entry, E, R>,
  options: Pick<JournalOptions, "verifyCheckpoints"> = {}
): Effect.Effect<Replayed, E | LedgerRecoveryError | LedgerJournalInconsistent, R> =>
  Effect.suspend(() => {
    const replay = new Replay(options.verifyCheckpoints === true)
    return entries.pipe(
      Stream.runForEach((entry) => replayEntry(replay, entry)),
      Effect.zipRight(Effect.suspend(() => replay.finish()))
    )
  })

/** Rebuild the state from the journal in the environment's WAL (its chain verified as it is read). */
export const recover = (options: JournalOptions = {}) =>
  recoverEntries(
    Stream.mapError(
      Wal.readVerified,
      (cause) => new LedgerRecoveryError({ reason: "the journal does not verify", cause })
    ),
    options
  ).pipe(Effect.withSpan("Ledger.recover")) // a cold path: once per open

/** A group's append that failed, after `written` of its records were in the journal (a split group's lines before the failed one). */
interface Split {
  readonly error: LedgerStoreError
  readonly written: number
}

/** How many commands may wait for the journal writer by default. */
export const DEFAULT_MAX_PENDING = 65_536

/**
 * The size options, checked before anything is opened (`InvalidArgument` naming the option and
 * the value): a `maxBatch` of 0, NaN or below took empty batches forever — every command hung,
 * the writer spinning (a helper's review of the API) — and a `checkpointEvery` out of range
 * meant "never" without a word.
 */
const checkOptions = (options: JournalOptions) =>
  Effect.gen(function*() {
    yield* checkSize("maxPending", options.maxPending)
    yield* checkSize("operationWindow", options.operationWindow)
    yield* checkSize("maxBatch", options.maxBatch)
    yield* checkCount("checkpointEvery", options.checkpointEvery)
  })

/** The ledger over the WAL of the environment (recovered from it with a second, verified read). */
export const make = (options: JournalOptions = {}) =>
  Effect.gen(function*() {
    yield* checkOptions(options)
    const wal = yield* Wal.Wal
    return yield* start(wal, yield* recover(options), options)
  })

/** The options of the log a ledger owns. */
const logOptions = (options: JournalFileOptions): WalOptions => ({
  key: options.key,
  allowEmptyKey: options.allowEmptyKey,
  hash: options.hash,
  maxLineBytes: options.maxLineBytes,
  durability: options.durability
})

/**
 * Open a log that belongs to the ledger (`open` hands each verified entry to the function it is
 * given, in its one verifying pass: `Wal.OnEntry`) and recover from that same pass.
 */
const owning = <E, R>(
  options: JournalOptions,
  open: (
    onEntry: Wal.OnEntry<LedgerRecoveryError | LedgerJournalInconsistent>
  ) => Effect.Effect<Wal.Wal["Type"], E, R>
) =>
  Effect.gen(function*() {
    yield* checkOptions(options)
    const replay = new Replay(options.verifyCheckpoints === true)
    // the entries are read, verified and decoded in the log's open (span "Wal.open"); the
    // replay after the last checkpoint and conservation here. No span around the open: the
    // log's writer fiber, forked there, would run under it (see `Wal.layerFile`)
    const wal = yield* open({
      entry: (entry) => replayEntry(replay, entry),
      data: (sequence, data) => replayData(replay, sequence, data)
    })
    const recovered = yield* Effect.suspend(() => replay.finish()).pipe(Effect.withSpan("Ledger.recover"))
    return yield* start(wal, recovered, options)
  })

/** The ledger over a log file of its own, opened (and locked) here: in no environment. */
export const makeFile = (path: string, options: JournalFileOptions = {}) =>
  owning(options, (onEntry) => Wal.makeFile(path, logOptions(options), onEntry))

/** The ledger over an in-memory log of its own (empty, or from bytes: verified and recovered in one pass). */
export const makeMemory = (options: JournalMemoryOptions = {}, initial?: Uint8Array) =>
  owning(options, (onEntry) => Wal.makeMemory(logOptions(options), initial, onEntry))

/** Start the ledger over `wal` from its recovered state: the group-commit writer. */
const start = (wal: Wal.Wal["Type"], recovered: Replayed, options: JournalOptions) =>
  Effect.gen(function*() {
    const state = recovered.state
    let sinceCheckpoint = recovered.sinceCheckpoint
    const checkpointEvery = options.checkpointEvery ?? 10_000
    const maxBatch = options.maxBatch ?? 1_024
    const maxPending = options.maxPending ?? DEFAULT_MAX_PENDING
    const lock = yield* Effect.makeSemaphore(1)
    // The queue: plain arrays, each submitter answered through its own `Effect.async` callback
    // (an effect/Queue and a Deferred per command cost more than the rest of a submission).
    // `pending` holds at most maxPending jobs, in submission order; a submitter beyond it waits
    // in `room` (in order too: it is moved to `pending` as the writer takes batches, before
    // any later submitter), and one interrupted there is removed: its command never applies.
    let pending: Array<Job> = []
    const room: Array<Job> = []
    // set while the writer waits for a job; a submission calls it
    let wakeup: (() => void) | undefined = undefined
    let failure: LedgerStoreError | undefined

    const fail = (jobs: ReadonlyArray<Job>, error: LedgerStoreError) =>
      Effect.sync(() => {
        const answer = Effect.fail(error)
        for (const job of jobs) job.resume(answer)
      })

    /** A record the log refused before writing it because its line would be too long. */
    const isTooLong = (error: LedgerStoreError): boolean => error.cause instanceof WalRecordTooLong

    const appendJson = (json: Either.Either<Json.Json, unknown>, operation: string) =>
      Either.match(json, {
        onLeft: (cause) => Effect.fail(new LedgerStoreError({ operation, cause })),
        onRight: (data) => wal.append(data).pipe(Effect.mapError((cause) => new LedgerStoreError({ operation, cause })))
      })

    /**
     * A group's records on as many lines as the log's `limit` needs (each line's records in order,
     * the lines in order): records join a line while the sum of their lengths each as an entry of
     * its own, and the longest envelope, stays within the limit. A record that does not fit a line
     * alone fails the group with `tooLong` before any line is written (nothing of the group is in
     * the journal, as before the split). Printed once more each, but only here: a group whose
     * line was too long.
     */
    const appendSplit = (
      journal: ReadonlyArray<Pending>,
      tooLong: LedgerStoreError,
      limit: number
    ): Effect.Effect<void, Split> =>
      Effect.gen(function*() {
        const sizes = journal.map(Journal.recordBytes)
        // the envelope of the group's last line at most: the head's sequence is the log's own
        // (the lock held, nothing else appends), the hashes at most 64 characters
        const head = yield* wal.head
        const envelope = lineBytes(head.sequence + BigInt(journal.length), "f".repeat(64), "f".repeat(64), 0)
        if (sizes.some((size) => envelope + size > limit)) return yield* Effect.fail({ error: tooLong, written: 0 })
        const lines: Array<Array<Pending>> = []
        let line: Array<Pending> = []
        let bytes = envelope
        for (const [i, record] of journal.entries()) {
          const size = sizes[i] as number
          if (line.length > 0 && bytes + size > limit) {
            lines.push(line)
            line = []
            bytes = envelope
          }
          line.push(record)
          bytes += size
        }
        lines.push(line)
        let written = 0
        for (const records of lines) {
          yield* Effect.mapError(
            appendJson(Journal.encodeCommands(records), "journal append"),
            (error): Split => ({ error, written })
          )
          written += records.length
        }
      })

    const window = options.operationWindow
    if (window !== undefined && window !== state.operations.limit) {
      // another window from here on: a checkpoint records it (and what it forgets) before any command
      state.operations.limit = window
      yield* appendJson(Journal.encodeCheckpoint(state), "checkpoint append")
      sinceCheckpoint = 0
    }

    const processBatch = (jobs: ReadonlyArray<Job>) =>
      lock.withPermits(1)(Effect.gen(function*() {
        if (failure !== undefined) return yield* fail(jobs, failure)
        // a Clock that gives no time: this batch is refused, nothing applied (the writer goes on)
        const clock = yield* Effect.either(nowMillis)
        if (Either.isLeft(clock)) return yield* fail(jobs, clock.left)
        const now = clock.right
        const commands: Array<Pending> = []
        for (const job of jobs) if (job.command !== null) commands.push({ command: job.command, audited: job.audited })
        const { ends, expiries, journal, results } = applyGroup(state, now, commands)
        if (journal.length > 0) {
          let written: Either.Either<unknown, Split> = yield* Effect.either(
            Effect.mapError(
              appendJson(Journal.encodeCommands(journal), "journal append"),
              (error): Split => ({ error, written: 0 })
            )
          )
          // refused before anything was written (the group's line would pass the log's
          // maxLineBytes), with the state changed already: the same records, in the same order,
          // on several lines (replay applies them alike); one record too long alone fails closed
          if (Either.isLeft(written) && journal.length > 1 && isTooLong(written.left.error)) {
            const tooLong = written.left.error
            written = yield* Effect.either(appendSplit(journal, tooLong, (tooLong.cause as WalRecordTooLong).limit))
          }
          if (Either.isLeft(written)) {
            const { error, written: durable } = written.left
            failure = error
            // a split group's lines before the failed one are in the journal: the commands whose
            // records (and every record before them) are there are answered with their results —
            // recovery applies them, so a LedgerStoreError would be a lie a retry acts on — the
            // others fail; the ledger fails closed from here on either way
            let next = 0
            const answer = Effect.fail(error)
            for (const job of jobs) {
              if (job.command === null) {
                job.resume(durable >= expiries ? Effect.void : answer)
                continue
              }
              const i = next++
              job.resume((ends[i] as number) <= durable ? Effect.succeed(results[i]) : answer)
            }
            return
          }
          sinceCheckpoint += journal.length
        }
        let next = 0
        for (const job of jobs) job.resume(Effect.succeed(job.command === null ? undefined : results[next++]))
        if (checkpointEvery > 0 && sinceCheckpoint >= checkpointEvery) {
          const written = yield* Effect.either(appendJson(Journal.encodeCheckpoint(state), "checkpoint append"))
          if (Either.isRight(written)) sinceCheckpoint = 0
          else if (isTooLong(written.left)) {
            // refused before anything was written (its line would pass the log's maxLineBytes): the
            // journal is whole without it (recovery replays further back), so the ledger goes on
            // and tries again after another `checkpointEvery` commands
            sinceCheckpoint = 0
            yield* Effect.logWarning(`ledger checkpoint skipped: ${written.left.message}`)
          } else failure = written.left
        }
      }))

    /** Until a job is pending (the batch is taken when the writer runs, with the jobs of that tick). */
    const awaitWork: Effect.Effect<void> = Effect.suspend(() =>
      pending.length > 0 ? Effect.void : Effect.zipRight(
        Effect.async<void>((resume) => {
          wakeup = () => resume(Effect.void)
          return Effect.sync(() => {
            wakeup = undefined
          })
        }),
        awaitWork
      )
    )

    /** The next batch (up to maxBatch jobs, in order; at least one is pending); waiting submitters move up. */
    const takeBatch = (): ReadonlyArray<Job> => {
      let batch: Array<Job>
      if (pending.length <= maxBatch) {
        batch = pending
        pending = []
      } else {
        batch = pending.slice(0, maxBatch)
        pending = pending.slice(maxBatch)
      }
      while (room.length > 0 && pending.length < maxPending) pending.push(room.shift() as Job)
      return batch
    }

    // Closing the scope (finalizers run last added, first): no command is taken any more (each
    // answered `closed`, never left waiting: a server shutting down hung its requests, a hostile
    // review), the writer stops between batches — the batch it is writing is written and answered
    // first (the log still open: its scope closes after this one's, or it is the caller's) — and
    // then every command still queued or waiting for room is answered `closed`, none applied.
    let closed = false
    const closedError = new LedgerStoreError({
      operation: "submit",
      cause: new Error("the ledger's scope is closed: the command was not applied")
    })
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        const rest = [...pending, ...room]
        pending = []
        room.length = 0
        const answer = Effect.fail(closedError)
        for (const job of rest) job.resume(answer)
      })
    )
    // interruptible only while it waits: a batch taken is processed (never taken and dropped)
    // a defect while a batch is processed (a bug, a broken service) fails the ledger, closed: the
    // batch and every later command are answered with it, none left waiting (the writer died
    // silently and every command hung; a review) — the state may be ahead of the journal
    const processOrFail = (jobs: ReadonlyArray<Job>) =>
      Effect.catchAllDefect(processBatch(jobs), (defect) =>
        Effect.suspend(() => {
          failure ??= new LedgerStoreError({ operation: "journal writer", cause: defect })
          return fail(jobs, failure)
        }))
    yield* Effect.uninterruptibleMask((restore) =>
      Effect.zipRight(restore(awaitWork), Effect.suspend(() => processOrFail(takeBatch())))
    ).pipe(
      Effect.forever,
      Effect.forkScoped
    )
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        closed = true
      })
    )

    // the longest line the log takes (its own reader's limit: the journal may be handed a log)
    const lineLimit = wal.reader.maxLineBytes ?? Reader.DEFAULT_MAX_LINE_BYTES

    /** Queue a job and wait for its answer (for room first, beyond maxPending). */
    const enqueue = (command: L.Command | null, audited: Json.Json | undefined) =>
      Effect.async<L.Result, LedgerStoreError>((resume) => {
        if (closed) return resume(Effect.fail(closedError))
        const job: Job = { command, audited, resume }
        if (room.length === 0 && pending.length < maxPending) {
          pending.push(job)
          const wake = wakeup
          if (wake !== undefined) {
            wakeup = undefined
            wake()
          }
          return
        }
        room.push(job)
        // interrupted while waiting for room: the command never applies (once queued, it does)
        return Effect.sync(() => {
          const at = room.indexOf(job)
          if (at >= 0) room.splice(at, 1)
        })
      })

    /**
     * An admit under an operation id bound as replay binds it: to its audited decision
     * (`LedgerState.bindingOfAudited`), whatever `binding` the caller built it with — a binding
     * the journal does not carry would make a retry answer otherwise after a reopen, and the
     * checkpoints differ from the replay (a helper's hostile review).
     */
    const bound = (command: L.Command, audited: Json.Json | undefined): L.Command => {
      if (command._tag !== "Admit" || command.operation_id === undefined) return command
      const binding = L.bindingOfAudited(audited)
      if (binding === command.binding) return command
      const { binding: _given, ...rest } = command
      return binding === undefined ? rest : { ...rest, binding }
    }

    /** A job taken, unless the ledger failed or closed. */
    const accepting: Effect.Effect<void, LedgerStoreError> = Effect.suspend(() =>
      failure !== undefined ? Effect.fail(failure) : closed ? Effect.fail(closedError) : Effect.void
    )

    const submit = (command: L.Command, audit?: Audit) =>
      Effect.gen(function*() {
        yield* accepting
        const audited = typeof audit === "function" ? yield* audit() : audit
        const tooLong = Journal.lineProblem(command, audit, audited, lineLimit, Journal.refusalBytes(command))
        if (tooLong !== undefined) return yield* tooLong
        return yield* enqueue(bound(command, audited), audited)
      })

    /**
     * `submit` for `apply`: an admit's audited decision checked first (`Arguments.auditedRecord`:
     * given as a value or built by a caller's function, copied and checked whole — writable,
     * holding its decision's cost; built by `Ledger.admit`'s own builder, from checked metadata,
     * its cost checked: a check of every record would cost each admit a print).
     */
    const submitChecked = (command: L.Command, audit?: Audit) =>
      audit === undefined || command._tag !== "Admit"
        ? submit(command, audit)
        : Either.match(auditedRecord(audit, command.amount), {
          onLeft: (refused): Effect.Effect<L.Result, LedgerStoreError | InvalidArgument> => Effect.fail(refused),
          onRight: (record) => submit(command, record)
        })

    // reads wait for the writer (a state not yet durable is never seen) and fail closed after a
    // WAL failure; as of the Clock now without writing (the next command journals the expiries)
    const query: Queries.Run = (f, asOfNow = true) =>
      lock.withPermits(1)(
        Effect.suspend(() =>
          failure !== undefined
            ? Effect.fail(failure)
            : state.expiring === 0 || !asOfNow
            ? Effect.succeed(f(state))
            : Effect.map(nowMillis, (now) => f(L.asOf(state, now)))
        )
      )

    const service: Ledger["Type"] = {
      apply: (command, audited) =>
        // refused before it reaches the state (and the journal): see Arguments
        Effect.suspend((): Effect.Effect<L.Result, LedgerStoreError | InvalidArgument> => {
          // a copy checked, applied and journaled (see `Arguments.ownCommand`)
          const own = ownCommand(command)
          const invalid = validateRequest(own)
          return invalid === undefined ? submitChecked(own, audited) : Effect.fail(invalid)
        }) as Effect.Effect<
          L.ResultOf[typeof command["_tag"]],
          LedgerStoreError | InvalidArgument
        >,
      sweep: Effect.asVoid(Effect.zipRight(accepting, enqueue(null, undefined))),
      ...Queries.make(query)
    }
    return Queries.inspectable(service, query)
  })
