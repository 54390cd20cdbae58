/** The CLI's entry source. */
export declare const entrySource: string
/** The entry file's name inside the output folder. */
export declare const entryName: string
/** Where `pnpm build` writes the bundle (the package's `bin` is `<this>/calybris.mjs`). */
export declare const defaultOutdir: string
/** Compile the CLI into `outdir` (which should be empty or absent); resolves to the entry file's path. */
export declare const bundle: (outdir: string) => Promise<string>
