/**
 * The tree log's optional Node service (`TreeLogNode.layer` provides it): where the tree's
 * hashing runs, and with it where the tiles are written. Without it the tree log hashes on the
 * appending thread and writes through `FileSystem` (portable; what fault tests wrap).
 */
import * as Context from "effect/Context"
import type { StartHashing } from "./treeHashing.js"

export interface TreeIoShape {
  /** starts each tree's hashing (see `treeHashing.ts`); a hashing with `files` also writes the tiles */
  readonly startHashing: StartHashing
}

export class TreeIo extends Context.Tag("@calybris/tlog/TreeIo")<TreeIo, TreeIoShape>() {}
