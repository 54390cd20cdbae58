/**
 * A PostgreSQL URL as a secret: it may carry a password. What may be shown of it is its `Target`
 * (host, port and database — never the user or the password); `scrub` removes the URL and every
 * password it carries from a text before it is shown (a driver's error message, a defect).
 *
 * One definition for the layer (`LedgerPg.layer`, its connection errors) and the CLI
 * (`--database`, `CALYBRIS_DATABASE_URL`). Light: no PostgreSQL client is loaded with it.
 */
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"

/** Where a URL points, as errors may show it: host, port and database (no user, no password). */
export interface Target {
  readonly host: string
  readonly port: string
  readonly database: string
}

/** `host:port/database` (an IPv6 host keeps its brackets). */
export const targetText = (t: Target): string => `${t.host}:${t.port}/${t.database}`

/** What a refusal of a URL adds to its reason (the URL itself is never quoted). */
export const HINT =
  "(expected postgres://user:password@host:port/database; the value is not shown: it may hold a password)"

/** A URL that is not a PostgreSQL URL saying what it means; `reason` never quotes the URL. */
export class InvalidDatabaseUrl extends Schema.TaggedError<InvalidDatabaseUrl>()("InvalidDatabaseUrl", {
  reason: Schema.String
}) {
  override get message(): string {
    return `database URL: ${this.reason} ${HINT}`
  }
}

const decode = (text: string): string => {
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}

/**
 * The target of a PostgreSQL URL (`postgres://` or `postgresql://`, as `pg` reads it: the `host`
 * and `port` parameters before the URL's own, then `localhost` and 5432), or why it is not one.
 */
export const parse = (url: Redacted.Redacted<string>): Either.Either<Target, InvalidDatabaseUrl> => {
  const text = Redacted.value(url)
  const refuse = (reason: string) => Either.left(new InvalidDatabaseUrl({ reason }))
  if (text.trim() === "") return refuse("empty")
  let parsed: URL
  try {
    parsed = new URL(text)
  } catch {
    return refuse("not a valid URL")
  }
  if (parsed.protocol !== "postgres:" && parsed.protocol !== "postgresql:") {
    return refuse("not a PostgreSQL URL")
  }
  // an `@` after the host: a user or password with an unencoded `/`, `?` or `#` ended the host
  // early (`postgres://gw:/pw@db/x` is host `gw`, path `/pw@db/x`), and the password would be
  // shown as part of the database; such a URL does not say what it means
  if ((parsed.pathname + parsed.search + parsed.hash).includes("@")) {
    return refuse("an @ after the host (percent-encode / ? # @ : in the user and password: %2F %3F %23 %40 %3A)")
  }
  const database = decode(parsed.pathname.replace(/^\//, ""))
  // as `pg` reads it (pg-connection-string): a `host` or `port` parameter, the last one given,
  // wins over the URL's own (before, `postgres://h:1/db?host=/run/pg` was shown as `h:1/db` while
  // the driver went to the socket in /run/pg: a hostile review)
  const param = (name: string): string => parsed.searchParams.getAll(name).at(-1) ?? ""
  const host = param("host") !== "" ? param("host") : decode(parsed.hostname)
  const port = param("port") !== "" ? param("port") : parsed.port
  return Either.right({
    host: host === "" ? "localhost" : host,
    port: port === "" ? "5432" : port,
    database: database === "" ? "(the user's)" : database
  })
}

/** The pieces of a URL that must never be shown: the URL itself and its passwords (raw and decoded). */
const secretsOf = (url: Redacted.Redacted<string>): ReadonlyArray<string> => {
  const text = Redacted.value(url)
  const out = [text]
  try {
    const parsed = new URL(text)
    // the password, and the parameters `pg` also reads a password from (`?password=`, `?sslpassword=`)
    const passwords = [
      parsed.password,
      ...["password", "sslpassword"].flatMap((name) => parsed.searchParams.getAll(name))
    ]
    for (const password of passwords.filter((p) => p !== "")) {
      out.push(password)
      out.push(decode(password))
    }
  } catch {
    // not a URL: the whole text is the secret
  }
  return out.filter((s) => s !== "").sort((a, b) => b.length - a.length)
}

/** `text` with the URL and every password in it replaced by `[redacted]`. */
export const scrub = (url: Redacted.Redacted<string>, text: string): string =>
  secretsOf(url).reduce((t, secret) => t.split(secret).join("[redacted]"), text)
