// Lint (`npm run lint`, run by .ci/run): a small rule set for what matters in this project.
// - import-cycle/no-cycle (ours, eslint/no-import-cycle.js): modules form layers (docs/design.md);
//   a cycle, even of type-only imports, means one module reached into another.
// - no-floating-promises / no-misused-promises: an unhandled rejection is a crash.
// - no unused code: variables, imports, private members, unreachable statements.
import tseslint from 'typescript-eslint';
import importCycle from './eslint/no-import-cycle.js';

export default tseslint.config(
  { ignores: ['dist/**', 'build/**', 'prebuilds/**', 'node_modules/**', 'test/fixtures/**', 'bench/**', 'examples/**'] },
  {
    files: ['src/**/*.ts', 'test/**/*.ts'],
    extends: [tseslint.configs.base],
    plugins: { 'import-cycle': importCycle },
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      'import-cycle/no-cycle': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_$', caughtErrors: 'none' }],
      'no-unused-private-class-members': 'error',
      'no-unreachable': 'error',
    },
  },
);
