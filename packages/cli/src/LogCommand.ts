/**
 * `calybris log …`: a transparency log over a WAL file (issue 17; SPEC-level formats from
 * packages/tlog: RFC 6962 / RFC 9162 Merkle trees, C2SP checkpoints as C2SP signed notes).
 *
 * - The tree: leaf i (0-based) is the line bytes, without the newline, of the entry with WAL
 *   sequence i + 1 (WAL sequences start at 1). The CLI builds it the auditor's way: it reads and
 *   VERIFIES the whole WAL file (chain + key, `Reader.verify` with `onLine`) and hashes each line into a
 *   memory node store (`Merkle.MemoryTree`, a `Merkle.NodeSource`). A line that verifies but is not
 *   its entry's canonical form (re-spelt without the key: the chain hashes the canonical `data`)
 *   fails it (exit 1): the tree commits to bytes, so none is signed or proved.
 * - `verify` needs no log and no secret: a checkpoint's signature (`--vkey`, repeated for
 *   witnesses: every key given must have signed or cosigned), or a proof file against its signed
 *   checkpoint(s). It fails closed (exit 1). Signature lines of keys not given are listed as not
 *   checked.
 *   With `--entry FILE` / `--entry-line LINE` and an inclusion proof it is the auditor's whole
 *   check of one entry: SHA-256(0x00 ‖ line) must be the proof's leaf_hash (checked first, so a
 *   wrong line is named as such), the line's `sequence` must be index + 1, and that leaf hash —
 *   the entry's own, not the proof's — must lead to the root of the verified checkpoint.
 * - Proof files are JSON; every hash in them is lowercase hex (32 bytes); the checkpoints they
 *   carry are the signed notes as text (the note's root is base64, as C2SP defines it). Sizes and
 *   indices are exact JSON integers (u64).
 * - Signing keys (`checkpoint`): a note signer key `PRIVATE+KEY+name+hex8+base64(0x01‖seed)`
 *   from a file (`--skey-file`) or an environment variable (`--skey-env`), never argv; held in
 *   `Redacted`, never printed: errors name the source only. `keygen` writes a new one to a new
 *   file (mode 0600, never overwriting) and prints the verifier key only.
 *
 * `@calybris/tlog` is a dependency of the CLI (the published package imports it under plain npm,
 * test/install), and the shipped `calybris` bin is a bundle that carries it.
 */
import * as Json from "@calybris/core/Json"
import * as Checkpoint from "@calybris/tlog/Checkpoint"
import * as Merkle from "@calybris/tlog/Merkle"
import * as Note from "@calybris/tlog/Note"
import * as Chain from "@calybris/wal/Chain"
import * as Entry from "@calybris/wal/Entry"
import * as Reader from "@calybris/wal/Reader"
import * as WalNode from "@calybris/wal/WalNode"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Encoding from "effect/Encoding"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { InputError, IoError, KeyError, UsageError } from "./CliError.js"
import type * as Commands from "./Commands.js"
import {
  platformReason,
  readBytes,
  readText,
  requireFile,
  requireOutPath,
  STDOUT,
  streamFile,
  writeNewSecret
} from "./Files.js"
import * as Format from "./Format.js"
import * as Key from "./Key.js"
import { emit, obj, printLines, setJson } from "./Output.js"

/** A proof or checkpoint that does not verify (fail closed: exit 1). `reason` names what failed. */
export class LogVerifyFailed extends Schema.TaggedError<LogVerifyFailed>()("LogVerifyFailed", {
  what: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `${this.what} does not verify: ${this.reason}`
  }
}

const encoder = new TextEncoder()
const hex = (bytes: Uint8Array): string => Encoding.encodeHex(bytes)

// ---------------------------------------------------------------------------------------------
// The tree, from the verified WAL

/** The tree of a WAL file, built while the file is read and verified (chain + key). */
export const treeOf = (file: string, flags: Key.KeyFlags) =>
  Effect.gen(function*() {
    const loaded = yield* Key.load(flags)
    const chain = yield* Chain.make({ key: loaded.key, allowEmptyKey: loaded.allowEmptyKey })
    yield* requireFile(file)
    const tree = new Merkle.MemoryTree()
    let notCanonical: bigint | undefined
    // each verified entry's line bytes, as the reader accepts them (the leaves)
    yield* Reader.verify(streamFile(file, 1024 * 1024), {
      chain,
      maxLineBytes: loaded.maxLineBytes,
      onLine: (line, sequence, canonical) => {
        if (!canonical && notCanonical === undefined) notCanonical = sequence
        tree.append(Merkle.hashLeaf(line))
      }
    }).pipe(Key.hintOnFailure(loaded))
    if (notCanonical !== undefined) return yield* edited(file, notCanonical)
    return tree
  })

/**
 * The chain hashes the canonical form of each entry's data, the tree the line's bytes: a line
 * re-spelt without the key still verifies, and is never a leaf of a tree signed, proved or cited here.
 */
const edited = (file: string, sequence: bigint) =>
  new LogVerifyFailed({
    what: `log ${file}`,
    reason: `entry ${sequence} is not in its canonical form: it verifies, but its line was re-spelt after it ` +
      `was written (whitespace, escapes, member order, unknown or repeated members): the log was edited`
  })

const merkle = <A>(what: string, result: Either.Either<A, Merkle.MerkleError>) =>
  Either.mapLeft(result, (e) => new LogVerifyFailed({ what, reason: e.message }))

// ---------------------------------------------------------------------------------------------
// Checkpoint files

/** The most bytes a checkpoint file holds (as the tree log's checkpointer reads one). */
const MAX_CHECKPOINT_BYTES = 1024 * 1024

/** A signed checkpoint note, read as text; its body parsed (signatures not checked here). */
const readCheckpoint = (path: string) =>
  Effect.gen(function*() {
    const note = yield* readText(path, MAX_CHECKPOINT_BYTES)
    const parsed = yield* Either.mapLeft(
      Note.parse(note),
      (e) => new InputError({ file: path, reason: `not a signed note: ${e.message}` })
    )
    const checkpoint = yield* Either.mapLeft(
      Checkpoint.parse(parsed.text),
      (e) => new InputError({ file: path, reason: e.message })
    )
    return { note, checkpoint }
  })

const verifiersOf = (vkeys: ReadonlyArray<string>) =>
  Effect.flatMap(
    Effect.forEach(vkeys, (vkey, i) =>
      Either.mapLeft(
        Checkpoint.parseVerifierKey(vkey),
        (e) => new UsageError({ reason: `--vkey #${i + 1}: ${e.message}` })
      )),
    (verifiers) => {
      // the same key twice is bad usage, not a checkpoint that fails to verify
      const labels = verifiers.map((v) => Note.keyLabel(v.name, v.keyId))
      const twice = labels.findIndex((label, i) => labels.indexOf(label) !== i)
      return twice < 0 ? Effect.succeed(verifiers) : Effect.fail(
        new UsageError({
          reason: `--vkey #${twice + 1} is the key of --vkey #${labels.indexOf(labels[twice] as string) + 1} (${
            labels[twice]
          }): give each key once`
        })
      )
    }
  )

/**
 * What `log verify` trusts: the keys given (`--vkey`), each of which must vouch, and the log's
 * origin when given (`--origin`: a key that signs several logs — `log checkpoint --origin` — then
 * cannot pass another log's checkpoint or proof; a helper's review).
 */
interface Trust {
  readonly verifiers: ReadonlyArray<Note.Verifier>
  readonly origin: string | undefined
}

/**
 * A checkpoint verified with the keys given (and of the origin given, when one is): every key given must have signed it — a log key
 * (Ed25519) its signature, a witness key (cosignature/v1) its cosignature. (The library counts
 * any one log key; here a second Ed25519 key given — the only kind `log keygen` makes, so the
 * likely "witness" key — would have let a note signed by that key alone verify: a helper's
 * review. An auditor names the keys that must vouch, each of them.)
 */
const verifyNote = (what: string, note: string, trust: Trust) =>
  Either.flatMap(
    Either.mapLeft(
      Checkpoint.verifyCheckpoint(
        note,
        trust.verifiers,
        trust.origin === undefined ? { witnesses: "all" } : { witnesses: "all", origin: trust.origin }
      ),
      (e) => new LogVerifyFailed({ what, reason: e.message })
    ),
    (verified) => {
      const verifiers = trust.verifiers
      const unsigned = verifiers.findIndex((v) =>
        v.type === Note.TYPE_ED25519 && !verified.signers.includes(Note.keyLabel(v.name, v.keyId))
      )
      return unsigned < 0 ? Either.right(verified) : Either.left(
        new LogVerifyFailed({
          what,
          reason: `--vkey #${unsigned + 1} (${
            Note.keyLabel((verifiers[unsigned] as Note.Verifier).name, (verifiers[unsigned] as Note.Verifier).keyId)
          }) did not sign it: every key given must have signed (a log key) or cosigned (a witness key)`
        })
      )
    }
  )

/** The log's root at a checkpoint's size must be the checkpoint's root (else fail closed). */
const rootAt = (tree: Merkle.MemoryTree, checkpoint: Checkpoint.Checkpoint, path: string) =>
  Effect.gen(function*() {
    if (checkpoint.size > tree.size) {
      return yield* new LogVerifyFailed({
        what: `checkpoint ${path}`,
        reason: `its size ${checkpoint.size} is beyond the log's ${tree.size} entries`
      })
    }
    const root = yield* merkle(`checkpoint ${path}`, Merkle.root(tree, checkpoint.size))
    if (hex(root) !== hex(checkpoint.root)) {
      return yield* new LogVerifyFailed({
        what: `checkpoint ${path}`,
        reason: `the log's root at size ${checkpoint.size} is ${hex(root)}, the checkpoint's ${hex(checkpoint.root)}`
      })
    }
  })

/**
 * The tree of a log read by another pass (`wal replay --checkpoint`: the audited replay verifies
 * the chain): `tap` passes the byte stream through unchanged while a second `Reader.LineReader`
 * (the same line rules as every reader: LF split, CR dropped, blank lines skipped; nothing
 * verified here) hashes each entry's line into the tree, so the log is read once. `tree`, after
 * the stream was consumed and VERIFIED by its consumer, ends the reader and gives the tree (a
 * failure of this reader after a verified pass is a bug: a defect).
 */
export const treeTap = (reader: Reader.ReaderOptions) => {
  const tree = new Merkle.MemoryTree()
  // the first entry not in its canonical form (`citeTree` refuses the log, as `treeOf` does)
  let notCanonical: bigint | undefined
  const lines = new Reader.LineReader(
    {
      chain: undefined,
      maxLineBytes: reader.maxLineBytes,
      onLine: (line, sequence, canonical) => {
        if (!canonical && notCanonical === undefined) notCanonical = sequence
        tree.append(Merkle.hashLeaf(line))
      }
    },
    false
  )
  let failure: unknown
  return {
    tap: <E, R>(bytes: Stream.Stream<Uint8Array, E, R>): Stream.Stream<Uint8Array, E, R> =>
      Stream.map(bytes, (chunk) => {
        if (failure === undefined) {
          const pushed = lines.push(chunk)
          if (Either.isLeft(pushed)) failure = pushed.left
        }
        return chunk
      }),
    tree: Effect.suspend(() => {
      if (failure === undefined) {
        const ended = lines.end()
        if (Either.isLeft(ended)) failure = ended.left
      }
      return failure === undefined ? Effect.succeed({ tree, notCanonical }) : Effect.die(failure)
    })
  }
}

/**
 * A checkpoint a replay can cite: of at least one entry (an empty tree commits to nothing, and its
 * root is every log's root at size 0), its root the log's root at its size.
 */
const citable = (tree: Merkle.MemoryTree, checkpoint: Checkpoint.Checkpoint, path: string) =>
  checkpoint.size === 0n
    ? Effect.fail(
      new LogVerifyFailed({
        what: `checkpoint ${path}`,
        reason: "its size is 0: the empty tree commits to no entry, so it cites nothing (cite a checkpoint of the log)"
      })
    )
    : rootAt(tree, checkpoint, path)

/** `cite` for a tree already built (`treeTap`, for `file`): reads the checkpoint and checks its root. */
export const citeTree = (
  tapped: { readonly tree: Merkle.MemoryTree; readonly notCanonical: bigint | undefined },
  file: string,
  path: string
) =>
  Effect.gen(function*() {
    if (tapped.notCanonical !== undefined) return yield* edited(file, tapped.notCanonical)
    const cp = yield* readCheckpoint(path)
    yield* citable(tapped.tree, cp.checkpoint, path)
    return { ...cp.checkpoint, logSize: tapped.tree.size }
  })

// ---------------------------------------------------------------------------------------------
// prove, consistency

/** `calybris log prove SEQ --log FILE [--checkpoint FILE]`. */
export const prove = (flags: Commands.FlagsOf<typeof Commands.logOptions.prove>) =>
  Effect.gen(function*() {
    yield* setJson(true)
    if (!/^[1-9][0-9]{0,19}$/.test(flags.seq) || BigInt(flags.seq) >= 1n << 64n) {
      return yield* new UsageError({ reason: `SEQ ${JSON.stringify(flags.seq)}: not a WAL sequence (1 to 2^64-1)` })
    }
    const seq = BigInt(flags.seq)
    const cp = Option.isSome(flags.checkpoint) ? yield* readCheckpoint(flags.checkpoint.value) : undefined
    const tree = yield* treeOf(flags.log, flags)
    if (cp !== undefined) yield* rootAt(tree, cp.checkpoint, Option.getOrElse(flags.checkpoint, () => ""))
    const size = cp?.checkpoint.size ?? tree.size
    const index = seq - 1n
    if (index >= size) {
      const tree = cp === undefined ? "the log's tree" : "the checkpoint's tree"
      const holds = size === 0n
        ? "is empty: it holds no entry to prove"
        : size === 1n
        ? "has 1 entry (sequence 1)"
        : `has ${size} entries (sequences 1 to ${size})`
      return yield* new UsageError({ reason: `SEQ ${seq}: ${tree} ${holds}` })
    }
    const proof = yield* merkle("inclusion proof", Merkle.inclusionProof(tree, index, size))
    const root = yield* merkle("root", Merkle.root(tree, size))
    yield* emit(true, () => [], () =>
      obj([
        ["type", "inclusion"],
        ["seq", seq],
        ["index", index],
        ["tree_size", size],
        ["leaf_hash", hex(tree.node(0, index))],
        ["root", hex(root)],
        ["proof", proof.map(hex)],
        ...(cp === undefined ? [] : [["checkpoint", cp.note] as const])
      ]))
  })

/** `calybris log consistency OLD NEW --log FILE`. */
export const consistency = (flags: Commands.FlagsOf<typeof Commands.logOptions.consistency>) =>
  Effect.gen(function*() {
    yield* setJson(true)
    const older = yield* readCheckpoint(flags.old)
    const newer = yield* readCheckpoint(flags.new)
    if (older.checkpoint.origin !== newer.checkpoint.origin) {
      return yield* new UsageError({
        reason: `the checkpoints are of different logs: ${JSON.stringify(older.checkpoint.origin)} and ${
          JSON.stringify(newer.checkpoint.origin)
        }`
      })
    }
    // arguments in the wrong order, or an empty first tree (RFC 9162 proves nothing from size 0):
    // bad usage, said as such before the log is read — not "does not verify", which means a rewrite
    if (older.checkpoint.size === 0n || older.checkpoint.size > newer.checkpoint.size) {
      return yield* new UsageError({
        reason: older.checkpoint.size === 0n
          ? `${flags.old} is of the empty tree (size 0): a consistency proof starts from a size of at least 1`
          : `${flags.old} (size ${older.checkpoint.size}) is larger than ${flags.new} (size ${newer.checkpoint.size}): give the older checkpoint first`
      })
    }
    const tree = yield* treeOf(flags.log, flags)
    yield* rootAt(tree, older.checkpoint, flags.old)
    yield* rootAt(tree, newer.checkpoint, flags.new)
    const proof = yield* merkle(
      "consistency proof",
      Merkle.consistencyProof(tree, older.checkpoint.size, newer.checkpoint.size)
    )
    yield* emit(true, () => [], () =>
      obj([
        ["type", "consistency"],
        ["old_size", older.checkpoint.size],
        ["new_size", newer.checkpoint.size],
        ["old_root", hex(older.checkpoint.root)],
        ["new_root", hex(newer.checkpoint.root)],
        ["proof", proof.map(hex)],
        ["old_checkpoint", older.note],
        ["new_checkpoint", newer.note]
      ]))
  })

// ---------------------------------------------------------------------------------------------
// verify

type Fields = ReadonlyMap<string, Json.Json>

const field = (file: string, fields: Fields, name: string) => {
  const value = fields.get(name)
  return value === undefined
    ? Either.left(new InputError({ file, field: name, reason: "missing" }))
    : Either.right(value)
}
const u64 = (file: string, fields: Fields, name: string) =>
  Either.flatMap(field(file, fields, name), (v) => {
    const n = typeof v === "bigint" ? v : typeof v === "number" && Number.isSafeInteger(v) ? BigInt(v) : undefined
    return n === undefined || n < 0n || n >= 1n << 64n
      ? Either.left(
        new InputError({
          file,
          field: name,
          reason: `not a u64: ${Json.print(v)}${
            v instanceof Json.JsonFloat
              ? " (read as a float: a number written with a fraction or an exponent, or an integer beyond -2^63 … 2^64 - 1, whose digits a float does not keep)"
              : ""
          }`
        })
      )
      : Either.right(n)
  })
const text = (file: string, fields: Fields, name: string) =>
  Either.flatMap(field(file, fields, name), (v) =>
    typeof v === "string"
      ? Either.right(v)
      : Either.left(new InputError({ file, field: name, reason: "not a string" })))
const HEX32 = /^[0-9a-f]{64}$/
const hash = (file: string, name: string, v: Json.Json) =>
  typeof v === "string" && HEX32.test(v)
    ? Either.right(Encoding.decodeHex(v).pipe(Either.getOrThrow))
    : Either.left(new InputError({ file, field: name, reason: "not a 32-byte hash in lowercase hex" }))
const hashField = (file: string, fields: Fields, name: string) =>
  Either.flatMap(field(file, fields, name), (v) => hash(file, name, v))
/**
 * A field a proof file states that the verification does not rest on (`prove` writes `seq` and
 * `root`, `consistency` the two roots): absent, or what was verified — else the file fails, so a
 * tool reading it from a file `verify` passed is not misled (a hostile review: `"seq":99` and a
 * zero root passed).
 */
const stated = (file: string, fields: Fields, name: string, verified: bigint | Uint8Array, what: string) =>
  Effect.gen(function*() {
    if (!fields.has(name)) return
    const shown = typeof verified === "bigint"
      ? String(yield* u64(file, fields, name))
      : hex(yield* hashField(file, fields, name))
    const expected = typeof verified === "bigint" ? String(verified) : hex(verified)
    if (shown !== expected) {
      return yield* new LogVerifyFailed({
        what: `proof ${file}`,
        reason: `its ${name} ${shown} is not ${what}, ${expected}`
      })
    }
  })
/** More hashes than any RFC 6962 proof in a tree of up to 2^64 - 1 leaves holds (64, and 128 for consistency). */
const MAX_PROOF_HASHES = 130

const hashes = (file: string, fields: Fields, name: string) =>
  Either.flatMap(field(file, fields, name), (v) =>
    !Json.isArray(v)
      ? Either.left(new InputError({ file, field: name, reason: "not an array" }))
      : v.length > MAX_PROOF_HASHES
      ? Either.left(
        new InputError({
          file,
          field: name,
          reason: `${v.length} hashes: no proof in a tree of up to 2^64 - 1 leaves has more than ${MAX_PROOF_HASHES}`
        })
      )
      : Either.all(v.map((h, i) => hash(file, `${name}[${i}]`, h))))

/** The checkpoint a proof is verified against: `--checkpoint` when given, else the proof's own. */
const againstCheckpoint = (
  file: string,
  fields: Fields,
  name: string,
  given: string | undefined,
  trust: Trust
) =>
  Effect.gen(function*() {
    const note = given !== undefined ? yield* readText(given, MAX_CHECKPOINT_BYTES) : fields.has(name)
      ? yield* text(file, fields, name)
      : yield* new UsageError({
        reason: `${file} carries no ${name}: give the signed checkpoint it is checked against with --checkpoint FILE`
      })
    const verified = yield* verifyNote(given ?? `${file} ${name}`, note, trust)
    if (given !== undefined && fields.has(name)) {
      // the file's own checkpoint, beside the one given, is held to what was verified as its
      // `seq` and roots are (`stated`): a note naming the same log, size and root — a forged or
      // foreign one rode along unchecked, the verify said ok, and a tool reading the file after
      // it saw a checkpoint nobody checked (a hostile review). Its signatures are not asked for:
      // the one given may be the same head cosigned later, or signed by a witness alone (the
      // review of that fix: requiring every --vkey of the file's own refused those)
      const own = Either.flatMap(
        Note.parse(yield* text(file, fields, name)),
        (parsed) => Checkpoint.parse(parsed.text)
      )
      const same = Either.isRight(own) && own.right.origin === verified.checkpoint.origin &&
        own.right.size === verified.checkpoint.size && hex(own.right.root) === hex(verified.checkpoint.root)
      if (!same) {
        return yield* new LogVerifyFailed({
          what: `proof ${file}`,
          reason:
            `its ${name} is not the checkpoint given with --checkpoint (size ${verified.checkpoint.size}, ${given}): ${
              Either.isLeft(own)
                ? `it is no checkpoint (${own.left.message})`
                : `it names size ${own.right.size} of ${JSON.stringify(own.right.origin)}, or another root`
            }`
        })
      }
    }
    return verified
  })

/** An entry line given to `verify` (`--entry FILE` or `--entry-line LINE`): the leaf's bytes. */
interface EntryLine {
  readonly source: string
  readonly bytes: Uint8Array
}

/** The entry line of `--entry FILE` (one final newline dropped) or `--entry-line LINE`, if given. */
/** A line without the CR a CRLF file ends it with: the tree's leaf is the line as the WAL reader reads it, without it. */
const withoutCr = (line: Uint8Array): Uint8Array =>
  line.length > 0 && line[line.length - 1] === 0x0d ? line.subarray(0, -1) : line

/**
 * The largest signer key file read: a key is ~100 bytes (its name, a key hash, 44 base64
 * characters); a larger file is refused before it is read (a review's 600 MB file was read whole
 * and failed as a defect, decoding past the engine's longest string). The HMAC key file's limit.
 */
const MAX_SIGNER_KEY_BYTES = Key.MAX_KEY_FILE_BYTES

const entryOf = (flags: { readonly entry: Option.Option<string>; readonly entryLine: Option.Option<string> }) =>
  Effect.gen(function*() {
    if (Option.isSome(flags.entry) && Option.isSome(flags.entryLine)) {
      return yield* new UsageError({ reason: "give the entry with either --entry FILE or --entry-line LINE, not both" })
    }
    if (Option.isSome(flags.entryLine)) {
      const line = flags.entryLine.value
      if (line.includes("\n")) {
        return yield* new UsageError({ reason: "--entry-line: one WAL line, without its newline" })
      }
      return { source: "--entry-line", bytes: withoutCr(encoder.encode(line)) } satisfies EntryLine
    }
    if (Option.isNone(flags.entry)) return undefined
    const file = flags.entry.value
    const bytes = yield* readBytes(file)
    const line = withoutCr(bytes.length > 0 && bytes[bytes.length - 1] === 0x0a ? bytes.subarray(0, -1) : bytes)
    if (line.includes(0x0a)) {
      return yield* new InputError({ file, reason: "holds more than one line: give the entry's WAL line only" })
    }
    return { source: `--entry ${file}`, bytes: line } satisfies EntryLine
  })

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })

/**
 * The entry line is the leaf an inclusion proof proves: SHA-256(0x00 ‖ line) is the proof's
 * leaf_hash, and the line is the WAL entry of sequence index + 1 (leaf i is sequence i + 1).
 * Returns the leaf hash the proof is then verified with, and the sequence.
 */
const checkEntry = (entry: EntryLine, leaf: Uint8Array, index: bigint) =>
  Effect.gen(function*() {
    const failed = (reason: string) => new LogVerifyFailed({ what: "entry", reason })
    const hash = Merkle.hashLeaf(entry.bytes)
    if (hex(hash) !== hex(leaf)) {
      return yield* failed(
        `the leaf hash of ${entry.source}, SHA-256(0x00 ‖ line) = ${hex(hash)}, is not the proof's leaf_hash ${
          hex(leaf)
        }: this line is not the entry proved at index ${index} (sequence ${index + 1n})`
      )
    }
    let text: string
    try {
      text = strictUtf8.decode(entry.bytes)
    } catch {
      return yield* failed(`${entry.source} is not UTF-8: not a WAL line`)
    }
    // read as the WAL's reader reads a line (serde's rules: a key given twice, a missing hash, a
    // sequence that is not a u64 are refused), not as a JSON value whose last repeated key wins
    // (a line `{"sequence":5,"sequence":1,…}` was said to be sequence 1: a hostile review)
    const envelope = Entry.parse(text)
    if (Either.isLeft(envelope)) {
      return yield* failed(
        `${entry.source} is not a WAL line: ${envelope.left.reason} at column ${envelope.left.column}`
      )
    }
    const seq = envelope.right.sequence
    if (seq !== index + 1n) {
      return yield* failed(`its sequence ${seq} is not the proved index ${index} + 1 (leaf i is sequence i + 1)`)
    }
    return { hash, seq }
  })

const verifyProof = (
  path: string,
  given: string | undefined,
  trust: Trust,
  entry: EntryLine | undefined
) =>
  Effect.gen(function*() {
    // a proof is small: its hashes (130 at most), and up to two signed notes of 1 MiB each
    const content = yield* readText(path, 4 * 1024 * 1024)
    const value = yield* Either.mapLeft(
      Json.parse(content),
      (e) => new InputError({ file: path, reason: `not JSON: ${e.message}` })
    )
    // which of two values counts would depend on the reader: one file, two readings
    if (Json.hadRepeatedKey()) {
      return yield* new InputError({
        file: path,
        reason: "a key appears twice in one object: refused, not read either way"
      })
    }
    if (!Json.isObject(value)) return yield* new InputError({ file: path, reason: "not a JSON object" })
    const type = yield* text(path, value, "type")
    const proof = yield* hashes(path, value, "proof")
    if (type === "inclusion") {
      const index = yield* u64(path, value, "index")
      const size = yield* u64(path, value, "tree_size")
      const leaf = yield* hashField(path, value, "leaf_hash")
      // the entry first: a line that is not the proved one is named as such
      const checked = entry === undefined ? undefined : yield* checkEntry(entry, leaf, index)
      const verified = yield* againstCheckpoint(path, value, "checkpoint", given, trust)
      // size and root come from the verified checkpoint, never from the proof (Merkle.ts docs)
      if (size !== verified.checkpoint.size) {
        return yield* new LogVerifyFailed({
          what: `inclusion proof ${path}`,
          reason: `its tree_size ${size} is not the checkpoint's size ${verified.checkpoint.size}`
        })
      }
      yield* merkle(
        `inclusion proof ${path}`,
        Merkle.verifyInclusion(
          checked?.hash ?? leaf,
          index,
          verified.checkpoint.size,
          proof,
          verified.checkpoint.root
        )
      )
      yield* stated(path, value, "seq", index + 1n, "the proved index + 1")
      yield* stated(path, value, "root", verified.checkpoint.root, "the checkpoint's root")
      return { type, verified: [verified], index, size, entry: checked }
    }
    if (type === "consistency") {
      const oldSize = yield* u64(path, value, "old_size")
      const newSize = yield* u64(path, value, "new_size")
      if (given !== undefined) {
        return yield* new UsageError({ reason: "a consistency proof carries its two checkpoints: no --checkpoint" })
      }
      if (entry !== undefined) {
        return yield* new UsageError({ reason: `${entry.source}: an entry is checked with an inclusion proof only` })
      }
      const older = yield* againstCheckpoint(path, value, "old_checkpoint", undefined, trust)
      const newer = yield* againstCheckpoint(path, value, "new_checkpoint", undefined, trust)
      if (older.checkpoint.origin !== newer.checkpoint.origin) {
        return yield* new LogVerifyFailed({
          what: `consistency proof ${path}`,
          reason: `its checkpoints are of different logs: ${JSON.stringify(older.checkpoint.origin)} and ${
            JSON.stringify(newer.checkpoint.origin)
          }`
        })
      }
      if (oldSize !== older.checkpoint.size || newSize !== newer.checkpoint.size) {
        return yield* new LogVerifyFailed({
          what: `consistency proof ${path}`,
          reason:
            `its sizes ${oldSize} → ${newSize} are not its checkpoints' ${older.checkpoint.size} → ${newer.checkpoint.size}`
        })
      }
      yield* merkle(
        `consistency proof ${path}`,
        Merkle.verifyConsistency(
          older.checkpoint.size,
          newer.checkpoint.size,
          proof,
          older.checkpoint.root,
          newer.checkpoint.root
        )
      )
      yield* stated(path, value, "old_root", older.checkpoint.root, "the old checkpoint's root")
      yield* stated(path, value, "new_root", newer.checkpoint.root, "the new checkpoint's root")
      return { type, verified: [older, newer], index: undefined, size: newSize, entry: undefined }
    }
    return yield* new InputError({
      file: path,
      field: "type",
      reason: `${JSON.stringify(type)}: not inclusion or consistency`
    })
  })

/**
 * A verified checkpoint as text, escaped as error text is (`Format.visible`): its origin and key
 * names are the note's, and a signature line anyone can append names any key ("not checked"),
 * so a C1 control or a bidi override there reached the terminal raw (a hostile review).
 */
const describe = (v: Checkpoint.Verified): string =>
  Format.visible(
    `${JSON.stringify(v.checkpoint.origin)} size ${v.checkpoint.size} root ${
      Encoding.encodeBase64(v.checkpoint.root)
    }, signed by ${v.signers.join(", ")}${
      v.cosignatures.length === 0
        ? ""
        : `, cosigned by ${v.cosignatures.map((c) => `${Note.keyLabel(c.name, c.keyId)} at ${c.timestamp}`).join(", ")}`
    }${
      v.note.unverified.length === 0
        ? ""
        : `; not checked (no key given): ${v.note.unverified.map((s) => Note.keyLabel(s.name, s.keyId)).join(", ")}`
    }`
  )

const checkpointJson = (v: Checkpoint.Verified) =>
  obj([
    ["origin", v.checkpoint.origin],
    ["size", v.checkpoint.size],
    ["root", hex(v.checkpoint.root)],
    ["signers", [...v.signers]],
    [
      "cosignatures",
      v.cosignatures.map((c) => obj([["key", Note.keyLabel(c.name, c.keyId)], ["timestamp", c.timestamp]]))
    ],
    ["unverified", v.note.unverified.map((s) => Note.keyLabel(s.name, s.keyId))]
  ])

/**
 * A key name or an origin from the command line holding U+FFFD is refused: bytes that are not
 * UTF-8 in an argument reach the program as U+FFFD, so `$'log\xfe'` and `$'log\xff'` would be one
 * origin (a hostile review: a checkpoint signed under the one verified under the other). The
 * original bytes are gone by then; ids are refused so too (`budget`'s tenant and operation ids).
 */
const commandLineText = (flag: string, value: string): Effect.Effect<string, UsageError> =>
  value.includes("\uFFFD")
    ? Effect.fail(
      new UsageError({
        reason: `${flag} ${
          Format.visible(JSON.stringify(value))
        }: holds U+FFFD, which is what bytes that are not UTF-8 on a command line become: give it as UTF-8 text`
      })
    )
    : Effect.succeed(value)

/** `calybris log verify --vkey KEY… (--checkpoint FILE | --proof FILE)`. */
export const verify = (flags: Commands.FlagsOf<typeof Commands.logOptions.verify>) =>
  Effect.gen(function*() {
    yield* setJson(flags.json)
    if (flags.vkey.length === 0) return yield* new UsageError({ reason: "give the log's verifier key with --vkey" })
    const origin = Option.getOrUndefined(flags.origin)
    if (origin !== undefined) {
      yield* commandLineText("--origin", origin)
      yield* Either.mapLeft(Checkpoint.checkOrigin(origin), (e) => new UsageError({ reason: `--origin: ${e.message}` }))
    }
    const trust: Trust = { verifiers: yield* verifiersOf(flags.vkey), origin }
    const given = Option.getOrUndefined(flags.checkpoint)
    const entry = yield* entryOf(flags)
    if (Option.isSome(flags.proof)) {
      const r = yield* verifyProof(flags.proof.value, given, trust, entry)
      return yield* emit(
        flags.json,
        () => [
          `ok: ${r.type} proof verified${r.index === undefined ? "" : ` (index ${r.index}, sequence ${r.index + 1n})`}`,
          ...(r.entry === undefined || entry === undefined ? [] : [
            `  entry included: ${entry.source} is sequence ${r.entry.seq}, leaf hash ${hex(r.entry.hash)}`
          ]),
          ...r.verified.map((v) => `  checkpoint ${describe(v)}`)
        ],
        () =>
          obj([
            ["ok", true],
            ["type", r.type],
            ...(r.index === undefined ? [] : [["index", r.index] as const, ["seq", r.index + 1n] as const]),
            ...(r.entry === undefined ? [] : [
              ["entry", obj([["seq", r.entry.seq], ["leaf_hash", hex(r.entry.hash)], ["included", true]])] as const
            ]),
            ["checkpoints", r.verified.map(checkpointJson)]
          ])
      )
    }
    if (entry !== undefined) {
      return yield* new UsageError({ reason: `${entry.source}: an entry is checked with an inclusion --proof FILE` })
    }
    if (given === undefined) return yield* new UsageError({ reason: "give --checkpoint FILE or --proof FILE" })
    const note = yield* readText(given, MAX_CHECKPOINT_BYTES)
    const v = yield* verifyNote(`checkpoint ${given}`, note, trust)
    yield* emit(
      flags.json,
      () => [`ok: checkpoint ${describe(v)}`],
      () => obj([["ok", true], ["checkpoint", checkpointJson(v)]])
    )
  })

// ---------------------------------------------------------------------------------------------
// Signing keys: checkpoint, keygen

const strictDecoder = new TextDecoder("utf-8", { fatal: true })
/** Bytes as UTF-8 text, or undefined when they are not UTF-8. */
const utf8Strict = (bytes: Uint8Array): string | undefined => {
  try {
    return strictDecoder.decode(bytes)
  } catch {
    return undefined
  }
}

/** The note signer key from `--skey-file` or `--skey-env` (never argv). Errors name the source only. */
const loadSigner = (flags: { readonly skeyFile: Option.Option<string>; readonly skeyEnv: Option.Option<string> }) =>
  Effect.gen(function*() {
    if (Option.isSome(flags.skeyFile) && Option.isSome(flags.skeyEnv)) {
      return yield* new UsageError({ reason: "give the signer key with either --skey-file or --skey-env, not both" })
    }
    // a key pasted where a path or a variable name goes would be echoed by every error naming
    // the source: refuse it first, without quoting it
    for (const [flag, value] of [["--skey-file", flags.skeyFile], ["--skey-env", flags.skeyEnv]] as const) {
      if (Option.isSome(value) && value.value.includes("PRIVATE+KEY")) {
        return yield* new UsageError({
          reason:
            `${flag} takes a file or a variable name, not a key: a key on the command line is refused (it leaks through ps and shell history)`
        })
      }
    }
    let source: string
    let secret: Redacted.Redacted<string>
    if (Option.isSome(flags.skeyFile)) {
      const path = flags.skeyFile.value
      source = Key.sourceName("--skey-file", path)
      // a regular file only (a FIFO nobody writes to would hang the command)
      const bytes = yield* readBytes(path, MAX_SIGNER_KEY_BYTES).pipe(
        Effect.mapError((e) => new KeyError({ source, reason: e.reason }))
      )
      // UTF-8 or refused: a byte that is not would be read as U+FFFD, and two key names as one
      const text = utf8Strict(bytes)
      bytes.fill(0)
      if (text === undefined) return yield* new KeyError({ source, reason: "the file is not UTF-8 text" })
      secret = Redacted.make(text.trim())
    } else if (Option.isSome(flags.skeyEnv)) {
      source = Key.sourceName("--skey-env", flags.skeyEnv.value)
      const value = yield* Key.variableValue(
        "--skey-env",
        flags.skeyEnv.value,
        "the value is not valid UTF-8 (or holds U+FFFD)"
      )
      secret = Redacted.make(Redacted.value(value).trim())
    } else {
      return yield* new UsageError({ reason: "give the signer key with --skey-file FILE or --skey-env NAME" })
    }
    return yield* Either.mapLeft(
      Note.parseSignerKey(secret),
      (e) => new KeyError({ source, reason: `not a note signer key: ${e.reason} (${e.field})` })
    )
  })

/**
 * `calybris log vkey (--skey-file F | --skey-env NAME)`: the verifier key of a signer key — what
 * `log keygen` printed, for a keygen stopped (a signal) after it wrote the key and before it
 * printed, or a verifier key lost since. Public; the signer key is never printed.
 */
export const vkey = (flags: Commands.FlagsOf<typeof Commands.logOptions.vkey>) =>
  Effect.gen(function*() {
    const signer = yield* loadSigner(flags)
    yield* printLines([Note.formatVerifierKey(signer)])
  })

/** `calybris log checkpoint --log FILE (--skey-file F | --skey-env NAME) [--origin ORIGIN]`. */
export const checkpoint = (flags: Commands.FlagsOf<typeof Commands.logOptions.checkpoint>) =>
  Effect.gen(function*() {
    if (Option.isSome(flags.origin)) yield* commandLineText("--origin", flags.origin.value)
    const signer = yield* loadSigner(flags)
    const origin = Option.getOrElse(flags.origin, () => signer.name)
    const tree = yield* treeOf(flags.log, flags)
    yield* extendsPublished(flags.log, tree)
    if (Option.isSome(flags.previous)) {
      // the operator's own record of what was signed (no tree log publishes beside the log when
      // only this command signs: a log rolled back and grown again was signed at a size already
      // signed with another root; a helper's hostile review)
      const path = flags.previous.value
      yield* extendsCheckpoint(path, tree, (reason) => new LogVerifyFailed({ what: `log ${flags.log}`, reason }), {
        origin,
        what: "--previous",
        unreadable: (reason) => new InputError({ file: path, reason })
      })
    }
    const root = yield* merkle("root", Merkle.root(tree, tree.size))
    // an origin that is not one checkpoint line (a "\n" in it would sign lines of its own) is refused
    const note = yield* Either.mapLeft(
      Either.flatMap(
        Checkpoint.body(new Checkpoint.Checkpoint({ origin, size: tree.size, root, extensions: [] })),
        (body) => Note.sign(body, [signer])
      ),
      (e) => new UsageError({ reason: `--origin: ${e.message}` })
    )
    yield* printLines([note.slice(0, -1)])
  })

/**
 * The checkpoint a tree log published beside the log (`<log>.tlog/checkpoint`: `TreeLog`'s
 * periodic checkpoints), when there is one: the log must extend it — its size at most the log's,
 * its root the log's root at that size — or nothing is signed (a log rolled back and grown again
 * is never signed over what was published: a split view; a helper's hostile review). It is
 * evidence whoever signed it: parsed, not verified. Anything there that is not a readable signed
 * checkpoint (a symbolic link to nothing, a FIFO, junk) fails too: it may be the published one.
 * Looked for beside the name given and beside the file's real path; a file with other names
 * (hard links) and no checkpoint beside either is refused: its checkpoint may be beside one of
 * them.
 */
const extendsPublished = (log: string, tree: Merkle.MemoryTree) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const refuse = (reason: string) => new LogVerifyFailed({ what: `log ${log}`, reason })
    // beside the name given and beside the file's real path (a symbolic link, a `dir/..`
    // spelling: the check was skipped for any name but the tree log's own; a hostile review)
    const real = yield* fs.realPath(log).pipe(Effect.orElseSucceed(() => log))
    let found = false
    for (const path of new Set([`${log}.tlog/checkpoint`, `${real}.tlog/checkpoint`])) {
      const link = yield* Effect.either(fs.readLink(path))
      const there = Either.isRight(link) || (yield* fs.exists(path).pipe(Effect.orElseSucceed(() => true)))
      if (!there) continue
      found = true
      yield* extendsCheckpoint(path, tree, refuse)
    }
    if (found) return
    // a hard link's other names cannot be found: one of them may have a published checkpoint
    const links = yield* fs.stat(log).pipe(
      Effect.map((info) => Option.getOrElse(info.nlink, () => 1)),
      Effect.orElseSucceed(() => 1)
    )
    if (links > 1) {
      return yield* refuse(
        `the file has ${links} names (hard links) and no checkpoint is published beside this one: one may be published beside another name, which cannot be found; sign it through the name its tree log uses, or remove the other links`
      )
    }
  })

/**
 * The log must extend one signed checkpoint (`extendsPublished`'s file found beside the log, or
 * `log checkpoint --previous`): its size at most the log's, its root the log's root at that size.
 * With `previous` (the operator's own file) its origin must be the one to be signed, and a file
 * that cannot be read or parsed is bad input (exit 2), not a verdict on the log.
 */
const extendsCheckpoint = (
  path: string,
  tree: Merkle.MemoryTree,
  refuse: (reason: string) => LogVerifyFailed,
  previous?: {
    readonly origin: string
    readonly what: string
    readonly unreadable: (reason: string) => InputError
  }
) =>
  Effect.gen(function*() {
    const where = previous === undefined ? `the checkpoint published at ${path}` : `${previous.what} ${path}`
    const text = yield* readText(path, MAX_CHECKPOINT_BYTES).pipe(
      Effect.mapError((e) =>
        previous === undefined
          ? refuse(
            `the checkpoint published beside it (${path}) cannot be read (${e.reason}): nothing is signed over it`
          )
          : previous.unreadable(e.reason)
      )
    )
    const published = Either.flatMap(Note.parse(text), (note) => Checkpoint.parse(note.text))
    if (Either.isLeft(published)) {
      return yield* previous === undefined
        ? refuse(
          `${path} is not a signed checkpoint (${published.left.message}): remove it if it is not the published checkpoint`
        )
        : previous.unreadable(`not a signed checkpoint (${published.left.message})`)
    }
    const { origin, root, size } = published.right
    if (previous !== undefined && origin !== previous.origin) {
      return yield* previous.unreadable(
        `a checkpoint of origin ${Format.visible(JSON.stringify(origin))}, not ${
          Format.visible(JSON.stringify(previous.origin))
        }: the one to sign is of another log`
      )
    }
    if (size > tree.size) {
      return yield* refuse(
        `it holds ${tree.size} entries, fewer than the ${size} of ${where}: the log was rolled back`
      )
    }
    const ours = yield* merkle("root", Merkle.root(tree, size))
    if (hex(ours) !== hex(root)) {
      return yield* refuse(
        `its root at size ${size} is not the root of ${where}: the log was rewritten`
      )
    }
  })

/** `calybris log keygen --name NAME --out FILE`. */
export const keygen = (flags: Commands.FlagsOf<typeof Commands.logOptions.keygen>) =>
  Effect.gen(function*() {
    // a signing key is never printed: `-` (standard output elsewhere) is refused, not a file named "-"
    if (flags.out === STDOUT) {
      return yield* new UsageError({ reason: "--out -: the signer key is never printed; name a new file" })
    }
    yield* requireOutPath("--out", flags.out)
    yield* commandLineText("--name", flags.name)
    const seed = Redacted.make(globalThis.crypto.getRandomValues(new Uint8Array(32)))
    const invalidName = (e: Note.NoteKeyInvalid) =>
      new UsageError({ reason: `--name ${JSON.stringify(flags.name)}: ${e.reason}` })
    const signer = yield* Either.mapLeft(Note.ed25519Signer(flags.name, seed), invalidName)
    const skey = `${Redacted.value(yield* Either.mapLeft(Note.formatSignerKey(flags.name, seed), invalidName))}\n`
    Redacted.value(seed).fill(0)
    yield* Effect.flatMap(FileSystem.FileSystem, (fs) => writeNewSecret(fs, flags.out, encoder.encode(skey))).pipe(
      Effect.provide(WalNode.layer),
      Effect.mapError((e) =>
        // a file already there (or a killed write's temporary file): bad usage, as for `budget
        // init` — name a new file, or remove the leftover (exit 2)
        e._tag === "SystemError" && e.reason === "AlreadyExists"
          ? new UsageError({ reason: `--out ${flags.out}: ${e.description ?? "already exists"}` })
          : new IoError({ operation: "write", path: flags.out, reason: platformReason(e) })
      )
    )
    yield* printLines([Note.formatVerifierKey(signer)])
  })
