/**
 * The Node layer of the tree log (as `WalNode` is the WAL's): provide it beside `FileSystem`
 * (`TreeLog.layerFile(path).pipe(Layer.provide(TreeLogNode.layer))`) and the tree's work moves to
 * a worker thread, one per open tree log:
 *
 * - hashing: each write of the log is copied to the worker as written (one copy a write, none a
 *   line; a line needed before its write, and the lines the open reads, are copied one by one);
 *   the worker computes the leaf hashes and the subtrees they complete and hands the tiles' nodes
 *   back in bulk. The bytes hashed are the writer's own, never the file read back;
 * - tile files: a flush's tiles and tree head are written by the worker with `node:fs` (each a
 *   temp file, fsynced when the log's durability asks, renamed; the head last), so a background
 *   flush never waits for a busy appending fiber to give the event loop a turn per file step.
 *
 * A head, a proof, a checkpoint or a flush first waits for the worker to catch up (without
 * blocking the thread; the worker is seldom more than a few thousand leaves behind), so every
 * answer and every file is the same as without this layer. An append is held, before its entry
 * is sealed, while `maxChunks` chunks are in flight (the WAL's `admit` answers `Wal.admitWait`:
 * the append waits without blocking the thread, then is asked again). A worker that stopped
 * (failed, exited, closed) or made no progress for `stallMillis` never answers wrongly and never
 * leaves an append half done: each append is refused before anything is sealed
 * (`WalAppendRefused` carrying `TreeLogHashingFailed`: a retry, once admitted, appends the record
 * once), and a head, proof, checkpoint or flush that needs the leaves it lacks fails with
 * `TreeLogHashingFailed`; the log still closes, and reopening it rebuilds the tree from the log
 * (the leaves of appends admitted while the worker was dying included). Without this layer the
 * tree log hashes on the appending thread and writes through `FileSystem` (portable; what fault
 * tests wrap). Needs `node:worker_threads` and `SharedArrayBuffer` (Node ≥ 20.19 has both).
 */
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import { TreeIo, type TreeIoShape } from "./internal/treeIo.js"
import type { TreeLogOptionsInvalid } from "./internal/treeLogErrors.js"
import { startWorker, type WorkerOptions, workerOptions } from "./internal/treeWorker.js"

export { TreeIo, type TreeIoShape } from "./internal/treeIo.js"
export type { WorkerOptions } from "./internal/treeWorker.js"

/**
 * The service, with the worker's buffers sized (tests: small chunks are handed over, and fill the
 * worker's queue, often); an option out of its range is refused (`TreeLogOptionsInvalid`, naming
 * it and its value), never clamped.
 */
export const make = (options: WorkerOptions = {}): Either.Either<TreeIoShape, TreeLogOptionsInvalid> =>
  Either.map(workerOptions(options), (checked) => ({ startHashing: startWorker(checked) }))

/** The tree log's hashing and tile writing on a worker thread (see the module's comment). */
export const layer: Layer.Layer<TreeIo> = Layer.succeed(TreeIo, Either.getOrThrow(make()))

/** `layer` with the worker's buffers sized; fails to build on an option out of its range. */
export const layerWith = (options: WorkerOptions): Layer.Layer<TreeIo, TreeLogOptionsInvalid> =>
  Layer.effect(TreeIo, make(options))
