/**
 * The `calybris` command: every subcommand, assembled. Wiring (platform layers, error report,
 * exit codes) lives in `bin.ts`.
 */
import * as BuiltInOptions from "@effect/cli/BuiltInOptions"
import * as CliConfig from "@effect/cli/CliConfig"
import * as Command from "@effect/cli/Command"
import * as Descriptor from "@effect/cli/CommandDescriptor"
import * as Directive from "@effect/cli/CommandDirective"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Span from "@effect/cli/HelpDoc/Span"
import * as Usage from "@effect/cli/Usage"
import * as AnsiDoc from "@effect/printer-ansi/AnsiDoc"
import * as Doc from "@effect/printer/Doc"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as HashMap from "effect/HashMap"
import * as Option from "effect/Option"
import { UsageError } from "./CliError.js"
import * as Commands from "./Commands.js"
import { Stdio } from "./Stdio.js"

export const VERSION = "0.1.0"

/** The root's commands, in the order its help lists them (their handlers load when they run: `Commands`). */
const commands = Commands.commands

export const root = Command.make("calybris").pipe(
  Command.withDescription(
    "Decide, log and budget requests with proofs (wire-compatible with calybris-core 0.3.10). Exit codes: 0 success; 1 verification, audit or operational failure; 2 bad usage or input."
  ),
  Command.withSubcommands(commands)
)

const runRoot = Command.run(root, { name: "calybris", version: VERSION })

/** The command line before `--` (what `@effect/cli` may read as options). */
const beforeDashDash = (args: ReadonlyArray<string>): ReadonlyArray<string> => {
  const end = args.indexOf("--")
  return end < 0 ? args : args.slice(0, end)
}

/** The root's commands' descriptors (a group's lists its subcommands; the root's own do not). */
const topLevel: ReadonlyArray<Descriptor.Command<unknown>> = commands.map((command) => command.descriptor)

/** The groups inside a group (`budget journal`), whose subcommands their parent's descriptor does not list. */
const nestedGroups: ReadonlyMap<string, Descriptor.Command<unknown>> = new Map(
  Commands.nestedGroups.map(([path, command]) => [path, command.descriptor])
)

const nameOf = (descriptor: Descriptor.Command<unknown>): string => Array.from(Descriptor.getNames(descriptor))[0] ?? ""

/** A group's subcommands (a leaf's "subcommands" are itself: none). */
const subcommandsOf = (descriptor: Descriptor.Command<unknown>): ReadonlyArray<Descriptor.Command<unknown>> => {
  const subcommands = Descriptor.getSubcommands(descriptor)
  return HashMap.has(subcommands, nameOf(descriptor)) ? [] : Array.from(HashMap.values(subcommands))
}

/**
 * The command a command line names (`budget reserve …` → `["budget", "reserve"]`, with its
 * descriptor), found as `@effect/cli` finds it: at each level, the first argument (before `--`)
 * that names a subcommand. `group`: it has subcommands (the root is one).
 */
const commandOf = (args: ReadonlyArray<string>) => {
  const path: Array<string> = []
  let descriptor: Descriptor.Command<unknown> = root.descriptor
  let level = topLevel
  let rest = beforeDashDash(args)
  while (level.length > 0) {
    const names = level.map(nameOf)
    const at = rest.findIndex((arg) => names.includes(arg))
    const found = level[names.indexOf(rest[at] ?? "")]
    if (at < 0 || found === undefined) break
    path.push(nameOf(found))
    rest = rest.slice(at + 1)
    descriptor = nestedGroups.get(path.join(" ")) ?? found
    level = subcommandsOf(descriptor)
  }
  return { path, descriptor, group: subcommandsOf(descriptor).length > 0 }
}

/**
 * The help of the command a command line names, as `@effect/cli` would print it but naming the
 * full command (`calybris budget reserve --journal FILE …`) and without its banner (the root's
 * help starts with `calybris <version>`); plain text unless `color`.
 */
const helpText = (args: ReadonlyArray<string>, color: boolean): string => {
  const { descriptor, path } = commandOf(args)
  const prefix = ["calybris", ...path.slice(0, -1)].join(" ")
  const usage = Usage.enumerate(Descriptor.getUsage(descriptor), CliConfig.defaultConfig).map((span) =>
    HelpDoc.p(path.length === 0 ? span : Span.concat(Span.text(`${prefix} `), span))
  )
  const doc = [
    ...(path.length === 0 ? [HelpDoc.p(`calybris ${VERSION}`)] : []),
    HelpDoc.h1("USAGE"),
    ...usage,
    Descriptor.getHelp(descriptor, CliConfig.defaultConfig)
  ].reduce((left, right) => HelpDoc.sequence(left, right), HelpDoc.empty)
  const ansi = HelpDoc.toAnsiDoc(doc)
  const text = color ? AnsiDoc.render(ansi, { style: "pretty" }) : Doc.render(ansi, { style: "pretty" })
  // `@effect/cli` lists a nested group's subcommands under its parent's name twice
  // (`budget budget journal export`): name them once
  return Array.from(nestedGroups.keys()).reduce((t, group) => {
    const parent = group.split(" ")[0] ?? ""
    return t.split(`${parent} ${group} `).join(`${group} `)
  }, text)
}

/**
 * What `@effect/cli` would answer by itself instead of running a command (help, version), printed
 * our way: `--version` on one line; help naming the full command, in colour only on a terminal
 * without `NO_COLOR`. `None` when the command line runs a command (or is a usage error, which
 * `@effect/cli` reports).
 */
const builtIn = (args: ReadonlyArray<string>, color: boolean) => {
  const options = beforeDashDash(args)
  const { group } = commandOf(args)
  if (
    !group &&
    !["--help", "-h", "--version", "--completions"].some((flag) =>
      options.includes(flag) || options.some((arg) => arg.startsWith(`${flag}=`))
    )
  ) {
    return Effect.succeedNone
  }
  // `--log-level` is `@effect/cli`'s own option, which the descriptor's parse does not know: with
  // it, a request for help failed to parse and was printed by `@effect/cli` instead (its banner,
  // colour into a pipe) and not told apart as help (a review)
  return Descriptor.parse(root.descriptor, ["calybris", ...withoutLogLevel(args)], CliConfig.defaultConfig).pipe(
    Effect.map((directive) => {
      if (Directive.isUserDefined(directive)) {
        // a group without a subcommand has no handler: @effect/cli prints its help
        if (!group || directive.leftover.length !== 0) return Option.none()
        answeredBuiltIn = true
        return Option.some(helpText(args, color))
      }
      const option = directive.option
      // (the completions: `@effect/cli` prints them)
      answeredBuiltIn = BuiltInOptions.isShowHelp(option) || BuiltInOptions.isShowVersion(option) ||
        option._tag === "ShowCompletions"
      if (BuiltInOptions.isShowHelp(option)) return Option.some(helpText(args, color))
      if (BuiltInOptions.isShowVersion(option)) return Option.some(VERSION)
      return Option.none()
    }),
    Effect.orElseSucceed(() => Option.none<string>())
  )
}

/** The arguments without `--log-level LEVEL` / `--log-level=LEVEL` before any `--` (`@effect/cli` takes them apart from the command). */
const withoutLogLevel = (args: ReadonlyArray<string>): ReadonlyArray<string> => {
  const options = beforeDashDash(args)
  const kept: Array<string> = []
  for (let i = 0; i < options.length; i++) {
    const arg = options[i] as string
    if (arg === "--log-level") i++
    else if (!arg.startsWith("--log-level=")) kept.push(arg)
  }
  return [...kept, ...args.slice(options.length)]
}

/** Does the command line ask for `@effect/cli`'s built-in `--wizard` (before any `--`)? */
const asksForWizard = (args: ReadonlyArray<string>): boolean => beforeDashDash(args).includes("--wizard")

/** An HMAC key in the `hex:` form of a key file (4 bytes or more; spaces allowed where Key.ts skips them), as a whole value. */
const HEX_KEY = /^\s*hex:\s*[0-9a-fA-F]{8,}\s*$/
/** A note signer key, `PRIVATE+KEY+name+hex8+base64(0x01 ‖ seed)` (Go's x/mod form), anywhere in a value. */
const SIGNER_KEY = /PRIVATE\+KEY\+[^+\s]+\+[0-9a-fA-F]{8}\+[A-Za-z0-9+/]{40,}/

/**
 * The key part of a note key alone — base64 of 33 bytes, the first the Ed25519 type 0x01: a signer
 * key's secret (`base64(0x01 ‖ seed)`) cut out of its file — as a whole value (white space around
 * it, or as a path's last part): the error naming a path echoed it, and `--origin` signed it into
 * a checkpoint (hostile reviews). Looked for in every argument but an id (`ID_OPTIONS`' values,
 * `budget status`'s tenant): 44 such characters may be a plain tenant or operation id.
 */
const KEY_PART = /(?:^\s*|\/)A[Q-Za-f][A-Za-z0-9+/]{42}\s*$/

/**
 * A key's bytes as text alone — 32 hex digits or more, or padded base64 of 32 bytes or more — as
 * the whole value of an option that names a key's source (`KEY_SOURCES`): a key pasted where its
 * file or variable goes was echoed by the error naming the source ("--key-file 0707…: no such
 * file": a hostile review). A file so named is given as `./NAME`.
 */
const BARE_KEY = /^\s*(?:[0-9a-fA-F]{32,}|[A-Za-z0-9+/]{42,}={1,2})\s*$/

/** The options whose value names a key's source: a file or an environment variable, never the key. */
const KEY_SOURCES: ReadonlySet<string> = new Set(["--key-file", "--key-env", "--skey-file", "--skey-env"])

/** The options whose value is an id, never a key's place (`KEY_PART` is not looked for there). */
const ID_OPTIONS: ReadonlySet<string> = new Set(["--tenant", "--id", "--reservation"])

/** Options of `budget status` that take a value (what follows any other option is its TENANT or a flag). */
const VALUE_OPTIONS: ReadonlySet<string> = new Set([
  "--journal",
  "--database",
  "--key-file",
  "--key-env",
  "--durability",
  "--max-line-bytes",
  "--log-level"
])

/**
 * The position (0-based) of `budget status`'s TENANT among `args`, or -1: the words that are no
 * option and no option's value, the first two `budget` and `status`, the third the tenant
 * (whatever options come before: `--log-level info budget status …` moved it; the review).
 */
const budgetStatusTenant = (args: ReadonlyArray<string>): number => {
  const words: Array<number> = []
  for (let i = 0; i < args.length && words.length < 3; i++) {
    const arg = args[i] as string
    if (arg === "--") break
    if (arg.startsWith("-")) {
      if (!arg.includes("=") && VALUE_OPTIONS.has(arg)) i++
      continue
    }
    words.push(i)
  }
  const [first, second, third] = words
  return first !== undefined && second !== undefined && third !== undefined && args[first] === "budget" &&
      args[second] === "status"
    ? third
    : -1
}

/** Whether a value holds a key: a signer key anywhere in it, or a whole `hex:` HMAC key. */
const holdsKey = (value: string): boolean => SIGNER_KEY.test(value) || HEX_KEY.test(value)

/**
 * The position (1-based, after the program) of the first argument that holds a key — a note
 * signer key anywhere in it, a whole `hex:…` HMAC key or a note key's base64 part (`KEY_PART`:
 * not in an id), as the argument or as the value of a
 * `--flag=value` — or 0. Keys come from files and environment variables only; one pasted as a
 * value (a path, an origin, a stray argument) would be echoed by the error naming it, or signed
 * into a checkpoint. (A WAL line that only mentions `PRIVATE+KEY+`, given to `--entry-line`, is
 * not a key.)
 */
export const keyArgument = (args: ReadonlyArray<string>): number => {
  const statusTenant = budgetStatusTenant(args)
  // the argument that is `--vkey`'s value, which may be a note key (a `--vkey` that is itself a
  // value exempts nothing: `--vkey --vkey KEY` echoed KEY)
  let vkeyValue = -1
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string
    const equals = arg.startsWith("--") ? arg.indexOf("=") : -1
    const value = equals > 0 ? arg.slice(equals + 1) : arg
    if (holdsKey(arg) || (equals > 0 && holdsKey(value))) return i + 1
    const option = equals > 0 ? arg.slice(0, equals) : args[i - 1]
    const anId = (option !== undefined && ID_OPTIONS.has(option)) || i === statusTenant
    if (!anId && KEY_PART.test(value)) return i + 1
    if (option !== undefined && KEY_SOURCES.has(option) && BARE_KEY.test(value)) return i + 1
    if (i === vkeyValue) continue
    if (arg === "--vkey") vkeyValue = i + 1
    else if (NOTE_KEY.test(value) && !arg.startsWith("--vkey=")) return i + 1
  }
  return 0
}

/**
 * A note key without the `PRIVATE+KEY+` prefix: `name+keyid+base64` of 33 bytes, the first the
 * Ed25519 type 0x01 (so `AQ` to `Af`: a dated path such as `backup+20240101+tenants/…` of that
 * length is no key: the review of this check). A verifier key has this form, and so has a signer
 * key with its prefix cut off — the whole secret, which no form tells apart from a public key. Only `--vkey` takes one; as any other argument it was
 * echoed by the error naming it (`--skey-env`'s "not set", a file not found: a hostile review).
 */
const NOTE_KEY = /^[^+\s]+\+[0-9a-fA-F]{8}\+A[Q-Za-f][A-Za-z0-9+/]{42}$/

/** The options a command takes more than once (`Options.repeated` in Commands.ts), by command. */
const REPEATABLE: ReadonlyMap<string, ReadonlyArray<string>> = new Map([
  ["wal replay", ["--policy"]],
  ["log verify", ["--vkey"]]
])

/**
 * The first option (before `--`) given twice that its command takes once, or undefined.
 * `@effect/cli` reports one with a message about another option ("Expected to find option:
 * '--amount'" for `--tenant t --tenant u --amount 1`, "Received unknown argument: '--id'" for
 * `--id a --id b`: a hostile review).
 */
export const repeatedOption = (args: ReadonlyArray<string>): string | undefined => {
  const repeatable = REPEATABLE.get(commandOf(args).path.join(" ")) ?? []
  const seen = new Set<string>()
  for (const arg of beforeDashDash(args)) {
    if (!arg.startsWith("--") || arg.length === 2) continue
    const equals = arg.indexOf("=")
    const name = equals < 0 ? arg : arg.slice(0, equals)
    if (repeatable.includes(name)) continue
    if (seen.has(name)) return name
    seen.add(name)
  }
  return undefined
}

/**
 * The commands that change state (a ledger, a log or key file) or print what cannot be had again
 * (`log keygen`'s verifier key, `log checkpoint`'s signed note).
 */
const CHANGING: ReadonlySet<string> = new Set([
  "budget init",
  "budget migrate",
  "budget ensure",
  "budget top-up",
  "budget cap",
  "budget reserve",
  "budget commit",
  "budget release",
  "budget admit",
  "budget certify",
  // on a database, a proof advances the snapshot version, as a certificate does
  "budget prove",
  "log keygen",
  "log checkpoint",
  "wal repair",
  "demo"
])

/**
 * Whether the command line runs a command that changes state or prints what cannot be had again
 * (`CHANGING`): its output lost because the reader went away (EPIPE) is a failure, exit 1, as a
 * full disk is — the operator must learn that it ran without its answer (a hostile review:
 * `budget reserve … | (exec 0<&-; sleep 4)` took the hold, lost its id, and exited 0). Any other
 * command's reader may go away (`calybris wal show … | head`): exit 0 — and so may any command's
 * help, version or completions, which run nothing (`informational`, known once `run` parsed the
 * line: `--id -h` is an operation id, not a request for help; a review). A `--wizard` line builds
 * its command as it goes: counted as one that changes state.
 */
export const changesState = (args: ReadonlyArray<string>): boolean =>
  CHANGING.has(commandOf(args).path.join(" ")) || asksForWizard(args)

/** Whether `run` answered the command line with help, the version or completions (`@effect/cli`'s built-ins), running nothing. */
let answeredBuiltIn = false

/** Whether this process's command line was answered with help, the version or completions: it ran nothing. */
export const informational = (): boolean => answeredBuiltIn

/** A URL carrying a password (`scheme://user:password@…`), anywhere in a value. */
const CREDENTIAL_URL = /[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/@\s:]*:[^@\s/]*@/

/**
 * The position (1-based) of the first argument holding a URL with a password that is not the
 * value of `--database` (as the next argument, or `--database=URL`), or 0. Anywhere else — a
 * stray positional, a misspelt `--databse=URL` — `@effect/cli`'s "Received unknown argument"
 * would print it whole, password included (a helper's hostile review): refused first, by its
 * position, never repeated.
 */
export const credentialArgument = (args: ReadonlyArray<string>): number =>
  args.findIndex((arg, i) =>
    CREDENTIAL_URL.test(arg) && !arg.startsWith("--database=") && args[i - 1] !== "--database"
  ) + 1

/**
 * Run the command line (`process.argv`: the first two entries are node and the script).
 *
 * An argument holding a key is refused first, as bad usage (exit 2), by its position only:
 * never quoted, never parsed (`keyArgument`); so is a URL with a password anywhere but as
 * `--database`'s value (`credentialArgument`).
 *
 * `--wizard` asks its questions on stdin: when stdin is not a terminal (a pipe, a file,
 * `/dev/null`) nobody can answer them and the wizard would wait forever, so it is refused at
 * once as bad usage (exit 2).
 */
export const run = (argv: ReadonlyArray<string>) =>
  Effect.flatMap(Stdio, (stdio) => {
    answeredBuiltIn = false
    const withKey = keyArgument(argv.slice(2))
    const withPassword = credentialArgument(argv.slice(2))
    const repeated = repeatedOption(argv.slice(2))
    return withKey > 0
      ? Effect.fail(
        new UsageError({
          reason:
            `argument ${withKey} holds a key: a key on the command line is refused (it leaks through ps and shell history), and is not repeated here; give a note signer key with --skey-file FILE or --skey-env NAME, an HMAC key with --key-file FILE or --key-env NAME (a verifier key name+keyid+key goes after --vkey; a file whose name looks like a key, as ./NAME)`
        })
      )
      : withPassword > 0
      ? Effect.fail(
        new UsageError({
          reason:
            `argument ${withPassword} holds a URL with a password, which is not repeated here: give the database's URL with --database URL, or better CALYBRIS_DATABASE_URL (the environment keeps it out of ps and shell history)`
        })
      )
      : repeated !== undefined
      ? Effect.fail(new UsageError({ reason: `${repeated} is given twice: give each option once (--help lists them)` }))
      : !stdio.stdinIsTTY && asksForWizard(argv.slice(2))
      ? Effect.fail(
        new UsageError({
          reason:
            "--wizard needs a terminal: it asks its questions on standard input, which is not a terminal here; give the options on the command line instead (--help lists them)"
        })
      )
      : Effect.flatMap(
        builtIn(argv.slice(2), stdio.stdoutColor),
        Option.match({ onNone: () => runRoot(argv), onSome: (text) => Console.log(text) })
      )
  })
