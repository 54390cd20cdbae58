/**
 * Progress of long reads on stderr — entries (lines), bytes, entries per second — redrawn at
 * most five times a second, and only when stderr is a terminal: piped or redirected, the CLI
 * is quiet. The line is cleared when the read ends.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as Format from "./Format.js"
import { Stdio } from "./Stdio.js"

const REDRAW_MS = 200

const mib = (bytes: number): string => `${(bytes / (1024 * 1024)).toFixed(1)} MiB`

/** Count the LF bytes of a chunk (one per entry of a JSONL log). */
const countLines = (chunk: Uint8Array): number => {
  let n = 0
  let i = chunk.indexOf(0x0a)
  while (i >= 0) {
    n++
    i = chunk.indexOf(0x0a, i + 1)
  }
  return n
}

/**
 * Wrap a byte stream so that reading it shows progress (`label`: what is being read). Each run
 * of the stream counts afresh.
 */
export const track = <E, R>(
  bytes: Stream.Stream<Uint8Array, E, R>,
  label: string
): Stream.Stream<Uint8Array, E, R | Stdio> =>
  Stream.unwrap(Effect.map(Stdio, (stdio) => {
    if (!stdio.stderrIsTTY) return bytes
    return Stream.suspend(() => {
      let lines = 0
      let total = 0
      let started = -1
      let drawn = 0
      let shown = false
      const draw = (now: number) => {
        const seconds = Math.max((now - started) / 1000, 0.001)
        return stdio.writeStderr(
          `\r\x1b[K${label}: ${Format.int(lines)} entries, ${mib(total)}, ${
            Format.int(Math.round(lines / seconds))
          } entries/s`
        )
      }
      return bytes.pipe(
        Stream.tap((chunk) =>
          Effect.flatMap(Clock.currentTimeMillis, (now) => {
            if (started < 0) {
              started = now
              drawn = now
            }
            lines += countLines(chunk)
            total += chunk.length
            if (now - drawn < REDRAW_MS) return Effect.void
            drawn = now
            shown = true
            return draw(now)
          })
        ),
        Stream.ensuring(Effect.suspend(() => (shown ? stdio.writeStderr("\r\x1b[K") : Effect.void)))
      )
    })
  }))
