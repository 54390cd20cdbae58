/**
 * The transparency log's workloads (issue 17, packages/tlog): proof generation and verification
 * at 10^6 and 10^7 leaves, the compact range's append, and checkpoint signing / verification.
 *
 * The tree: leaf i is the bytes of `{"seq":i}` (a stand-in for a WAL line), hashed as an RFC 6962
 * leaf. It is built ONCE per size through Tiles' writer (`appendTiles`, 65,536 leaves a call)
 * and cached as C2SP hash tiles under `$TMPDIR/calybris-bench-tlog-<size>/` (a `DONE` file marks
 * a complete build; the build time is printed on stderr and kept in `DONE`). Two stores serve it:
 * - memory: every final tile loaded into a Map (rows without suffix);
 * - disk: each proof reads its tiles with `readFileSync`, each tile once a proof (rows ending in
 *   `/disk`; the OS page cache is warm after the warm-up: this is the cost of the reads, not of a disk).
 * Proofs are read through `Tiles.nodeHash` (a node between tile levels is hashed up from the tile
 * below it, as a tlog-tiles client does), at random indices / old sizes (a fixed xorshift seed).
 *
 * Checkpoints: the library signs and verifies with @noble/curves only (Ed25519.ts says why a
 * node:crypto route was not adopted); the `/node_crypto` rows time node:crypto's Ed25519 on the
 * same message, for comparison only.
 */
import * as Checkpoint from "@calybris/tlog/Checkpoint"
import { CompactRange } from "@calybris/tlog/CompactRange"
import * as Merkle from "@calybris/tlog/Merkle"
import * as Note from "@calybris/tlog/Note"
import * as Tiles from "@calybris/tlog/Tiles"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { consume, perOp, type Workload } from "../registry.js"

const encoder = new TextEncoder()
const entry = (i: number): Uint8Array => encoder.encode(`{"seq":${i}}`)
const leafHash = (i: number): Uint8Array => Merkle.hashLeaf(entry(i))

const key = (level: number, index: bigint) => `${level}/${index}`

/** A deterministic stream of integers in [0, bound) (xorshift32; bound ≤ 2^32). */
const randoms = (seed: number) => {
  let x = seed | 0 || 1
  return (bound: number): number => {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    return (x >>> 0) % bound
  }
}

interface Fixture {
  readonly size: bigint
  readonly dir: string
  /** the final tiles, by `level/index` */
  readonly tiles: Map<string, Uint8Array>
}

const BATCH = 65_536

/** Builds the tree of `n` leaves through Tiles' writer, writes its final tiles to `dir`. */
const build = (n: number, dir: string): Map<string, Uint8Array> => {
  const started = performance.now()
  const tiles = new Map<string, Uint8Array>()
  const reader: Tiles.TileReader = (level, index, width) => tiles.get(key(level, index))?.subarray(0, width * 32)
  for (let at = 0; at < n; at += BATCH) {
    const hashes: Array<Uint8Array> = []
    for (let i = at; i < Math.min(n, at + BATCH); i++) hashes.push(leafHash(i))
    const writes = Either.getOrThrow(Tiles.appendTiles(reader, BigInt(at), hashes))
    for (const w of writes) tiles.set(key(w.level as number, w.index), w.bytes)
  }
  const hashed = performance.now()
  const made = new Set<string>()
  for (const [k, bytes] of tiles) {
    const [level, index] = k.split("/") as [string, string]
    const file = path.join(dir, Either.getOrThrow(Tiles.tilePath(Number(level), BigInt(index), bytes.length / 32)))
    const parent = path.dirname(file)
    if (!made.has(parent)) {
      fs.mkdirSync(parent, { recursive: true })
      made.add(parent)
    }
    fs.writeFileSync(file, bytes)
  }
  const done = performance.now()
  const note = `built ${n} leaves: hashing + appendTiles ${((hashed - started) / 1e3).toFixed(1)} s, ` +
    `writing ${tiles.size} tiles ${((done - hashed) / 1e3).toFixed(1)} s`
  fs.writeFileSync(path.join(dir, "DONE"), note + "\n")
  process.stderr.write(`tlog fixture ${dir}: ${note}\n`)
  return tiles
}

/** Loads the final tiles of a tree of `n` leaves from `dir`. */
const load = (n: number, dir: string): Map<string, Uint8Array> => {
  const tiles = new Map<string, Uint8Array>()
  for (const { fullTiles, level, partialWidth } of Tiles.tilesForSize(BigInt(n))) {
    const last = partialWidth > 0 ? fullTiles + 1n : fullTiles
    for (let index = 0n; index < last; index++) {
      const width = index < fullTiles ? Tiles.TILE_WIDTH : partialWidth
      const file = path.join(dir, Either.getOrThrow(Tiles.tilePath(level, index, width)))
      tiles.set(key(level, index), new Uint8Array(fs.readFileSync(file)))
    }
  }
  return tiles
}

/** The tree of `n` leaves, from the cache in $TMPDIR or built (once) into it. */
const fixture = (n: number): Fixture => {
  const dir = path.join(os.tmpdir(), `calybris-bench-tlog-${n}`)
  if (fs.existsSync(path.join(dir, "DONE"))) return { size: BigInt(n), dir, tiles: load(n, dir) }
  fs.rmSync(dir, { recursive: true, force: true })
  fs.mkdirSync(dir, { recursive: true })
  return { size: BigInt(n), dir, tiles: build(n, dir) }
}

type Store = "memory" | "disk"

const readerOf = (f: Fixture, store: Store): Tiles.TileReader =>
  store === "memory"
    ? (level, index, width) => {
      const bytes = f.tiles.get(key(level, index))
      return bytes === undefined ? undefined : bytes.length === width * 32 ? bytes : bytes.subarray(0, width * 32)
    }
    : (() => {
      // one proof's tiles, each read from its file once (Tiles.nodeHash reads per node)
      const read = new Map<string, Uint8Array | undefined>()
      return (level, index, width) => {
        const file = path.join(f.dir, Either.getOrThrow(Tiles.tilePath(level, index, width)))
        if (read.has(file)) return read.get(file)
        let bytes: Uint8Array | undefined
        try {
          bytes = new Uint8Array(fs.readFileSync(file))
        } catch {
          bytes = undefined
        }
        read.set(file, bytes)
        return bytes
      }
    })()

/** The tree's nodes, read from its tiles (a node between tile levels hashed up from the tile below). */
const sourceOf = (f: Fixture, store: Store): Merkle.NodeSource => Tiles.nodeSource(readerOf(f, store), f.size)

const fold = (proof: ReadonlyArray<Uint8Array>): number => proof.length + ((proof[0]?.[0] ?? 0) | 0)

const POOL = 256

const sizes: ReadonlyArray<readonly [string, number]> = [["1e6", 1_000_000], ["1e7", 10_000_000]]

const proofWorkloads = (label: string, n: number): Array<Workload> => {
  const generate = (kind: "inclusion" | "consistency", store: Store): Workload => ({
    name: `tlog/${kind}_proof/${label}${store === "disk" ? "/disk" : ""}`,
    unit: "us/op",
    reference: null,
    group: "tlog",
    note: `tlog/${kind}_proof/${label}${store === "disk" ? "/disk" : ""}: one proof for a random ` +
      (kind === "inclusion" ? "leaf" : "old size") +
      ` of a tree of ${label} leaves, read from its C2SP hash tiles ` +
      (store === "disk" ? "(each tile read from its file once a proof)" : "(all in memory)"),
    setup: () => {
      const f = fixture(n)
      const memory = sourceOf(f, "memory")
      const next = randoms(0x9e3779b9)
      return perOp("us/op", (count) => {
        let acc = 0
        for (let s = 0; s < count; s++) {
          const source = store === "memory" ? memory : sourceOf(f, "disk")
          const proof = kind === "inclusion"
            ? Merkle.inclusionProof(source, BigInt(next(n)), f.size)
            : Merkle.consistencyProof(source, BigInt(1 + next(n - 1)), f.size)
          acc += fold(Either.getOrThrow(proof))
        }
        return acc
      })
    }
  })
  /** One verification of a proof from a pool made in setup (random leaves, or random old sizes). */
  const verify = (kind: "inclusion" | "consistency", seed: number): Workload => ({
    name: `tlog/verify_${kind}/${label}`,
    unit: "us/op",
    reference: null,
    group: "tlog",
    setup: () => {
      const f = fixture(n)
      const source = sourceOf(f, "memory")
      const root = Either.getOrThrow(Merkle.root(source, f.size))
      const next = randoms(seed)
      const pool = Array.from({ length: POOL }, (): () => boolean => {
        if (kind === "inclusion") {
          const index = next(n)
          const leaf = leafHash(index)
          const proof = Either.getOrThrow(Merkle.inclusionProof(source, BigInt(index), f.size))
          return () => Either.isRight(Merkle.verifyInclusion(leaf, BigInt(index), f.size, proof, root))
        }
        const size1 = BigInt(1 + next(n - 1))
        const root1 = Either.getOrThrow(Merkle.root(source, size1))
        const proof = Either.getOrThrow(Merkle.consistencyProof(source, size1, f.size))
        return () => Either.isRight(Merkle.verifyConsistency(size1, f.size, proof, root1, root))
      })
      return perOp("us/op", (count) => {
        let acc = 0
        for (let s = 0; s < count; s++) acc += (pool[s & (POOL - 1)] as () => boolean)() ? 1 : 0
        if (acc !== count) throw new Error(`a ${kind} proof did not verify`)
        return acc
      })
    }
  })
  return [
    generate("inclusion", "memory"),
    generate("inclusion", "disk"),
    verify("inclusion", 0x2545f491),
    generate("consistency", "memory"),
    generate("consistency", "disk"),
    verify("consistency", 0x6c078965)
  ]
}

// ---------------------------------------------------------------------------------------------
// Checkpoints

const ORIGIN = "bench.calybris.example/log"
const SEED = new Uint8Array(32).map((_, i) => i + 1)

const checkpointSetup = () => {
  const signer = Either.getOrThrow(Note.ed25519Signer(ORIGIN, Redacted.make(SEED)))
  const verifier = Either.getOrThrow(Note.ed25519Verifier(ORIGIN, signer.publicKey))
  const body = (size: number) =>
    Checkpoint.format(
      new Checkpoint.Checkpoint({ origin: ORIGIN, size: BigInt(size), root: leafHash(size), extensions: [] })
    )
  return { signer, verifier, body }
}

/** node:crypto's Ed25519 keys for the same seed (PKCS#8 prefix of a raw Ed25519 seed). */
const nodeKeys = () => {
  const der = Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), Buffer.from(SEED)])
  const privateKey = crypto.createPrivateKey({ key: der, format: "der", type: "pkcs8" })
  return { privateKey, publicKey: crypto.createPublicKey(privateKey) }
}

const checkpointWorkloads: Array<Workload> = [
  {
    name: "tlog/checkpoint/sign",
    unit: "us/op",
    reference: null,
    group: "tlog",
    note: "tlog/checkpoint/sign: format a checkpoint body and sign it as a C2SP signed note (Ed25519, @noble/curves)",
    setup: () => {
      const { body, signer } = checkpointSetup()
      return perOp("us/op", (count) => {
        let acc = 0
        for (let s = 0; s < count; s++) acc += Either.getOrThrow(Note.sign(body(s), [signer])).length
        return acc
      }, { warmupMs: 500 })
    }
  },
  {
    name: "tlog/checkpoint/verify",
    unit: "us/op",
    reference: null,
    group: "tlog",
    note: "tlog/checkpoint/verify: Checkpoint.verifyCheckpoint of a note with one log signature " +
      "(parse, Ed25519 strict RFC 8032 verify through @noble/curves, body parse)",
    setup: () => {
      const { body, signer, verifier } = checkpointSetup()
      const notes = Array.from({ length: 16 }, (_, i) => Either.getOrThrow(Note.sign(body(i), [signer])))
      return perOp("us/op", (count) => {
        let acc = 0
        for (let s = 0; s < count; s++) {
          const verified = Checkpoint.verifyCheckpoint(notes[s & 15] as string, [verifier])
          acc += Either.isRight(verified) ? 1 : 0
        }
        if (acc !== count) throw new Error("a checkpoint did not verify")
        return acc
      }, { warmupMs: 500 })
    }
  },
  {
    name: "tlog/checkpoint/sign/node_crypto",
    unit: "us/op",
    reference: null,
    group: "tlog",
    note: "tlog/checkpoint/{sign,verify}/node_crypto: node:crypto's Ed25519 (OpenSSL) on a checkpoint body, " +
      "for comparison only (the library uses @noble/curves on both routes, see Ed25519.ts)",
    setup: () => {
      const { body } = checkpointSetup()
      const { privateKey } = nodeKeys()
      return perOp("us/op", (count) => {
        let acc = 0
        for (let s = 0; s < count; s++) acc += crypto.sign(null, encoder.encode(body(s)), privateKey)[0] as number
        return acc
      }, { warmupMs: 500 })
    }
  },
  {
    name: "tlog/checkpoint/verify/node_crypto",
    unit: "us/op",
    reference: null,
    group: "tlog",
    setup: () => {
      const { body } = checkpointSetup()
      const { privateKey, publicKey } = nodeKeys()
      const messages = Array.from({ length: 16 }, (_, i) => encoder.encode(body(i)))
      const signatures = messages.map((m) => crypto.sign(null, m, privateKey))
      return perOp("us/op", (count) => {
        let acc = 0
        for (let s = 0; s < count; s++) {
          acc += crypto.verify(null, messages[s & 15] as Uint8Array, publicKey, signatures[s & 15] as Uint8Array)
            ? 1
            : 0
        }
        if (acc !== count) throw new Error("a signature did not verify")
        return acc
      }, { warmupMs: 500 })
    }
  }
]

/**
 * The same proofs from a store that keeps every level (`Merkle.MemoryTree`, built from the level-0
 * tiles' leaf hashes): no hashing up, so generation is ~30 node reads. Only at 10^6: at 10^7 the
 * 2·10^7 hash objects take gigabytes.
 */
const allLevels = (kind: "inclusion" | "consistency"): Workload => ({
  name: `tlog/${kind}_proof/1e6/all_levels`,
  unit: "us/op",
  reference: null,
  group: "tlog",
  note: `tlog/${kind}_proof/1e6/all_levels: as tlog/${kind}_proof/1e6, from a Merkle.MemoryTree holding every level`,
  setup: () => {
    const n = 1_000_000
    const f = fixture(n)
    const tree = Merkle.MemoryTree.fromLeafHashes(
      (function*() {
        for (let i = 0; i < n; i++) {
          const tile = f.tiles.get(key(0, BigInt(i >> 8))) as Uint8Array
          yield tile.subarray((i & 255) * 32, (i & 255) * 32 + 32)
        }
      })()
    )
    const next = randoms(0x9e3779b9)
    return perOp("us/op", (count) => {
      let acc = 0
      for (let s = 0; s < count; s++) {
        const proof = kind === "inclusion"
          ? Merkle.inclusionProof(tree, BigInt(next(n)), f.size)
          : Merkle.consistencyProof(tree, BigInt(1 + next(n - 1)), f.size)
        acc += fold(Either.getOrThrow(proof))
      }
      return acc
    })
  }
})

export const tlogWorkloads: ReadonlyArray<Workload> = [
  ...sizes.flatMap(([label, n]) => proofWorkloads(label, n)),
  allLevels("inclusion"),
  allLevels("consistency"),
  {
    name: "tlog/compact_range/append",
    unit: "ns/leaf",
    reference: null,
    group: "tlog",
    note: "tlog/compact_range/append: CompactRange.append of precomputed leaf hashes to a growing range " +
      "(amortised: one interior hash per leaf)",
    setup: () => {
      const hashes = Array.from({ length: 4096 }, (_, i) => leafHash(i))
      const range = CompactRange.empty()
      return perOp("ns/leaf", (count) => {
        for (let s = 0; s < count; s++) range.append(hashes[s & 4095] as Uint8Array)
        consume(range.edge.length)
        return Number(range.size & 0xffffn)
      })
    }
  },
  ...checkpointWorkloads
]
