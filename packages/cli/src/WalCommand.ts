/**
 * `calybris wal …`: verify a log, show its entries, replay its audited decisions (or audit a
 * ledger journal's admits), and repair a torn final line.
 *
 * Reading commands never take the writer lock and never create or change the file; they
 * stream it in bounded memory and show progress on stderr when stderr is a terminal. They fail
 * closed: any broken chain, bad line, torn tail or failed audit is exit 1.
 */
import * as JournalAudit from "@calybris/budget/JournalAudit"
import * as Digest from "@calybris/core/Digest"
import * as Json from "@calybris/core/Json"
import type { Policy } from "@calybris/core/Policy"
import * as Audited from "@calybris/wal/Audited"
import * as Chain from "@calybris/wal/Chain"
import { type Entry, formatLine } from "@calybris/wal/Entry"
import * as Reader from "@calybris/wal/Reader"
import * as Wal from "@calybris/wal/Wal"
import * as WalNode from "@calybris/wal/WalNode"
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Chunk from "effect/Chunk"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Encoding from "effect/Encoding"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { type InputError, NothingToAudit, UsageError } from "./CliError.js"
import type * as Commands from "./Commands.js"
import { readPolicy } from "./Documents.js"
import { firstEntry, requireFile, STDIN, stdinOnce, streamFile } from "./Files.js"
import * as Format from "./Format.js"
import * as Key from "./Key.js"
import { emit, obj, setJson, streamLines } from "./Output.js"
import * as Progress from "./Progress.js"
import type { Stdio } from "./Stdio.js"

const CHUNK = 1024 * 1024

/** The log's bytes, streamed, with progress on a terminal. */
export const logBytes = (
  path: string,
  label: string
): Stream.Stream<Uint8Array, InputError, FileSystem.FileSystem | Stdio> =>
  Progress.track(streamFile(path, CHUNK), `${label} ${path}`)

/** Reader options (the chain to verify against) from the key flags. */
const readerFor = (flags: Key.KeyFlags) =>
  Effect.gen(function*() {
    const loaded = yield* Key.load(flags)
    const chain = yield* Chain.make({ key: loaded.key, allowEmptyKey: loaded.allowEmptyKey })
    const reader: Reader.ReaderOptions = { chain, maxLineBytes: loaded.maxLineBytes }
    return { reader, chain: loaded.chain, loaded }
  })

// ---------------------------------------------------------------------------------------------
// verify

/** `calybris wal verify`. */
export const verify = (flags: Commands.FlagsOf<typeof Commands.walOptions.verify>) =>
  Effect.gen(function*() {
    yield* setJson(flags.json)
    const { chain, loaded, reader } = yield* readerFor(flags)
    yield* requireFile(flags.file)
    const respelt = respeltLines()
    const v = yield* Reader.verify(logBytes(flags.file, "verifying"), { ...reader, onLine: respelt.onLine }).pipe(
      Key.hintOnFailure(loaded)
    )
    yield* emit(
      flags.json,
      () => [
        `ok: ${Format.count(v.count, "entry", "entries")} verified (${chain}), last hash ${v.lastHash}, ${
          Format.int(v.bytes)
        } bytes`,
        ...(v.missingNewline
          ? ["note: the last entry lacks its final newline (a writer adds it before appending)"]
          : []),
        // (a review: "0 entries verified (HMAC-SHA256)" read as if a MAC had been checked)
        ...(v.count === 0n ? ["note: the log has no entry: nothing was checked under the key"] : []),
        ...respelt.notes()
      ],
      () =>
        obj([
          ["ok", true],
          ["entries", v.count],
          ["last_hash", v.lastHash],
          ["bytes", v.bytes],
          ["chain", chain],
          ["missing_final_newline", v.missingNewline],
          ...respelt.fields()
        ])
    )
  })

/**
 * Lines that verify but are not their entry's canonical form: re-spelt after they were written (a
 * member added, white space), which the chain does not cover — as the reference's, they verify,
 * but an auditor is told (hostile reviews: `wal show --json` prints them rebuilt, and `wal replay`
 * said ok over a member injected without the key). A reader's `onLine`, then the note and the
 * `--json` fields of `verify` and `replay`.
 */
const respeltLines = () => {
  let count = 0
  let first: bigint | undefined = undefined
  let entries = 0n
  let lastHash: string | undefined = undefined
  const onLine: Reader.OnLine = (line, sequence, canonical) => {
    entries = sequence
    // only a canonical line's bytes are its verified entry: a re-spelt one verifies with any
    // bytes besides (a member added, escapes), a hash smuggled into them included (a review: a
    // cut journal's re-spelt last line named the uncut journal's last hash)
    lastHash = canonical ? entryHashOf(line) : undefined
    if (canonical) return
    count++
    first ??= sequence
  }
  return {
    onLine,
    /** the entries read (the last one's sequence) and the last one's hash, as the line spells it (undefined when it does not spell it plainly) */
    last: () => ({ entries, lastHash }),
    notes: (): Array<string> =>
      first === undefined ? [] : [
        `note: ${Format.count(count, "line")} (the first: entry ${first}) ${
          count === 1 ? "is" : "are"
        } not the entry's canonical form: re-spelt after writing (a member added, white space); the chain covers each entry's canonical data, so such a line verifies, but its bytes are not the ones written (a tree log, log checkpoint and log prove refuse it)`
      ],
    fields: () => [["non_canonical_lines", count], ["first_non_canonical_sequence", first ?? null]] as const
  }
}

const ENTRY_HASH = new TextEncoder().encode(`"entry_hash":"`)

/** A line's `entry_hash` as it spells it: 64 lowercase hex digits after its member name; else undefined. */
const entryHashOf = (line: Uint8Array): string | undefined => {
  const at = Buffer.from(line.buffer, line.byteOffset, line.length).indexOf(ENTRY_HASH)
  if (at < 0 || at + ENTRY_HASH.length + 65 > line.length) return undefined
  const start = at + ENTRY_HASH.length
  if (line[start + 64] !== 0x22) return undefined
  let hash = ""
  for (let i = start; i < start + 64; i++) {
    const c = line[i] as number
    if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66))) return undefined
    hash += String.fromCharCode(c)
  }
  return hash
}

// ---------------------------------------------------------------------------------------------
// show

/** Cut a chunk after each LF (views, no copies), so a reader emits every entry before a bad line. */
const perLine = (chunk: Uint8Array): Array<Uint8Array> => {
  const out: Array<Uint8Array> = []
  let start = 0
  for (let lf = chunk.indexOf(0x0a); lf >= 0; lf = chunk.indexOf(0x0a, start)) {
    out.push(chunk.subarray(start, lf + 1))
    start = lf + 1
  }
  if (start < chunk.length) out.push(chunk.subarray(start))
  return out
}

// (what a terminal would act on, from the log's hash or data, escaped: `Format.visible`)
const entryText = (e: Entry): string =>
  Format.visible(`#${e.sequence}  ${Format.short(e.entry_hash)}  ${Json.print(e.data)}`)
const entryLine = (e: Entry): string =>
  formatLine(e.sequence, e.previous_hash, e.entry_hash, e.dataText === "" ? Json.print(e.data) : e.dataText)
    .slice(0, -1)

/** `calybris wal show`. */
export const show = (flags: Commands.FlagsOf<typeof Commands.walOptions.show>) =>
  Effect.gen(function*() {
    yield* setJson(flags.json)
    const { loaded, reader } = yield* readerFor(flags)
    yield* requireFile(flags.file)
    const from = Option.getOrElse(flags.from, () => 0n)
    const to = Option.getOrUndefined(flags.to)
    if (to !== undefined && from > to) {
      return yield* new UsageError({ reason: `--from ${from} is after --to ${to}: no entry is in that range` })
    }
    // (entries start at 1: reading entry 1 to find the range empty would fail it on a broken entry 1)
    if (to === 0n) return yield* new UsageError({ reason: "--to 0: the first entry is 1, no entry is in that range" })
    if (flags.unverified) {
      yield* Console.error("UNVERIFIED: sequences and hashes are not checked; do not trust what follows")
    }
    const bytes = Stream.mapConcat(logBytes(flags.file, "reading"), perLine)
    let entries = Reader.entries(bytes, flags.unverified ? { chain: undefined } : reader)
    // a verified log's sequences increase: stop reading at the last one asked for — not one entry
    // past it, whose failure would fail a range that verifies (a helper's review)
    if (to !== undefined && !flags.unverified) entries = Stream.takeUntil(entries, (e) => e.sequence >= to)
    yield* entries.pipe(
      Stream.filter((e) => e.sequence >= from && (to === undefined || e.sequence <= to)),
      Stream.runForEachChunk((chunk) =>
        streamLines(Chunk.toReadonlyArray(chunk).map(flags.json ? entryLine : entryText))
      ),
      Key.hintOnFailure(loaded)
    )
  })

// ---------------------------------------------------------------------------------------------
// replay

type LogKind = "audited" | "journal" | "empty" | "unknown"

const kindOf = (data: Json.Json): LogKind => {
  if (!Json.isObject(data)) return "unknown"
  if (data.has("v") && (data.has("commands") || data.has("checkpoint"))) return "journal"
  if (data.has("audit") && data.has("input") && data.has("decision")) return "audited"
  return "unknown"
}

/** The kind of a log, from its first entry's data (read without verification: the replay verifies). */
const detect = (path: string) =>
  Effect.map(firstEntry(path), Option.match({ onNone: (): LogKind => "empty", onSome: kindOf }))

/** `calybris wal replay`. */
export const replay = (flags: Commands.FlagsOf<typeof Commands.walOptions.replay>) =>
  Effect.gen(function*() {
    yield* setJson(flags.json)
    if (flags.policy.length === 0) return yield* new UsageError({ reason: "give at least one --policy FILE" })
    // checked first, as every command checks a policy (exit 2): no decision was ever made under
    // a policy `Policy.make` refuses, so auditing a log against one is bad input, not a failed audit
    yield* stdinOnce(flags.policy.map((path, i) => [`--policy #${i + 1}`, path === STDIN] as const))
    const policies: Array<Policy> = []
    for (const path of flags.policy) policies.push(yield* readPolicy(path))
    const { chain, loaded, reader: plain } = yield* readerFor(flags)
    const respelt = respeltLines()
    const reader: Reader.ReaderOptions = { ...plain, onLine: respelt.onLine }
    yield* requireFile(flags.file)
    const detected = yield* detect(flags.file)
    // --journal forces a journal audit of a log with an entry; one without is nothing to audit
    const kind: LogKind = flags.journal && detected !== "empty" ? "journal" : detected
    const digests = policies.map((p) => Digest.policyDigest(p))
    // two files of one digest are one policy to the audit, but not to the kernel when their models
    // are in another order (the digest sorts them; a decision's model index does not): refused, not
    // one of them silently kept (a review of the audit path)
    const twice = digests.findIndex((d, i) => digests.indexOf(d) !== i)
    if (twice >= 0) {
      return yield* new UsageError({
        reason: `--policy #${digests.indexOf(digests[twice] as string) + 1} and --policy #${
          twice + 1
        } have the same digest ${
          digests[twice]
        }: give each policy once, as the file that decided (models in another order decide differently)`
      })
    }
    // citing a checkpoint: the tree is built from the bytes the replay reads (one pass)
    const citing = Option.getOrUndefined(flags.checkpoint)
    const logCommand = citing === undefined
      ? undefined
      : yield* Effect.promise(() => import("./LogCommand.js"))
    const tap = logCommand?.treeTap(reader)
    const bytes = tap === undefined ? logBytes(flags.file, "replaying") : tap.tap(logBytes(flags.file, "replaying"))
    let audited: ReadonlyArray<Audited.Verdict>
    switch (kind) {
      case "audited": {
        const [policy, ...others] = policies
        if (policy === undefined || others.length > 0) {
          return yield* new UsageError({ reason: "an audited decision log is replayed under exactly one --policy" })
        }
        audited = yield* Audited.replayBytes(bytes, reader, policy).pipe(Key.hintOnFailure(loaded))
        break
      }
      case "journal":
        audited = yield* JournalAudit.auditBytes(bytes, reader, policies).pipe(Key.hintOnFailure(loaded))
        break
      case "empty":
        return yield* new NothingToAudit({ file: flags.file })
      case "unknown":
        // the first entry was read unverified: a log whose chain breaks (an entry edited into a
        // shape neither kind has, say) fails as a broken chain (exit 1), never as bad usage —
        // the audit a tamperer would otherwise turn into an operator's mistake
        yield* Reader.verify(bytes, reader).pipe(Key.hintOnFailure(loaded))
        return yield* new UsageError({
          reason:
            `${flags.file} is neither an audited decision log nor a ledger journal (judging by its first entry); --journal forces a journal audit`
        })
    }
    // the checkpoint cited: the replayed log's root at its size must be its root (fail closed)
    const cited = citing === undefined || logCommand === undefined || tap === undefined
      ? undefined
      : yield* Effect.flatMap(tap.tree, (tapped) => logCommand.citeTree(tapped, flags.file, citing))
    const count = audited.length
    // (a journal without an admit is still audited: every command replayed from genesis, every
    // checkpoint checked; what no replay shows is a cut end, so the report names the last entry)
    const { entries, lastHash } = respelt.last()
    const what = kind === "journal"
      ? `${Format.count(count, "admitted decision")} in the ledger journal`
      : Format.count(count, "audited decision")
    yield* emit(
      flags.json,
      () => [
        `ok: ${what} replayed bit for bit; digests match; chain verified (${chain})`,
        // what the chain cannot show is a cut end: the auditor compares the last hash (a helper's review)
        `  ${Format.count(entries, "entry", "entries")}, last hash ${
          lastHash ?? "(its line is re-spelt: see calybris wal verify)"
        }: compare it with one kept elsewhere, or cite a checkpoint (--checkpoint), to know nothing was cut from the end`,
        ...digests.map((d) => `  policy ${d}`),
        ...(cited === undefined ? [] : [
          `  checkpoint ${Format.visible(JSON.stringify(cited.origin))} size ${cited.size} root ${
            Encoding.encodeBase64(cited.root)
          }: ${
            cited.size === cited.logSize
              ? "the log's root matches"
              : `the root of the log's first ${cited.size} entries matches; entries ${
                cited.size + 1n
              } to ${cited.logSize} are after it, in no signed head`
          } (signature: check with calybris log verify)`
        ]),
        ...respelt.notes()
      ],
      () =>
        obj([
          ["ok", true],
          ["kind", kind],
          ["decisions", count],
          ["entries", entries],
          ["last_hash", lastHash ?? null],
          ["chain", chain],
          ["policy_digests", digests],
          ...respelt.fields(),
          ...(cited === undefined ? [] : [
            [
              "checkpoint",
              // its root matched; its signature is not checked here (no key is needed to replay): say so
              obj([
                ["origin", cited.origin],
                ["size", cited.size],
                ["log_size", cited.logSize],
                ["root", Encoding.encodeHex(cited.root)],
                ["signature_verified", false]
              ])
            ] as const
          ])
        ])
    )
  })

// ---------------------------------------------------------------------------------------------
// repair

/** `calybris wal repair`. */
export const repair = (flags: Commands.FlagsOf<typeof Commands.walOptions.repair>) =>
  Effect.gen(function*() {
    yield* setJson(flags.json)
    const loaded = yield* Key.load(flags)
    yield* requireFile(flags.file)
    // WalNode: the saved tail's directory is fsynced before the log is truncated
    const report = yield* Wal.repair(flags.file, {
      key: loaded.key,
      allowEmptyKey: loaded.allowEmptyKey,
      maxLineBytes: loaded.maxLineBytes
    }).pipe(
      Effect.provide(WalNode.layer),
      Key.hintOnFailure(loaded)
    )
    if (report._tag === "RepairClean") {
      return yield* emit(
        flags.json,
        () => [`clean: ${Format.int(report.count)} entries verify, last hash ${report.lastHash}; nothing to repair`],
        () =>
          obj([["repaired", false], ["entries", report.count], ["last_hash", report.lastHash], ["bytes", report.bytes]])
      )
    }
    yield* emit(
      flags.json,
      () => [
        `repaired: removed a torn final line of ${
          Format.int(report.removedBytes)
        } bytes at offset ${report.truncatedAt} (saved to ${Format.visible(report.savedTo)})`,
        `the log now has ${Format.int(report.count)} verified entries, last hash ${report.lastHash}`
      ],
      () =>
        obj([
          ["repaired", true],
          ["truncated_at", report.truncatedAt],
          ["removed_bytes", report.removedBytes],
          ["saved_to", report.savedTo],
          ["entries", report.count],
          ["last_hash", report.lastHash]
        ])
    )
  })
