/**
 * The workspace runs its packages from their TypeScript sources: each package's `exports` names
 * `src/*.ts` under the `@calybris/source` condition before its compiled `dist` (which a consumer
 * of the published packages gets). vitest resolves with it (vitest.shared.ts), tsx in the root
 * scripts is given it, and every Node process a test starts takes these arguments.
 */

/** Node's arguments for a child that runs the workspace's sources (with `--import tsx`). */
export const nodeArgs: ReadonlyArray<string> = ["--conditions=@calybris/source", "--import", "tsx"]

/** The condition, for a bundler (esbuild's `conditions`). */
export const condition = "@calybris/source"
