import type { ESLint } from 'eslint';

/** The import-cycle plugin: one rule, `no-cycle`. */
declare const plugin: ESLint.Plugin;
export default plugin;
