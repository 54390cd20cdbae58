/**
 * The PostgreSQL ledger's per-tenant journal through the CLI, on a real server (a fresh database per
 * file): ledger commands given `--key-file`/`--key-env` with `--database` write HMAC-keyed entries;
 * `calybris budget journal export` writes a tenant's chain (stdout, or `--out FILE` atomically) that
 * `calybris wal verify --key-file` accepts and that fails without the key; `calybris budget journal
 * audit` checks every tenant (or one), and an entry edited in the database makes it exit 1 naming
 * the tenant and the sequence; an unknown tenant is a clear error; the key is never printed.
 */
import * as Postgres from "@calybris/testing/Postgres"
import * as Wal from "@calybris/wal/Wal"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { assert, describe, it, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { calybris, type Result, tempDir, write } from "../e2e/support/cli.js"

const dir = tempDir("pg-journal-cli")
/** A key whose bytes and hex must never be printed. */
const key = Uint8Array.from({ length: 32 }, (_, i) => (i * 37 + 11) & 0xff)
const keyHex = Buffer.from(key).toString("hex")
const keyFile = write(dir, "fleet.key", `hex:${keyHex}\n`)
const otherKeyFile = write(dir, "other.key", `hex:${"ab".repeat(32)}\n`)
const emptyKeyFile = write(dir, "empty.key", "")

const run = (args: ReadonlyArray<string>, env: Record<string, string> = {}, cwd?: string) =>
  Effect.promise(() => calybris(args, { env: { CALYBRIS_DATABASE_URL: "", ...env }, cwd }))

const ok = (r: Result, what: string) => assert.strictEqual(r.code, 0, `${what}: ${r.stderr}`)

/** Nothing the CLI printed holds the key (hex, either case, or its raw bytes as latin1/UTF-8). */
const keyKept = (r: Result) => {
  for (const [name, text] of [["stdout", r.stdout], ["stderr", r.stderr]] as const) {
    assert.notInclude(text.toLowerCase(), keyHex, `${name} holds the key`)
    assert.notInclude(text, Buffer.from(key).toString("latin1").slice(4, 20), `${name} holds the key's bytes`)
  }
}

/** A tenant id as a bytea literal for psql. */
const tenantBytes = (tenant: string) => `convert_to('${tenant.replaceAll("'", "''")}', 'UTF8')`

describe.skipIf(Postgres.skip())("calybris budget journal on PostgreSQL", () => {
  layer(Postgres.layerDatabase, { timeout: "120 seconds", excludeTestServices: true })((it) => {
    it.effect("keyed ledger commands, export verified offline with the key (not without), audit, tampering named", () =>
      Effect.gen(function*() {
        const db = yield* Postgres.TestDatabase
        const d = ["--database", db.url]
        ok(yield* run(["budget", "migrate", ...d]), "migrate")
        const k = ["--key-file", keyFile]
        const steps: ReadonlyArray<ReadonlyArray<string>> = [
          ["budget", "ensure", ...d, ...k, "--tenant", "acme", "--amount", "1000"],
          ["budget", "cap", ...d, ...k, "--tenant", "acme", "--max", "600"],
          ["budget", "reserve", ...d, ...k, "--tenant", "acme", "--amount", "300", "--id", "r-1"],
          ["budget", "commit", ...d, ...k, "--reservation", "1", "--amount", "200"],
          ["budget", "top-up", ...d, ...k, "--tenant", "acme", "--amount", "50", "--id", "t-1"],
          // the key from the environment: the same chain
          ["budget", "ensure", ...d, "--key-env", "FLEET_KEY", "--tenant", "beta", "--amount", "10"],
          ["budget", "reserve", ...d, "--key-env", "FLEET_KEY", "--tenant", "beta", "--amount", "20", "--id", "b-1"]
        ]
        for (const step of steps) {
          const r = yield* run(step, { FLEET_KEY: `hex:${keyHex}` })
          ok(r, step.join(" "))
          keyKept(r)
        }

        // export to stdout: a keyed WAL the verifier accepts with the key only
        const exported = yield* run(["budget", "journal", "export", ...d, "--tenant", "acme"])
        ok(exported, "export")
        assert.strictEqual(exported.stdout.split("\n").filter((l) => l !== "").length, 5)
        const file = write(dir, "acme.jsonl", exported.stdout)
        const verified = yield* run(["wal", "verify", file, "--key-file", keyFile])
        ok(verified, "verify with the key")
        assert.match(verified.stdout, /^ok: 5 entries verified \(HMAC-SHA256\), /)
        const unkeyed = yield* run(["wal", "verify", file])
        assert.strictEqual(unkeyed.code, 1)
        assert.match(unkeyed.stderr, /WalChainBroken: WAL chain broken at sequence 1: /)
        const wrong = yield* run(["wal", "verify", file, "--key-file", otherKeyFile])
        assert.strictEqual(wrong.code, 1)

        // export to a file: the same bytes
        const out = path.join(dir, "acme-out.jsonl")
        const toFile = yield* run(["budget", "journal", "export", ...d, "--tenant", "acme", "--out", out])
        ok(toFile, "export --out")
        assert.strictEqual(
          toFile.stdout,
          `exported 5 entries of tenant acme to ${out} (${exported.stdout.length.toLocaleString("en-US")} bytes)\n`
        )
        assert.strictEqual(fs.readFileSync(out, "utf8"), exported.stdout)
        // `--out -`: standard output, as without --out; no file named "-"
        const cwd = fs.mkdtempSync(path.join(dir, "export-dash-"))
        const toDash = yield* run(["budget", "journal", "export", ...d, "--tenant", "acme", "--out", "-"], {}, cwd)
        ok(toDash, "export --out -")
        assert.strictEqual(toDash.stdout, exported.stdout)
        assert.deepStrictEqual(fs.readdirSync(cwd), [])

        // audit: every tenant, one line each, keyed
        const audited = yield* run(["budget", "journal", "audit", ...d, ...k])
        ok(audited, "audit")
        keyKept(audited)
        const lines = audited.stdout.trimEnd().split("\n")
        assert.strictEqual(lines.length, 2, audited.stdout)
        assert.match(lines[0] ?? "", /^ok: tenant acme: 5 entries \(HMAC-SHA256\), last hash [0-9a-f]{64}$/)
        assert.match(lines[1] ?? "", /^ok: tenant beta: 2 entries \(HMAC-SHA256\), last hash [0-9a-f]{64}$/)
        const one = yield* run([
          "budget",
          "journal",
          "audit",
          ...d,
          "--key-env",
          "FLEET_KEY",
          "--tenant",
          "beta",
          "--json"
        ], {
          FLEET_KEY: `hex:${keyHex}`
        })
        ok(one, "audit one --json")
        assert.match(
          one.stdout,
          /^\{"tenant":"beta","ok":true,"entries":2,"last_hash":"[0-9a-f]{64}","chain":"HMAC-SHA256"\}\n$/
        )
        // without the key the chain does not verify: exit 1, naming the tenant and sequence 1
        const noKey = yield* run(["budget", "journal", "audit", ...d])
        assert.strictEqual(noKey.code, 1, noKey.stderr)
        assert.match(noKey.stderr, /JournalAuditFailed: journal audit failed for tenant "acme" at sequence 1: /)

        // one entry edited in the database: audit names the tenant and its sequence
        yield* Postgres.psql(
          `UPDATE calybris_budget_journal SET entry = convert_to(replace(convert_from(entry, 'UTF8'), '"amount":300', '"amount":301'), 'UTF8')
            WHERE tenant = ${tenantBytes("acme")} AND seq = 3`,
          db.url
        )
        const tampered = yield* run(["budget", "journal", "audit", ...d, ...k])
        assert.strictEqual(tampered.code, 1, tampered.stderr)
        keyKept(tampered)
        assert.strictEqual(tampered.stdout, "")
        assert.match(tampered.stderr, /^JournalAuditFailed: journal audit failed for tenant "acme" at sequence 3: /m)
        const json = yield* run(["budget", "journal", "audit", ...d, ...k, "--json"])
        assert.strictEqual(json.code, 1)
        assert.include(json.stderr, `"_tag":"JournalAuditFailed"`)
        assert.include(json.stderr, `"tenant":"acme","seq":3`)
        // the other tenant still audits alone
        ok(yield* run(["budget", "journal", "audit", ...d, ...k, "--tenant", "beta"]), "audit beta")
        // and the export shows the edit, which the offline verifier finds at that sequence
        const again = yield* run(["budget", "journal", "export", ...d, "--tenant", "acme"])
        ok(again, "export tampered")
        const broken = yield* run(["wal", "verify", write(dir, "acme-tampered.jsonl", again.stdout), ...k])
        assert.strictEqual(broken.code, 1)
        assert.match(broken.stderr, /WAL chain broken at sequence 3: /)
      }))

    it.effect("audit names tenant and sequence for a wrong key, a deleted entry, bytes that are not UTF-8 and an entry the writer never writes", () =>
      Effect.gen(function*() {
        const db = yield* Postgres.TestDatabase
        const d = ["--database", db.url]
        const k = ["--key-file", keyFile]
        ok(yield* run(["budget", "migrate", ...d]), "migrate")
        for (const tenant of ["t-del", "t-utf"]) {
          ok(yield* run(["budget", "ensure", ...d, ...k, "--tenant", tenant, "--amount", "100"]), "ensure")
          for (const n of [1, 2, 3]) {
            ok(yield* run(["budget", "top-up", ...d, ...k, "--tenant", tenant, "--amount", `${n}`]), "top-up")
          }
        }
        const audit = (args: ReadonlyArray<string>) => run(["budget", "journal", "audit", ...d, ...args])
        // another key: the first entry does not verify; a hint, never the key
        const wrong = yield* audit(["--key-file", otherKeyFile, "--tenant", "t-del"])
        assert.strictEqual(wrong.code, 1, wrong.stderr)
        keyKept(wrong)
        assert.include(wrong.stderr, "hint: the first entry does not verify under this key")
        assert.match(
          wrong.stderr,
          /JournalAuditFailed: journal audit failed for tenant "t-del" at sequence 1: WalChainBroken: /
        )

        // an entry deleted from the middle of a chain
        yield* Postgres.psql(
          `DELETE FROM calybris_budget_journal WHERE tenant = ${tenantBytes("t-del")} AND seq = 2`,
          db.url
        )
        const deleted = yield* audit([...k, "--tenant", "t-del"])
        assert.strictEqual(deleted.code, 1, deleted.stderr)
        assert.match(deleted.stderr, /JournalAuditFailed: journal audit failed for tenant "t-del" at sequence 2: /)
        assert.strictEqual(deleted.stdout, "")

        // an entry whose bytes are no longer UTF-8
        yield* Postgres.psql(
          `UPDATE calybris_budget_journal SET entry = entry || '\\xff'::bytea WHERE tenant = ${
            tenantBytes("t-utf")
          } AND seq = 3`,
          db.url
        )
        const utf = yield* audit([...k, "--tenant", "t-utf"])
        assert.strictEqual(utf.code, 1, utf.stderr)
        assert.match(utf.stderr, /JournalAuditFailed: journal audit failed for tenant "t-utf" at sequence 3: /)
        // stdout is text: the export says to use --out, which writes the bytes as stored
        const toStdout = yield* run(["budget", "journal", "export", ...d, "--tenant", "t-utf"])
        assert.strictEqual(toStdout.code, 2, toStdout.stderr)
        assert.strictEqual(toStdout.stdout, "")
        assert.include(toStdout.stderr, "--out FILE")
        const out = path.join(dir, "t-utf.jsonl")
        ok(yield* run(["budget", "journal", "export", ...d, "--tenant", "t-utf", "--out", out]), "export --out")
        const bytes = fs.readFileSync(out)
        assert.strictEqual(bytes.filter((b) => b === 0xff).length, 1)
        const verified = yield* run(["wal", "verify", out, ...k])
        assert.strictEqual(verified.code, 1)
        assert.match(verified.stderr, /line 3/)

        // an entry the writer never writes (a refusal under an empty operation id), appended by a
        // key holder through the schema's own function: the chain verifies, the audit refuses it
        ok(yield* run(["budget", "ensure", ...d, ...k, "--tenant", "t-forged", "--amount", "100"]), "ensure")
        ok(yield* run(["budget", "top-up", ...d, ...k, "--tenant", "t-forged", "--amount", "1"]), "top-up")
        const forged =
          `{"v":1,"command":{"kind":"reserve","tenant_id":"t-forged","amount":5000,"operation_id":""},"result":{"_tag":"Insufficient","remaining_microcents":101,"required_microcents":5000}}`
        yield* Postgres.psql(
          `SELECT calybris_budget_journal_append(${
            tenantBytes("t-forged")
          }, convert_to('${forged}', 'UTF8'), decode('${keyHex}', 'hex'))`,
          db.url
        )
        const exportedForged = path.join(dir, "t-forged.jsonl")
        ok(yield* run(["budget", "journal", "export", ...d, "--tenant", "t-forged", "--out", exportedForged]), "export")
        ok(yield* run(["wal", "verify", exportedForged, ...k]), "the forged chain verifies")
        const refused = yield* audit([...k, "--tenant", "t-forged"])
        assert.strictEqual(refused.code, 1, refused.stderr)
        assert.strictEqual(refused.stdout, "")
        keyKept(refused)
        assert.match(refused.stderr, /JournalAuditFailed: journal audit failed for tenant "t-forged" at sequence 3: /)
        assert.include(refused.stderr, "invalid operationId")
      }))

    it.effect("an unknown tenant is a clear error; --out is never half-written; key flags are checked", () =>
      Effect.gen(function*() {
        const db = yield* Postgres.TestDatabase
        const d = ["--database", db.url]
        ok(yield* run(["budget", "migrate", ...d]), "migrate")
        ok(yield* run(["budget", "ensure", ...d, "--key-file", keyFile, "--tenant", "solo", "--amount", "5"]), "ensure")

        const out = write(dir, "kept.jsonl", "previous content\n")
        for (const tenant of ["nobody", "sol"]) {
          const unknown = yield* run(["budget", "journal", "export", ...d, "--tenant", tenant, "--out", out])
          assert.strictEqual(unknown.code, 2, unknown.stderr)
          assert.strictEqual(unknown.stdout, "")
          assert.include(unknown.stderr, `no tenant "${tenant}" in the ledger at `)
          const secret = new URL(db.url)
          secret.password = "Sup3r-S3cret-pw"
          const audit = yield* run(["budget", "journal", "audit", "--tenant", tenant, "--key-file", keyFile], {
            CALYBRIS_DATABASE_URL: secret.toString()
          })
          assert.notInclude(audit.stderr + audit.stdout, "Sup3r-S3cret-pw")
          assert.strictEqual(audit.code, 2, audit.stderr)
          assert.include(audit.stderr, `no tenant "${tenant}"`)
        }
        // an unreachable database: the file stays as it was
        const down = yield* run([
          "budget",
          "journal",
          "export",
          "--database",
          "postgres://postgres:Sup3r-S3cret-pw@127.0.0.1:1/x",
          "--tenant",
          "solo",
          "--out",
          out
        ])
        assert.strictEqual(down.code, 1, down.stderr)
        assert.match(down.stderr, /^DatabaseError: journal export on 127\.0\.0\.1:1\/x failed: connection refused/)
        assert.notInclude(down.stderr + down.stdout, "Sup3r-S3cret-pw")
        assert.strictEqual(fs.readFileSync(out, "utf8"), "previous content\n")
        // nothing left beside it
        assert.deepStrictEqual(fs.readdirSync(dir).filter((f) => f.startsWith("kept.jsonl") && f !== "kept.jsonl"), [])
        // a folder that does not exist: a clear error, nothing written
        const nowhere = yield* run([
          "budget",
          "journal",
          "export",
          ...d,
          "--tenant",
          "solo",
          "--out",
          path.join(dir, "missing", "x.jsonl")
        ])
        assert.strictEqual(nowhere.code, 1, nowhere.stderr)
        assert.isFalse(fs.existsSync(path.join(dir, "missing")))
        // --out names a folder: the rename fails after the temporary file was written; it is removed
        const folder = path.join(dir, "a-folder")
        fs.mkdirSync(folder, { recursive: true })
        const before = fs.readdirSync(dir).sort()
        const onFolder = yield* run(["budget", "journal", "export", ...d, "--tenant", "solo", "--out", folder])
        assert.strictEqual(onFolder.code, 1, onFolder.stderr)
        assert.match(onFolder.stderr, /^IoError: write .*a-folder failed: /)
        assert.deepStrictEqual(fs.readdirSync(dir).sort(), before)
        assert.deepStrictEqual(fs.readdirSync(folder), [])
        // a file that is no journal is not replaced (a hostile review: --out naming an HMAC key
        // file replaced the key with journal text)
        const notJournal = yield* run(["budget", "journal", "export", ...d, "--tenant", "solo", "--out", out])
        assert.strictEqual(notJournal.code, 1, notJournal.stderr)
        assert.include(notJournal.stderr, "is not an earlier export of this tenant's chain (its entries are not the")
        assert.strictEqual(fs.readFileSync(out, "utf8"), "previous content\n")
        const keyCopy = write(dir, "key-copy", fs.readFileSync(keyFile, "utf8"))
        const onKey = yield* run(["budget", "journal", "export", ...d, "--tenant", "solo", "--out", keyCopy])
        assert.strictEqual(onKey.code, 1, onKey.stderr)
        assert.strictEqual(fs.readFileSync(keyCopy, "utf8"), fs.readFileSync(keyFile, "utf8"))
        // the export replaces an empty file, and a journal
        fs.writeFileSync(out, "")
        ok(yield* run(["budget", "journal", "export", ...d, "--tenant", "solo", "--out", out]), "export over empty")
        ok(yield* run(["budget", "journal", "export", ...d, "--tenant", "solo", "--out", out]), "export over")
        assert.match(fs.readFileSync(out, "utf8"), /^\{"sequence":1,"previous_hash":"genesis",/)
        // keeping its permissions; a symbolic link is not replaced, nor is its target written (a
        // helper's hostile review: the export widened a 0600 file to 0644 and renamed over links)
        fs.chmodSync(out, 0o600)
        ok(yield* run(["budget", "journal", "export", ...d, "--tenant", "solo", "--out", out]), "export over 0600")
        assert.strictEqual(fs.statSync(out).mode & 0o777, 0o600)
        const target = write(dir, "link-target.txt", "target\n")
        const link = path.join(dir, "link.jsonl")
        fs.symlinkSync(target, link)
        const onLink = yield* run(["budget", "journal", "export", ...d, "--tenant", "solo", "--out", link])
        assert.strictEqual(onLink.code, 1, onLink.stderr)
        assert.include(onLink.stderr, "is a symbolic link: refusing to replace it")
        assert.isTrue(fs.lstatSync(link).isSymbolicLink())
        assert.strictEqual(fs.readFileSync(target, "utf8"), "target\n")

        // key flags with a database: an empty key, --allow-empty-key, both sources: usage errors (exit 2), nothing written
        for (
          const args of [
            ["--key-file", emptyKeyFile],
            ["--key-file", emptyKeyFile, "--allow-empty-key"],
            ["--key-file", keyFile, "--key-env", "FLEET_KEY"],
            ["--key-env", "UNSET_VARIABLE_X"]
          ]
        ) {
          const r = yield* run(["budget", "reserve", ...d, ...args, "--tenant", "solo", "--amount", "1"], {
            FLEET_KEY: `hex:${keyHex}`
          })
          assert.strictEqual(r.code, 2, `${args.join(" ")}: ${r.stderr}`)
          keyKept(r)
        }
        assert.strictEqual(
          yield* Postgres.psql(
            `SELECT journal_seq || ' ' || reserved FROM calybris_budget_tenants WHERE tenant = ${tenantBytes("solo")}`,
            db.url
          ),
          "1 0"
        )
        // the key never reaches the database's text: only its hash's effect
        const stored = yield* Postgres.psql(
          `SELECT count(*) FROM calybris_budget_journal WHERE position(decode('${keyHex}', 'hex') IN entry) > 0`,
          db.url
        )
        assert.strictEqual(stored, "0")
        // a database not migrated: SchemaOutdated (exit 1), telling to run migrate; nothing created
        const bare = yield* Postgres.makeDatabase
        for (
          const args of [["export", "--tenant", "solo"], ["audit"], [
            "audit",
            "--tenant",
            "solo",
            "--key-file",
            keyFile
          ]]
        ) {
          const r = yield* run(["budget", "journal", ...args, "--database", bare.url])
          assert.strictEqual(r.code, 1, r.stderr)
          assert.match(r.stderr, /^SchemaOutdated: .*run `calybris budget migrate`\n$/)
        }
        assert.strictEqual(
          yield* Postgres.psql("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'calybris%'", bare.url),
          "0"
        )
        // help names the flags
        const help = yield* run(["budget", "journal", "audit", "--help"])
        ok(help, "help")
        assert.include(help.stdout, "--key-file")
      }).pipe(Effect.scoped))

    it.effect("budget status, prove and certify never pin the journal key: the first writer's key is the ledger's (prove and certify: a hostile review)", () =>
      Effect.gen(function*() {
        const db = yield* Postgres.makeDatabase
        const d = ["--database", db.url]
        ok(yield* run(["budget", "migrate", ...d]), "migrate")
        // a reader, a proof and a certificate first, unkeyed and then with another key: they read
        // the empty ledger (prove and certify advance its snapshot version), and pin nothing
        for (const flags of [[], ["--key-file", otherKeyFile]]) {
          for (const command of ["status", "prove", "certify"]) {
            ok(yield* run(["budget", command, ...d, ...flags, "--json"]), command)
          }
        }
        assert.strictEqual(
          yield* Postgres.psql("SELECT count(*) FROM calybris_budget_ledger WHERE journal_key_id IS NOT NULL", db.url),
          "0"
        )
        // the operator's key is the first writer's
        ok(
          yield* run(["budget", "ensure", ...d, "--key-file", keyFile, "--tenant", "acme", "--amount", "100"]),
          "ensure"
        )
        // a reader's key is still compared with the ledger's
        const unkeyed = yield* run(["budget", "status", ...d])
        assert.strictEqual(unkeyed.code, 1, unkeyed.stderr)
        assert.match(unkeyed.stderr, /JournalKeyMismatch: the ledger's journal is keyed, this instance's is unkeyed: /)
        const keyed = yield* run(["budget", "status", ...d, "--key-file", keyFile, "acme"])
        ok(keyed, "status acme")
        assert.include(keyed.stdout, "100")
        // and so are a proof's and a certificate's: refused without it, served with it
        for (const command of ["prove", "certify"]) {
          const refused = yield* run(["budget", command, ...d, "--key-file", otherKeyFile])
          assert.strictEqual(refused.code, 1, refused.stderr)
          assert.match(refused.stderr, /JournalKeyMismatch: the ledger's journal is keyed with another key, /)
          ok(yield* run(["budget", command, ...d, "--key-file", keyFile]), command)
        }
      }).pipe(Effect.scoped))

    it.effect("a command without the ledger's journal key, or with another, is refused before it writes", () =>
      Effect.gen(function*() {
        const db = yield* Postgres.makeDatabase
        const d = ["--database", db.url]
        ok(yield* run(["budget", "migrate", ...d]), "migrate")
        ok(
          yield* run(["budget", "ensure", ...d, "--key-file", keyFile, "--tenant", "acme", "--amount", "100"]),
          "ensure"
        )
        const before = yield* run(["budget", "journal", "export", ...d, "--tenant", "acme"])
        ok(before, "export")
        for (
          const [flags, said] of [
            [[], /JournalKeyMismatch: the ledger's journal is keyed, this instance's is unkeyed: /],
            [["--key-file", otherKeyFile], /JournalKeyMismatch: the ledger's journal is keyed with another key, /]
          ] as const
        ) {
          const refused = yield* run(["budget", "reserve", ...d, ...flags, "--tenant", "acme", "--amount", "5"])
          assert.strictEqual(refused.code, 1, refused.stderr)
          assert.match(refused.stderr, said)
          keyKept(refused)
        }
        // nothing written: the chain as it was, and it audits with the ledger's key
        const after = yield* run(["budget", "journal", "export", ...d, "--tenant", "acme"])
        assert.strictEqual(after.stdout, before.stdout)
        ok(yield* run(["budget", "journal", "audit", ...d, "--key-file", keyFile]), "audit")
        ok(yield* run(["budget", "reserve", ...d, "--key-file", keyFile, "--tenant", "acme", "--amount", "5"]), "keyed")
      }).pipe(Effect.scoped))

    it.effect("export --out never replaces a journal a writer holds, through its name or another (a hostile review)", () =>
      Effect.gen(function*() {
        const db = yield* Postgres.TestDatabase
        const d = ["--database", db.url]
        ok(yield* run(["budget", "migrate", ...d]), "migrate")
        ok(yield* run(["budget", "ensure", ...d, "--key-file", keyFile, "--tenant", "held", "--amount", "5"]), "ensure")
        const live = path.join(dir, "held-live.jsonl")
        const hard = path.join(dir, "held-hard.jsonl")
        fs.rmSync(live, { force: true })
        fs.rmSync(hard, { force: true })
        // this process is the live journal's writer (its locks held until the scope closes)
        const bytes = yield* Effect.scoped(Effect.gen(function*() {
          const wal = yield* Wal.makeFile(live, { key })
          yield* wal.append(new Map([["n", 1]]))
          yield* wal.append(new Map([["n", 2]]))
          fs.linkSync(live, hard)
          const held = fs.readFileSync(live)
          for (const out of [live, hard]) {
            const r = yield* run(["budget", "journal", "export", ...d, "--tenant", "held", "--out", out])
            assert.strictEqual(r.code, 1, r.stderr)
            assert.include(r.stderr, "WalLocked")
            assert.deepStrictEqual(fs.readFileSync(live), held, out)
            assert.strictEqual(fs.statSync(live).ino, fs.statSync(hard).ino)
          }
          // the writer goes on, in its file
          yield* wal.append(new Map([["n", 3]]))
          return fs.readFileSync(live)
        })).pipe(Effect.provide(NodeContext.layer))
        assert.strictEqual(bytes.toString("utf8").split("\n").length, 4)
        // closed, it is still a log of another chain (a file ledger's journal between two commands,
        // say): not replaced either (a hostile review: the ledger was destroyed, exit 0)
        const other = yield* run(["budget", "journal", "export", ...d, "--tenant", "held", "--out", live])
        assert.strictEqual(other.code, 1, other.stderr)
        assert.include(other.stderr, "is not an earlier export of this tenant's chain")
        assert.deepStrictEqual(fs.readFileSync(live), bytes)
        // another tenant's export is not this chain's either; this tenant's earlier export is replaced
        ok(
          yield* run(["budget", "ensure", ...d, "--key-file", keyFile, "--tenant", "held2", "--amount", "5"]),
          "ensure"
        )
        const exported = path.join(dir, "held-export.jsonl")
        fs.rmSync(exported, { force: true })
        ok(yield* run(["budget", "journal", "export", ...d, "--tenant", "held2", "--out", exported]), "export held2")
        const before = fs.readFileSync(exported)
        const otherTenant = yield* run(["budget", "journal", "export", ...d, "--tenant", "held", "--out", exported])
        assert.strictEqual(otherTenant.code, 1, otherTenant.stderr)
        assert.deepStrictEqual(fs.readFileSync(exported), before)
        ok(
          yield* run(["budget", "top-up", ...d, "--key-file", keyFile, "--tenant", "held2", "--amount", "1"]),
          "top-up"
        )
        ok(yield* run(["budget", "journal", "export", ...d, "--tenant", "held2", "--out", exported]), "export again")
        assert.strictEqual(fs.readFileSync(exported, "utf8").split("\n").length, 3)
        assert.isTrue(fs.readFileSync(exported).subarray(0, before.length).equals(before))
        // a file whose first line is the chain's but whose history forks after it, or which holds
        // anything else after it, is not an earlier export: kept (evidence of another history; a review)
        const firstLine = `${before.toString("utf8").split("\n")[0]}\n`
        for (const rest of [`{"sequence":2,"previous_hash":"x","entry_hash":"y","data":{}}\n`, "MY NOTES\n"]) {
          const forked = path.join(dir, "held-forked.jsonl")
          fs.writeFileSync(forked, firstLine + rest)
          const refused = yield* run(["budget", "journal", "export", ...d, "--tenant", "held2", "--out", forked])
          assert.strictEqual(refused.code, 1, refused.stderr)
          assert.strictEqual(fs.readFileSync(forked, "utf8"), firstLine + rest)
        }
        // a copy with CRLF line ends and a blank line first is still that export (the reader reads
        // it so): replaced (a review)
        const crlf = `\r\n${fs.readFileSync(exported, "utf8").replaceAll("\n", "\r\n")}`
        fs.writeFileSync(exported, crlf)
        ok(yield* run(["wal", "verify", exported, "--key-file", keyFile]), "verify the CRLF copy")
        ok(
          yield* run(["budget", "journal", "export", ...d, "--tenant", "held2", "--out", exported]),
          "export over CRLF"
        )
        assert.notInclude(fs.readFileSync(exported, "utf8"), "\r")
        // and one without its final LF (the reader reads it so): replaced (a review)
        fs.writeFileSync(exported, fs.readFileSync(exported, "utf8").replace(/\n$/, ""))
        ok(
          yield* run(["budget", "journal", "export", ...d, "--tenant", "held2", "--out", exported]),
          "export over no LF"
        )
        assert.match(fs.readFileSync(exported, "utf8"), /\n$/)
      }))
  })
})

describe.skipIf(!Postgres.skip())("calybris budget journal on PostgreSQL", () => {
  it.skip("PostgreSQL tests skipped: no server", () => {})
})
