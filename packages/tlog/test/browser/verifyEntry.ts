/**
 * What an auditor runs in a browser, as one entry for the bundle browser.test.ts builds: verify
 * real signed checkpoints with their public keys, a production inclusion proof against its
 * checkpoint, a witness cosignature, and a tiled log's root and every inclusion proof read from
 * its tiles — through the package's verify modules only. Answers plain strings (the results
 * cross from the bundle's realm to the test's).
 */
import * as Hash from "@calybris/core/Hash"
import * as Either from "effect/Either"
import * as Encoding from "effect/Encoding"
import * as Checkpoint from "../../src/Checkpoint.js"
import * as Merkle from "../../src/Merkle.js"
import * as Tiles from "../../src/Tiles.js"
import type { RealLogs } from "../realLogs.js"

const bytes = (hex: string): Uint8Array => Either.getOrThrow(Encoding.decodeHex(hex))
const hex = (b: Uint8Array): string => Encoding.encodeHex(b)
const verdict = <A, E extends { readonly _tag: string }>(e: Either.Either<A, E>, ok: (a: A) => string): string =>
  Either.isRight(e) ? ok(e.right) : `refused ${e.left._tag}${"reason" in e.left ? ` ${String(e.left.reason)}` : ""}`

const checkpoint = (note: string, vkeys: ReadonlyArray<string>) =>
  Either.flatMap(
    Either.all(vkeys.map(Checkpoint.parseVerifierKey)),
    (verifiers) => Checkpoint.verifyCheckpoint(note, verifiers)
  )

export const run = (logs: RealLogs): ReadonlyArray<string> => {
  const out: Array<string> = [`sha256: ${Hash.defaultHash.name}`]

  // sum.golang.org: its checkpoint, then the same note with its size changed
  const sumdb = checkpoint(logs.sumdb.note, [logs.sumdb.vkey])
  out.push(`sumdb: ${verdict(sumdb, (v) => `${v.signers.join(",")} ${v.checkpoint.size} ${hex(v.checkpoint.root)}`)}`)
  const forged = logs.sumdb.note.replace(`\n${logs.sumdb.size}\n`, `\n${BigInt(logs.sumdb.size) + 1n}\n`)
  out.push(`sumdb forged size: ${verdict(checkpoint(forged, [logs.sumdb.vkey]), () => "accepted")}`)

  // Rekor v2: the checkpoint, then its last leaf's inclusion at the checkpoint's size and root
  const rekor = checkpoint(logs.rekor.note, [logs.rekor.vkey])
  out.push(`rekor: ${verdict(rekor, (v) => `${v.signers.join(",")} ${v.checkpoint.size}`)}`)
  if (Either.isRight(rekor)) {
    const { root, size } = rekor.right.checkpoint
    const leaf = bytes(logs.rekor.leafHex)
    const proof = logs.rekor.proofHex.map(bytes)
    const index = BigInt(logs.rekor.leafIndex)
    out.push(
      `rekor inclusion: ${verdict(Merkle.verifyInclusion(Merkle.hashLeaf(leaf), index, size, proof, root), () => "ok")}`
    )
    const flipped = leaf.slice()
    flipped[flipped.length - 1] = (flipped[flipped.length - 1] as number) ^ 1
    out.push(
      `rekor inclusion, leaf bit flipped: ${
        verdict(Merkle.verifyInclusion(Merkle.hashLeaf(flipped), index, size, proof, root), () => "accepted")
      }`
    )
  }

  // a witnessed checkpoint: the log's signature and a cosignature/v1
  const witnessed = checkpoint(logs.witnessed.note, [logs.witnessed.logVkey, logs.witnessed.witnessVkey])
  out.push(
    `witnessed: ${
      verdict(witnessed, (v) =>
        `${v.signers.join(",")} ${v.checkpoint.size} cosigned ${
          v.cosignatures.map((c) =>
            `${c.name}@${c.timestamp}`
          ).join(",")
        }`)
    }`
  )
  out.push(
    `witness key alone: ${verdict(checkpoint(logs.witnessed.note, [logs.witnessed.witnessVkey]), () => "accepted")}`
  )

  // tessera's tiled log: the checkpoint, the root read from the tile, every leaf's proof from the tile
  const tessera = checkpoint(logs.tessera.note, [logs.tessera.vkey])
  out.push(`tessera: ${verdict(tessera, (v) => `${v.signers.join(",")} ${v.checkpoint.size}`)}`)
  if (Either.isRight(tessera)) {
    const { root, size } = tessera.right.checkpoint
    const tile = bytes(logs.tessera.tileHex)
    const read: Tiles.TileReader = (level, index, width) =>
      level === 0 && index === 0n && width * Merkle.HASH_BYTES === tile.length ? tile : undefined
    out.push(
      `tessera root from tiles: ${
        verdict(Tiles.rootFromTiles(read, size), (r) => hex(r) === hex(root) ? "ok" : "differs")
      }`
    )
    const entries = Either.getOrThrow(Tiles.parseEntryBundle(bytes(logs.tessera.entriesHex), Number(size)))
    const source = Tiles.nodeSource(read, size)
    const verdicts = entries.map((entry, i) =>
      verdict(
        Either.flatMap(
          Merkle.inclusionProof(source, BigInt(i), size),
          (proof) => Merkle.verifyInclusion(Merkle.hashLeaf(entry), BigInt(i), size, proof, root)
        ),
        () => "ok"
      )
    )
    out.push(`tessera inclusion of ${entries.length} entries: ${[...new Set(verdicts)].join(",")}`)
  }
  return out
}
