/**
 * `PgUrl`: what may be shown of a PostgreSQL URL (host, port, database), and that nothing the
 * library builds from one — a refusal of the URL, a scrubbed driver message — carries the URL or
 * its password. `LedgerPg.layer` refuses such a URL before connecting (LedgerPg.test.ts); the CLI
 * wraps the same refusal as a usage error (packages/cli/test/Database.test.ts).
 */
import * as PgUrl from "@calybris/budget-pg/PgUrl"
import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as fc from "effect/FastCheck"
import * as Redacted from "effect/Redacted"
import { createRequire } from "node:module"

const parse = (text: string) => PgUrl.parse(Redacted.make(text))

describe("PgUrl", () => {
  it("names a URL's host, port and database, never its user or password", () => {
    assert.deepStrictEqual(
      Either.map(parse("postgres://gw:s3cret@db.example:6543/ledger"), PgUrl.targetText),
      Either.right("db.example:6543/ledger")
    )
    assert.deepStrictEqual(
      Either.map(parse("postgresql://gw@db2/ledger"), PgUrl.targetText),
      Either.right("db2:5432/ledger")
    )
  })

  it("names the host and port the driver connects to: the host and port parameters win, as pg-connection-string reads them (a hostile review)", () => {
    // the driver's own parser, reached through pg (whose dependency it is)
    const pgParse = createRequire(createRequire(import.meta.url).resolve("pg"))("pg-connection-string").parse as (
      text: string
    ) => { host: string | null; port: string | null }
    const text = fc.constantFrom("", "db.example", "127.0.0.1", "[::1]", "%2Frun%2Fpg")
    const param = fc.constantFrom(undefined, "", "/run/other", "other.host", "10.0.0.9")
    const port = fc.constantFrom(undefined, "", "1", "6543")
    fc.assert(
      fc.property(text, fc.constantFrom("", ":7777"), param, param, port, port, (host, own, h1, h2, p1, p2) => {
        const query = [["host", h1], ["host", h2], ["port", p1], ["port", p2]]
          .filter(([, v]) => v !== undefined)
          .map(([k, v]) => `${k}=${encodeURIComponent(v as string)}`)
          .join("&")
        const url = `postgres://u:pw@${host}${host === "" ? "" : own}/db${query === "" ? "" : `?${query}`}`
        const ours = parse(url)
        if (Either.isLeft(ours)) return
        const theirs = pgParse(url)
        const expectedHost = theirs.host === null || theirs.host === "" ? "localhost" : theirs.host
        assert.strictEqual(ours.right.host.replace(/^\[(.*)\]$/, "$1"), expectedHost, url)
        assert.strictEqual(ours.right.port, theirs.port === null || theirs.port === "" ? "5432" : theirs.port, url)
      }),
      { numRuns: fc.readConfigureGlobal().numRuns ?? 300 }
    )
    assert.deepStrictEqual(
      Either.map(parse("postgres://u:pw@127.0.0.1:1/db?host=/nonexist"), PgUrl.targetText),
      Either.right("/nonexist:1/db")
    )
  })

  it("refuses a URL that does not say what it means, without quoting it", () => {
    for (
      const [text, reason] of [
        ["", "empty"],
        ["not a url p4ss", "not a valid URL"],
        ["mysql://u:p4ss@h/db", "not a PostgreSQL URL"],
        // an unencoded `/` in the password ends the host early: `p4ss@h` would pass for the database
        ["postgres://u:/p4ss@h/db", "an @ after the host"]
      ] as const
    ) {
      const refused = parse(text)
      assert.isTrue(Either.isLeft(refused), text)
      if (Either.isLeft(refused)) {
        assert.strictEqual(refused.left._tag, "InvalidDatabaseUrl")
        assert.include(refused.left.message, reason)
        if (text !== "") assert.notInclude(refused.left.message, "p4ss")
      }
    }
  })

  it("scrubs the URL and every password in it (raw, decoded, ?password=, ?sslpassword=)", () => {
    const url = Redacted.make("postgres://gw:p%40ss@h/db?sslpassword=k3y&password=pw2")
    const text = `failed: postgres://gw:p%40ss@h/db?sslpassword=k3y&password=pw2 with p@ss, p%40ss, k3y, pw2`
    const scrubbed = PgUrl.scrub(url, text)
    for (const secret of ["p@ss", "p%40ss", "k3y", "pw2"]) assert.notInclude(scrubbed, secret)
    assert.include(scrubbed, "[redacted]")
  })

  /**
   * Every refusal message `parse` gives, one per reason (each a fixed text that quotes nothing of
   * the URL): a password that is a piece of them (`alue`, from "value") is in the message whatever
   * the URL, so it proves nothing either way.
   */
  const refusalTexts = ["", "not a url", "mysql://u:p@h/db", "postgres://u:/p@h/db"]
    .map((text) => Either.match(parse(text), { onLeft: (refused) => refused.message, onRight: () => "" }))
    .join("\n")

  it.prop(
    "a refusal never holds the URL or its password",
    [fc.string({ minLength: 4 }).filter((p) => !"postgres://".includes(p) && !refusalTexts.includes(p))],
    ([password]) => {
      for (const text of [`postgres://u:${password}@h/db`, `postgres://u:/${password}@h/db`, `x${password}`]) {
        const refused = parse(text)
        if (Either.isLeft(refused)) {
          assert.notInclude(refused.left.message, text)
          assert.notInclude(refused.left.message, password)
        }
      }
    }
  )
})
