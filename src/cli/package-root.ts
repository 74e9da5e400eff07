/** The package the `aof` command runs from: its root directory and its package.json version. */
import * as fs from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The package root (this file is dist/cli/package-root.js, or src/cli/package-root.ts). */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The version in the package's package.json. */
export function packageVersion(): string {
  return (JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}
