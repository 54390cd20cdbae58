/**
 * The `calybris` CLI on a real PostgreSQL server (`--database URL` / `CALYBRIS_DATABASE_URL`), run as
 * the shipped bundle in child processes (`test/e2e/support/cli.ts`), on a fresh database per file:
 * `budget migrate`, every ledger command on the database, the URL kept secret in every output and
 * every failure (a wrong password, an unreachable port, a bad URL, a missing database), a database
 * not migrated, and two processes reserving from one tenant at once.
 *
 * Every URL given to the CLI here carries a password (the test server trusts, so it is ignored
 * there): no output may contain it.
 */
import * as Json from "@calybris/core/Json"
import * as Postgres from "@calybris/testing/Postgres"
import { assert, describe, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as net from "node:net"
import * as path from "node:path"
import { calybris, mapLimit, type Result, tempDir, write } from "../e2e/support/cli.js"
import { inputLine, policyText } from "../e2e/support/fixtures.js"

/** The password every URL of this file carries: never printed. */
const SECRET = "Sup3r-S3cret-pw"

const withPassword = (url: string, password = SECRET): string => {
  const parsed = new URL(url)
  parsed.password = password
  return parsed.toString()
}

const run = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  Effect.promise(() => calybris(args, { env: { CALYBRIS_DATABASE_URL: "", ...env } }))

/** Nothing the CLI printed holds the password or the URL. */
const secretKept = (r: Result, url: string) => {
  for (const [name, text] of [["stdout", r.stdout], ["stderr", r.stderr]] as const) {
    assert.notInclude(text, SECRET, `${name} holds the password`)
    assert.notInclude(text, url, `${name} holds the URL`)
    assert.notInclude(text, encodeURIComponent(SECRET), `${name} holds the password`)
  }
}

const ok = (r: Result, what: string) => assert.strictEqual(r.code, 0, `${what}: ${r.stderr}`)

const json = (text: string): Json.Json => Either.getOrThrow(Json.parse(text.trim()))
const member = (value: Json.Json | undefined, key: string): Json.Json | undefined =>
  value !== undefined && Json.isObject(value) ? value.get(key) : undefined

/**
 * A stand-in server that speaks just enough of PostgreSQL's protocol to ask for a password and
 * refuse it as a real server refuses a wrong one (ErrorResponse, SQLSTATE 28P01); the test
 * server trusts every login, so it cannot refuse one. Resolves to its port and what it received.
 */
const refusingServer = Effect.acquireRelease(
  Effect.async<{ readonly port: number; readonly received: Array<Buffer>; readonly server: net.Server }>((resume) => {
    const received: Array<Buffer> = []
    const server = net.createServer((socket) => {
      socket.on("error", () => undefined)
      socket.once("data", (startup) => {
        received.push(startup)
        socket.write(Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 3])) // AuthenticationCleartextPassword
        socket.once("data", (password) => {
          received.push(password)
          const fields = "SFATAL\0VFATAL\0C28P01\0Mpassword authentication failed for user \"postgres\"\0\0"
          const message = Buffer.alloc(5 + Buffer.byteLength(fields))
          message.write("E", 0)
          message.writeInt32BE(4 + Buffer.byteLength(fields), 1)
          message.write(fields, 5)
          socket.end(message)
        })
      })
    })
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      resume(
        Effect.succeed({ port: typeof address === "object" && address !== null ? address.port : 0, received, server })
      )
    })
  }),
  ({ server }) => Effect.async<void>((resume) => void server.close(() => resume(Effect.void)))
)

/** A port nobody listens on (bound, then closed). */
const closedPort = Effect.async<number>((resume) => {
  const server = net.createServer()
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    server.close(() => resume(Effect.succeed(port)))
  })
})

describe.skipIf(Postgres.skip())("calybris budget on PostgreSQL", () => {
  layer(Postgres.layerDatabase, { timeout: "120 seconds", excludeTestServices: true })((it) => {
    it.effect("budget migrate migrates once; every ledger command then runs on the database, retries included", () =>
      Effect.gen(function*() {
        const db = yield* Postgres.TestDatabase
        const url = withPassword(db.url)
        const target = `${new URL(db.url).host}/${db.name}`

        const first = yield* run(["budget", "migrate", "--database", url])
        ok(first, "migrate")
        assert.match(
          first.stdout,
          new RegExp(`^${target.replaceAll(".", "\\.")}: applied \\d+ migrations?\\n  1 ledger\\n`)
        )
        secretKept(first, url)
        // idempotent: nothing pending, from the flag or from the environment
        const again = yield* run(["budget", "migrate", "--json"], { CALYBRIS_DATABASE_URL: url })
        ok(again, "migrate again")
        assert.strictEqual(Json.print(member(json(again.stdout), "applied") ?? null), "[]")
        assert.strictEqual(member(json(again.stdout), "target"), target)
        const tables = yield* Postgres.psql(
          "SELECT count(*) FROM calybris_budget_migrations",
          db.url
        )
        assert.isAbove(Number(tables), 0)

        const d = ["--database", url]
        ok(yield* run(["budget", "ensure", ...d, "--tenant", "acme", "--amount", "1000"]), "ensure")
        const reserve = ["budget", "reserve", ...d, "--tenant", "acme", "--amount", "300", "--id", "r-1", "--json"]
        const reserved = yield* run(reserve)
        ok(reserved, "reserve")
        assert.strictEqual(
          reserved.stdout,
          "{\"kind\":\"Reserved\",\"remaining_microcents\":700,\"reservation_id\":1}\n"
        )
        // a retry under the same id, from another process: the first result, nothing held twice
        const retried = yield* run(reserve)
        assert.strictEqual(retried.stdout, reserved.stdout)
        const committed = yield* run(["budget", "commit", ...d, "--reservation", "1", "--amount", "200", "--json"])
        ok(committed, "commit")
        assert.strictEqual(
          committed.stdout,
          "{\"kind\":\"Committed\",\"remaining_microcents\":800,\"actual_microcents\":200}\n"
        )
        // the database's own rows say the same
        assert.strictEqual(
          yield* Postgres.psql(
            "SELECT remaining || ' ' || reserved || ' ' || committed FROM calybris_budget_tenants",
            db.url
          ),
          "800 0 200"
        )
        const status = yield* run(["budget", "status", "acme", "--json"], { CALYBRIS_DATABASE_URL: url })
        ok(status, "status")
        assert.strictEqual(member(json(status.stdout), "remaining_microcents"), 800)
        const proof = yield* run(["budget", "prove", ...d])
        ok(proof, "prove")
        assert.match(proof.stdout, /^balanced: 1 tenant, 0 open reservations, total initial 1,000, total committed 200/)
        const missing = yield* run(["budget", "status", ...d, "nobody"])
        assert.strictEqual(missing.code, 2)
        assert.include(missing.stderr, "no tenant nobody in the database")
        for (const r of [reserved, retried, committed, status, proof, missing]) secretKept(r, url)
      }))

    it.effect("every budget command prints on the database exactly what it prints on a journal", () =>
      Effect.gen(function*() {
        const db = yield* Postgres.TestDatabase
        const url = withPassword(db.url)
        const dir = tempDir("pg-same")
        const policy = write(dir, "policy.json", policyText)
        const input = write(dir, "input.json", inputLine())
        const journal = path.join(dir, "ledger.jsonl")
        ok(yield* run(["budget", "init", "--journal", journal]), "init")
        // (a fresh tenant: the database is shared with the test before)
        const t = "same-\u00e9"
        const script: ReadonlyArray<ReadonlyArray<string>> = [
          ["ensure", "--tenant", t, "--amount", "9007199254740993"],
          ["cap", "--tenant", t, "--max", "600000"],
          ["reserve", "--tenant", t, "--amount", "500000", "--id", "same-1", "--expires", "1 hour"],
          ["reserve", "--tenant", t, "--amount", "500000", "--id", "same-1", "--expires", "1 hour"],
          ["reserve", "--tenant", t, "--amount", "200000"],
          ["reserve", "--tenant", "nobody", "--amount", "1", "--id", "same-2"],
          ["status", t],
          ["commit", "--reservation", "RID", "--amount", "450000", "--id", "same-3"],
          ["release", "--reservation", "RID"],
          ["top-up", "--tenant", t, "--amount", "9223372036854775807"],
          ["top-up", "--tenant", t, "--amount", "7", "--id", "same-4"],
          ["admit", "--policy", policy, "--input", input, "--tenant", t, "--id", "same-5"],
          ["status", t]
        ]
        const outputs = (ledger: ReadonlyArray<string>) =>
          Effect.gen(function*() {
            const out: Array<string> = []
            let rid = ""
            for (const line of script) {
              for (const json of [["--json"], []]) {
                if (json.length === 0 && line[0] !== "status") continue
                const args = ["budget", ...line.map((a) => (a === "RID" ? rid : a)), ...ledger, ...json]
                const r = yield* run(args)
                ok(r, args.join(" "))
                secretKept(r, url)
                if (rid === "") {
                  const id = member(
                    json.length > 0 ? Either.getOrElse(Json.parse(r.stdout), () => null) : null,
                    "reservation_id"
                  )
                  if (typeof id === "number") rid = String(id)
                }
                out.push(`${line.join(" ")}${json.join("")}\n${r.stdout}`)
              }
            }
            return out
          })
        const [onJournal, onDatabase] = yield* Effect.all([
          outputs(["--journal", journal]),
          Effect.zipRight(
            Effect.flatMap(run(["budget", "migrate", "--database", url]), (r) => Effect.sync(() => ok(r, "migrate"))),
            outputs(["--database", url])
          )
        ], { concurrency: 2 })
        // reservation ids are the ledger's own (the database's sequence is shared with the test before)
        // (and the instant a hold expires is an hour after its reserve ran)
        const neutral = (lines: ReadonlyArray<string>) =>
          lines.map((l) =>
            l.replace(/"reservation_id":\d+/g, "\"reservation_id\":N").replace(/(--reservation|hold) \d+/g, "$1 N")
              .replace(/expires at [0-9T:.Z-]+/g, "expires at T")
          )
        assert.deepStrictEqual(neutral(onDatabase), neutral(onJournal))
        assert.include(onJournal.join(""), "\"kind\":\"Admitted\"")
      }))

    it.effect("two processes reserving on one tenant at once never overspend", () =>
      Effect.gen(function*() {
        const db = yield* Postgres.TestDatabase
        const url = withPassword(db.url)
        ok(yield* run(["budget", "migrate", "--database", url]), "migrate")
        ok(
          yield* run(["budget", "ensure", "--database", url, "--tenant", "hot", "--amount", "1000"]),
          "ensure"
        )
        // 16 reserves of 100 on 1,000, always two processes at once; each id tried twice
        const ids = Array.from({ length: 16 }, (_, i) => `hot-${i % 12}`)
        const results = yield* Effect.promise(() =>
          mapLimit(ids, 2, (id) =>
            calybris(["budget", "reserve", "--tenant", "hot", "--amount", "100", "--id", id, "--json"], {
              env: { CALYBRIS_DATABASE_URL: url }
            }))
        )
        const byId = new Map<string, string>()
        for (const [i, r] of results.entries()) {
          ok(r, `reserve ${ids[i]}`)
          secretKept(r, url)
          const id = ids[i] ?? ""
          // a retried id answers what it answered first
          if (byId.has(id)) {
            assert.strictEqual(r.stdout, byId.get(id), id)
          }
          byId.set(id, r.stdout)
        }
        const kinds = [...byId.values()].map((line) =>
          member(json(line), "kind")
        )
        assert.strictEqual(
          kinds.filter((k) =>
            k === "Reserved"
          ).length,
          10
        )
        assert.strictEqual(kinds.filter((k) => k === "Insufficient").length, 2)
        assert.strictEqual(
          yield* Postgres.psql(
            `SELECT t.remaining || ' ' || t.reserved || ' ' || (SELECT count(*) || ' ' || sum(amount) FROM calybris_budget_reservations r WHERE r.tenant = t.tenant AND state = 'open') FROM calybris_budget_tenants t WHERE t.tenant = convert_to('hot', 'UTF8')`,
            db.url
          ),
          "0 1000 10 1000"
        )
      }))
  })

  layer(Postgres.layerDatabase, { timeout: "120 seconds", excludeTestServices: true })((it) => {
    it.effect("a database not migrated: SchemaOutdated, telling to run budget migrate; nothing created", () =>
      Effect.gen(function*() {
        const db = yield* Postgres.TestDatabase
        const url = withPassword(db.url)
        for (
          const args of [
            ["budget", "reserve", "--database", url, "--tenant", "acme", "--amount", "1"],
            ["budget", "status", "--database", url]
          ]
        ) {
          const r = yield* run(args)
          assert.strictEqual(r.code, 1, r.stderr)
          assert.strictEqual(r.stdout, "")
          assert.match(r.stderr, /^SchemaOutdated: .*run `calybris budget migrate`\n$/)
          secretKept(r, url)
        }
        assert.strictEqual(
          yield* Postgres.psql("SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace", db.url),
          "0"
        )
      }))

    it.scoped("the URL is never printed: wrong password, unreachable port, bad URL, missing database, --help", () =>
      Effect.gen(function*() {
        const db = yield* Postgres.TestDatabase
        const server = yield* refusingServer
        const port = yield* closedPort
        const host = new URL(db.url).host
        const cases: ReadonlyArray<{ url: string; code: number; line: RegExp }> = [
          {
            url: `postgres://postgres:${SECRET}@127.0.0.1:${server.port}/ledger`,
            code: 1,
            line: new RegExp(
              `^DatabaseError: reserve on 127\\.0\\.0\\.1:${server.port}/ledger failed: authentication failed: password authentication failed for user "postgres"$`
            )
          },
          {
            url: `postgres://postgres:${SECRET}@127.0.0.1:${port}/ledger`,
            code: 1,
            line: new RegExp(`^DatabaseError: reserve on 127\\.0\\.0\\.1:${port}/ledger failed: connection refused`)
          },
          {
            url: withPassword(`postgres://postgres@${host}/no_such_database`),
            code: 1,
            line: new RegExp(`failed: database "no_such_database" does not exist \\(SQLSTATE 3D000\\)$`)
          },
          {
            url: `postgres://postgres:${SECRET}@[::1/ledger`,
            code: 2,
            line: /^UsageError: --database: not a valid URL \(expected postgres:\/\/.*the value is not shown/
          },
          {
            // an unencoded / in the password ends the host early: the password would pass for the database
            url: `postgres://postgres:/${SECRET}@${host}/ledger`,
            code: 2,
            line: /^UsageError: --database: an @ after the host \(percent-encode/
          },
          {
            url: `https://postgres:${SECRET}@example.com/ledger`,
            code: 2,
            line: /^UsageError: --database: not a PostgreSQL URL/
          }
        ]
        // each case three ways at once: text, --json, and the URL from the environment
        yield* Effect.forEach(cases, (c) =>
          Effect.gen(function*() {
            const reserve = ["budget", "reserve", "--database", c.url, "--tenant", "acme", "--amount", "1"]
            const [text, asJson, fromEnv] = yield* Effect.all([
              run(reserve),
              run([...reserve, "--json"]),
              run(["budget", "status"], { CALYBRIS_DATABASE_URL: c.url })
            ], { concurrency: 3 })
            for (const r of [text, asJson, fromEnv]) {
              assert.strictEqual(r?.code, c.code, `${c.url}: ${r.stderr}`)
              assert.strictEqual(r.stdout, "")
              assert.strictEqual(r.stderr.split("\n").filter((l) => l !== "").length, 1, r.stderr)
              secretKept(r, c.url)
            }
            assert.match(text.stderr.trimEnd(), c.line)
            assert.strictEqual(member(member(json(asJson.stderr), "error"), "exit_code"), c.code)
          }))
        // the stand-in was asked, and was sent the password: the refusal was a real one
        assert.isTrue(server.received.some((b) => b.includes(SECRET)))

        // flags naming two ledgers, key flags with a database: usage errors that do not echo the URL
        const url = withPassword(db.url)
        for (
          const args of [
            ["budget", "reserve", "--journal", "j.jsonl", "--database", url, "--tenant", "a", "--amount", "1"],
            ["budget", "reserve", "--database", url, "--key-env", "K", "--tenant", "a", "--amount", "1"],
            ["budget", "reserve", "--database", url, "--tenant", "a", "--amount", "-1"]
          ]
        ) {
          const r = yield* run(args)
          assert.strictEqual(r.code, 2, r.stderr)
          secretKept(r, url)
        }
        // neither flag nor variable
        const none = yield* run(["budget", "status"])
        assert.strictEqual(none.code, 2)
        assert.include(none.stderr, "give --journal FILE")
        // help never shows the variable's value
        const help = yield* run(["budget", "reserve", "--help"], { CALYBRIS_DATABASE_URL: url })
        ok(help, "help")
        assert.include(help.stdout, "--database URL")
        secretKept(help, url)
      }))
  })
  layer(Postgres.layerDatabase, { timeout: "120 seconds", excludeTestServices: true })((it) => {
    it.effect("calybris demo --database: the ledger part on the database (migrated first), the same ledger as on a journal", () =>
      Effect.gen(function*() {
        const db = yield* Postgres.TestDatabase
        const url = withPassword(db.url)
        // the folders the demos make (no --dir: in the temp folder) inside one this file removes
        const tmp = { TMPDIR: tempDir("pg-demo") }
        const [onDatabase, onJournal] = yield* Effect.all([
          run(["demo", "--database", url, "--json"], tmp),
          run(["demo", "--json"], tmp)
        ], { concurrency: 2 })
        ok(onDatabase, "demo --database")
        ok(onJournal, "demo")
        secretKept(onDatabase, url)
        const [a, b] = [json(onDatabase.stdout), json(onJournal.stdout)]
        assert.strictEqual(member(a, "database"), `${new URL(db.url).host}/${db.name}`)
        assert.strictEqual(member(a, "journal"), null)
        // every decision, hold and settlement, and the proof (ledger digest included), as on the journal
        for (const key of ["scenarios", "conservation"]) {
          assert.strictEqual(Json.print(member(a, key) ?? null), Json.print(member(b, key) ?? null), key)
        }
        assert.strictEqual(
          yield* Postgres.psql("SELECT count(*) FROM calybris_budget_tenants", db.url),
          "3"
        )
        // once per database: a second run is refused before it changes anything
        const again = yield* run(["demo", "--database", url], tmp)
        assert.strictEqual(again.code, 2, again.stderr)
        assert.include(again.stderr, "already holds the demo's tenants")
        secretKept(again, url)
        const proof = yield* run(["budget", "prove", "--json"], { CALYBRIS_DATABASE_URL: url })
        ok(proof, "prove")
        // (a later proof takes the next snapshot version, so its digest differs; its totals do not)
        for (
          const key of ["tenant_count", "active_reservations", "total_initial_microcents", "total_committed_microcents"]
        ) {
          assert.strictEqual(member(json(proof.stdout), key), member(member(b, "conservation"), key), key)
        }
      }))
  })
})
