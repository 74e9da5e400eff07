/**
 * The project's own lint rule, import-cycle/no-cycle (eslint/no-import-cycle.js): it reports a
 * cycle made of type-only imports (which typescript-eslint's and import-x's rules skip) as well as
 * a runtime one, across more than two modules, and nothing for layered imports.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';
import { describe, expect, it } from 'vitest';
import importCycle from '../eslint/no-import-cycle.js';
import { tmpDir } from './helpers.js';

async function lint(files: Record<string, string>): Promise<string[]> {
  const dir = tmpDir();
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  const eslint = new ESLint({
    cwd: dir,
    overrideConfigFile: true,
    overrideConfig: [{
      files: ['**/*.ts'],
      languageOptions: { parser: tseslint.parser },
      plugins: { 'import-cycle': importCycle },
      rules: { 'import-cycle/no-cycle': 'error' },
    }],
  });
  const results = await eslint.lintFiles(['*.ts']);
  return results.flatMap((r) => r.messages.map((m) => `${path.basename(r.filePath)}: ${m.message}`)).sort();
}

describe('import-cycle/no-cycle', () => {
  it('reports a cycle of type-only imports from both ends', async () => {
    expect(await lint({
      'a.ts': "import type { B } from './b.js';\nexport interface A { b?: B }\n",
      'b.ts': "import { type A } from './a.js';\nexport interface B { a?: A }\n",
    })).toEqual(['a.ts: Import cycle: a.ts → b.ts → a.ts', 'b.ts: Import cycle: b.ts → a.ts → b.ts']);
  });

  it('reports a runtime cycle through three modules and a re-export', async () => {
    const messages = await lint({
      'a.ts': "import { b } from './b.js';\nexport const a = () => b;\n",
      'b.ts': "export { c as b } from './c.js';\n",
      'c.ts': "import { a } from './a.js';\nexport const c = () => a;\n",
    });
    expect(messages).toHaveLength(3);
    expect(messages[0]).toBe('a.ts: Import cycle: a.ts → b.ts → c.ts → a.ts');
  });

  it('says nothing about layers (a diamond is not a cycle)', async () => {
    expect(await lint({
      'top.ts': "import { l } from './left.js';\nimport { r } from './right.js';\nexport const t = l + r;\n",
      'left.ts': "import { base } from './base.js';\nexport const l = base;\n",
      'right.ts': "import type { Base } from './base.js';\nexport const r: Base = 1;\n",
      'base.ts': 'export const base = 1;\nexport type Base = number;\n',
    })).toEqual([]);
  });
});
