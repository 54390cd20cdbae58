import * as Chain from "@calybris/wal/Chain"
import * as Reader from "@calybris/wal/Reader"
import * as Either from "effect/Either"
import * as fs from "node:fs"
const bytes = fs.readFileSync("/tmp/big/one.jsonl")
const chain = Either.getOrThrow(Chain.make({}))
let t = performance.now()
console.log(Either.isRight(Reader.verifyBytes(bytes, { chain })), "whole", performance.now() - t)
for (const size of [1 << 20, 64 << 10]) {
  t = performance.now()
  const r = new Reader.LineReader({ chain }, false)
  for (let i = 0; i < bytes.length; i += size) r.push(bytes.subarray(i, i + size))
  console.log(Either.isRight(r.end()), size, performance.now() - t)
}
