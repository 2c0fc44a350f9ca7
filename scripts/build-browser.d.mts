// Types of scripts/build-browser.mjs for the TypeScript tests that import it.
import type { BuildOptions, BuildResult } from "esbuild";

export function browserBuildOptions(outfile: string): BuildOptions & { metafile: true };
export function buildBrowserBundle(outdir?: string): Promise<BuildResult<{ metafile: true }>>;
