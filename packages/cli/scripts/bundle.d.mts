import type { Metafile } from "esbuild"

/** The CLI's entry source. */
export declare const entrySource: string
/** The entry file's name inside the output folder. */
export declare const entryName: string
/** Where `pnpm build` writes the bundle (the package's `bin` is `<this>/calybris.mjs`). */
export declare const defaultOutdir: string
/**
 * Compile the CLI into `outdir` (which should be empty or absent); resolves to the entry file's
 * path and esbuild's metafile (which source went into which output file).
 */
export declare const bundle: (outdir: string) => Promise<{ readonly entry: string; readonly metafile: Metafile }>
/**
 * Compile one program (a TypeScript file the tests run as a child process) into one file
 * `<outdir>/<its name>.mjs` with the CLI's options, not minified; resolves to its path.
 */
export declare const bundleProgram: (source: string, outdir: string) => Promise<string>
/** The file the package's `bin` script imports (its one `import "…"`), resolved. */
export declare const binTarget: (bin: string) => string | undefined
/** `pnpm build`'s bundle step: replace `dist/bundle`; resolves to the entry file's path (the package's `bin`). */
export declare const build: () => Promise<string>
