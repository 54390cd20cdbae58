/**
 * A fixed, varied set of journal entries (every command kind, optional members present and
 * absent, integers at the i64 / u64 / 2^53 edges, unicode, admits with and without a binding,
 * restores, checkpoints), built from a seeded generator so that the same entries can be encoded
 * by any version of the journal codec: `fixtures/journal-wire.jsonl` holds what the
 * hand-written codec (before the compiled one) wrote and read for them.
 */
import type * as Journal from "@calybris/budget/Journal"
import type * as LedgerState from "@calybris/budget/LedgerState"
import type * as Json from "@calybris/core/Json"

const MAX = (1n << 63n) - 1n

/** A small deterministic PRNG (mulberry32). */
const prng = (seed: number) => {
  let a = seed >>> 0
  return (): number => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}

const INTS: ReadonlyArray<bigint> = [
  0n,
  1n,
  -1n,
  42n,
  1_000_000n,
  (1n << 53n) - 1n,
  1n << 53n,
  -(1n << 53n),
  MAX,
  -MAX - 1n,
  (1n << 64n) - 1n
]
const STRINGS: ReadonlyArray<string> = ["a", "", "tenant-1", "é", "\u{1F600}", "quote\"back\\slash", "\u0000\u001f"]

const hex = (n: number) => n.toString(16).padStart(2, "0").repeat(32)

/** The journal entries of `seed`: groups of commands (each a `Journaled`) and states to checkpoint. */
export const journalCases = (seed: number, groups: number): Array<ReadonlyArray<Journal.Journaled>> => {
  const r = prng(seed)
  const pick = <A>(xs: ReadonlyArray<A>): A => xs[Math.floor(r() * xs.length)] as A
  const maybe = <A>(x: A): A | undefined => r() < 0.5 ? x : undefined
  const int = (): bigint => r() < 0.7 ? BigInt(Math.floor(r() * 2_000_000) - 1_000) : pick(INTS)
  const u64 = (): bigint => r() < 0.8 ? BigInt(Math.floor(r() * 1_000_000)) : pick([0n, (1n << 64n) - 1n, MAX + 1n])
  const str = (): string => pick(STRINGS)
  const optional = <K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> =>
    value === undefined ? {} : { [key]: value } as Record<K, V>
  const audited = (): Json.Json =>
    r() < 0.2 ? null : new Map<string, Json.Json>([
      [
        "audit",
        new Map<string, Json.Json>([
          ["policy_digest_hex", hex(Math.floor(r() * 256))],
          ["input_digest_hex", hex(Math.floor(r() * 256))],
          ["decision_digest_hex", hex(7)],
          ["replay_valid", true]
        ])
      ],
      ["metadata", new Map<string, Json.Json>([["n", Math.floor(r() * 100)], ["tag", str()]])]
    ])
  const snapshot = {
    tenants: [{
      tenant_id: "a",
      initial_microcents: 10n,
      remaining_microcents: 10n,
      reserved_microcents: 0n,
      committed_microcents: 0n
    }],
    version: 3n,
    active_reservations: 0n
  }
  const command = (): Journal.Journaled => {
    switch (Math.floor(r() * 13)) {
      case 0:
        return { command: { _tag: "EnsureTenant", tenant: str(), amount: int() } as LedgerState.Command }
      case 1:
        return {
          command: {
            _tag: "TopUp",
            tenant: str(),
            amount: int(),
            ...optional("operation_id", maybe(str()))
          } as LedgerState.Command
        }
      case 2:
        return { command: { _tag: "SetExposureCap", tenant: str(), max: int() } as LedgerState.Command }
      case 3:
      case 4: {
        const tag = r() < 0.5 ? "Reserve" : "Admit"
        const c = {
          _tag: tag,
          tenant: str(),
          amount: int(),
          ...optional("operation_id", maybe(str())),
          ...optional("ttl_ms", maybe(int())),
          ...optional("expires_at_ms", maybe(int()))
        } as LedgerState.Command
        return tag === "Admit" ? { command: c, audited: audited() } : { command: c }
      }
      case 5:
        return {
          command: {
            _tag: "Commit",
            reservation: u64(),
            actual: int(),
            ...optional("operation_id", maybe(str()))
          } as LedgerState.Command
        }
      case 6:
        return {
          command: {
            _tag: "Release",
            reservation: u64(),
            ...optional("operation_id", maybe(str()))
          } as LedgerState.Command
        }
      case 7:
        return { command: { _tag: "Expire", reservation: u64() } as LedgerState.Command }
      case 8:
        return { command: { _tag: "TakeSnapshot" } }
      case 9:
        return { command: { _tag: "VerifyConservation" } }
      case 10:
        return { command: { _tag: "ProveConservation" } }
      case 11:
        return { command: { _tag: "CertifyLedger" } }
      default:
        return { command: { _tag: "Restore", snapshot } as unknown as LedgerState.Command }
    }
  }
  const out: Array<ReadonlyArray<Journal.Journaled>> = []
  for (let g = 0; g < groups; g++) {
    const n = 1 + Math.floor(r() * 5)
    const group: Array<Journal.Journaled> = []
    for (let i = 0; i < n; i++) group.push(command())
    out.push(group)
  }
  return out
}

/** A value as text, bigints marked, object keys sorted (for comparing decoded commands across versions). */
export const show = (value: unknown): string =>
  JSON.stringify(value, (_, v: unknown) =>
    typeof v === "bigint"
      ? `${v}n`
      : v instanceof Map
      ? { map: [...(v as Map<string, unknown>)] }
      : v === undefined
      ? "<undefined>"
      : typeof v === "object" && v !== null && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0))
      : v)

/** Ledger states to checkpoint: built by commands (holds with and without expiry, caps, remembered ids). */
export const checkpointStates = (L: typeof LedgerState): Array<LedgerState.LedgerState> => {
  const states: Array<LedgerState.LedgerState> = [new L.LedgerState()]
  const s = new L.LedgerState()
  const commands: ReadonlyArray<LedgerState.Command> = [
    { _tag: "EnsureTenant", tenant: "a", amount: 1_000_000n },
    { _tag: "EnsureTenant", tenant: "é\u{1F600}", amount: (1n << 62n) },
    { _tag: "SetExposureCap", tenant: "a", max: 500_000n },
    { _tag: "Reserve", tenant: "a", amount: 1_000n, operation_id: "op-1", ttl_ms: 10n, expires_at_ms: 1_000n },
    { _tag: "Reserve", tenant: "é\u{1F600}", amount: 1n << 60n, operation_id: "op-2" },
    { _tag: "Reserve", tenant: "a", amount: 7n },
    { _tag: "Commit", reservation: 1n, actual: 600n, operation_id: "op-3" },
    { _tag: "TopUp", tenant: "a", amount: 5n, operation_id: "op-4" },
    { _tag: "Release", reservation: 3n, operation_id: "op-5" }
  ] as unknown as ReadonlyArray<LedgerState.Command>
  for (const c of commands) {
    L.step(s, c)
    states.push(s.clone())
  }
  const windowed = s.clone()
  windowed.operations.limit = 3
  states.push(windowed)
  return states
}
