/**
 * Checkpointer crash test: a child (checkpointerChild.ts) signs a checkpoint after every append
 * and is SIGKILLed at random moments. After every kill the checkpoint file is a complete note
 * that verifies with the log's key, at a size no smaller than the last one the child
 * acknowledged, with the root of the history at that size; the next child restarts from it.
 */
import * as Source from "@calybris/testing/Source"
import * as Checkpoint from "@calybris/tlog/Checkpoint"
import * as Merkle from "@calybris/tlog/Merkle"
import * as Note from "@calybris/tlog/Note"
import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

const ROUNDS = Number(process.env["CRASH_ROUNDS"] ?? "3")
const child = path.join(import.meta.dirname, "checkpointerChild.ts")
const encoder = new TextEncoder()
const signer = Either.getOrThrow(Note.ed25519Signer("example.com/log", Redacted.make(new Uint8Array(32).fill(5))))
const vkey = Either.getOrThrow(Note.parseVerifierKey(Note.formatVerifierKey(signer)))

const rootOf = (size: bigint): Uint8Array => {
  const tree = new Merkle.MemoryTree()
  for (let i = 0n; i < size; i++) tree.append(Merkle.hashLeaf(encoder.encode(`{"n":${i}}`)))
  return Either.getOrThrow(Merkle.root(tree, size))
}

/** Runs a child from `start` until it acknowledged `acks` more checkpoints, waits `delay` ms, kills it. */
const crashRound = (file: string, start: bigint, acks: number, delay: number) =>
  new Promise<bigint>((resolve, reject) => {
    const proc = spawn(process.execPath, [...Source.nodeArgs, child, file, String(start)], {
      stdio: ["ignore", "pipe", "pipe"]
    })
    let acked = start
    let seen = 0
    let buffered = ""
    let err = ""
    proc.stdout.on("data", (chunk: Buffer) => {
      buffered += chunk.toString("utf8")
      const lines = buffered.split("\n")
      buffered = lines.pop() ?? ""
      for (const line of lines) {
        if (!line.startsWith("ACK ")) continue
        acked = BigInt(line.slice(4))
        if (++seen === acks) setTimeout(() => proc.kill("SIGKILL"), delay)
      }
    })
    proc.stderr.on("data", (chunk: Buffer) => (err += chunk.toString("utf8")))
    proc.on(
      "exit",
      (code, signal) => signal === "SIGKILL" ? resolve(acked) : reject(new Error(`child exited ${code}: ${err}`))
    )
  })

describe("Checkpointer: SIGKILL at random moments", () => {
  it("the checkpoint file is always a complete verifying note, never behind what was acknowledged", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "calybris-ckpt-crash-"))
    try {
      const file = path.join(dir, "checkpoint")
      let start = 0n
      for (let round = 0; round < ROUNDS; round++) {
        const acked = await crashRound(file, start, 5 + round * 7, (round * 3) % 5)
        const verified = Checkpoint.verifyCheckpoint(fs.readFileSync(file), [vkey], { origin: "example.com/log" })
        assert.isTrue(Either.isRight(verified), `round ${round}: ${String(Either.isLeft(verified) && verified.left)}`)
        const cp = Either.getOrThrow(verified).checkpoint
        assert.isAtLeast(Number(cp.size), Number(acked), `round ${round}`)
        assert.deepStrictEqual(cp.root, rootOf(cp.size))
        // no temp file is trusted: the next child overwrites it
        start = cp.size
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
