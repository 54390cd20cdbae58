/**
 * A deliberately naive ledger for model-based tests: no incremental bookkeeping — `reserved`
 * is recomputed from the list of open holds every time, overflow is checked by comparing
 * against the i64 bounds after exact bigint arithmetic, and nothing is shared with the real
 * implementation but the spec.
 */
const MAX = (1n << 63n) - 1n
const MIN = -(1n << 63n)
const ok = (v: bigint) => v >= MIN && v <= MAX

interface Tenant {
  initial: bigint
  remaining: bigint
  committed: bigint
}

export class NaiveLedger {
  tenants: Array<{ id: string; t: Tenant }> = []
  holds: Array<{ id: bigint; tenant: string; amount: bigint }> = []
  caps: Array<{ tenant: string; max: bigint }> = []
  next = 1n
  version = 0n
  baseline = 0n

  find(id: string) {
    return this.tenants.find((x) => x.id === id)?.t
  }
  reservedOf(id: string) {
    return this.holds.filter((h) => h.tenant === id).reduce((a, h) => a + h.amount, 0n)
  }
  ensure(id: string, amount: bigint) {
    if (amount < 0n || this.find(id)) return null
    this.tenants.push({ id, t: { initial: amount, remaining: amount, committed: 0n } })
    return null
  }
  topUp(id: string, amount: bigint) {
    if (amount <= 0n) return { _tag: "InvalidAmount" }
    const t = this.find(id)
    if (!t) return { _tag: "MissingTenant" }
    if (!ok(t.initial + amount) || !ok(t.remaining + amount)) return { _tag: "Overflow" }
    t.initial += amount
    t.remaining += amount
    return {
      _tag: "ToppedUp",
      added_microcents: amount,
      new_initial_microcents: t.initial,
      remaining_microcents: t.remaining
    }
  }
  cap(id: string, max: bigint) {
    this.caps = this.caps.filter((c) => c.tenant !== id)
    if (max > 0n) this.caps.push({ tenant: id, max })
    return null
  }
  reserve(id: string, amount: bigint) {
    if (amount <= 0n) return { _tag: "Insufficient", remaining_microcents: 0n, required_microcents: amount }
    const t = this.find(id)
    if (!t) return { _tag: "MissingTenant" }
    const current = this.reservedOf(id)
    if (!ok(current + amount)) return { _tag: "Overflow", current_reserved_microcents: current }
    const cap = this.caps.find((c) => c.tenant === id)
    if (cap && current + amount > cap.max) {
      return { _tag: "ExposureLimitExceeded", current_reserved_microcents: current, max_reserved_microcents: cap.max }
    }
    if (t.remaining < amount) {
      return { _tag: "Insufficient", remaining_microcents: t.remaining, required_microcents: amount }
    }
    t.remaining -= amount
    const rid = this.next++
    this.holds.push({ id: rid, tenant: id, amount })
    return { _tag: "Reserved", reservation_id: rid, remaining_microcents: t.remaining }
  }
  commit(rid: bigint, actual: bigint) {
    if (actual < 0n) return { _tag: "InvalidAmount" }
    const h = this.holds.find((x) => x.id === rid)
    if (!h) return { _tag: "MissingReservation" }
    const t = this.find(h.tenant)
    if (!t) return { _tag: "MissingTenant" }
    if (!ok(t.committed + actual)) return { _tag: "Overflow", remaining_microcents: t.remaining }
    const after = t.remaining + h.amount - actual
    if (after < 0n) return { _tag: "Overrun", remaining_microcents: t.remaining }
    t.remaining = after
    t.committed += actual
    this.holds = this.holds.filter((x) => x.id !== rid)
    return { _tag: "Committed", remaining_microcents: t.remaining, actual_microcents: actual }
  }
  release(rid: bigint) {
    const h = this.holds.find((x) => x.id === rid)
    if (!h) return { _tag: "MissingReservation" }
    const t = this.find(h.tenant)
    if (!t) return { _tag: "MissingTenant" }
    t.remaining += h.amount
    this.holds = this.holds.filter((x) => x.id !== rid)
    return { _tag: "Released", remaining_microcents: t.remaining, returned_microcents: h.amount }
  }
  /** balances sorted by code point order of the ids */
  balances() {
    const cps = (s: string) => Array.from(s, (c) => c.codePointAt(0) ?? 0)
    const cmp = (a: string, b: string) => {
      const x = cps(a)
      const y = cps(b)
      for (let i = 0; i < Math.min(x.length, y.length); i++) {
        if (x[i] !== y[i]) return (x[i] ?? 0) - (y[i] ?? 0)
      }
      return x.length - y.length
    }
    return [...this.tenants].sort((a, b) => cmp(a.id, b.id)).map(({ id, t }) => ({
      tenant_id: id,
      initial_microcents: t.initial,
      remaining_microcents: t.remaining,
      reserved_microcents: this.reservedOf(id),
      committed_microcents: t.committed
    }))
  }
  snapshot() {
    this.version = BigInt.asUintN(64, this.version + 1n)
    return { version: this.version, tenants: this.balances(), active_reservations: BigInt(this.holds.length) }
  }
}
