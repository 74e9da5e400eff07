/**
 * import-cycle/no-cycle: reports an import that leads back to the importing module, type-only
 * imports included (typescript-eslint's and import-x's cycle rules skip those, and a type-only
 * cycle is still two modules that each reach into the other). Relative imports only; `.js` in a
 * specifier resolves to the `.ts` beside it, as NodeNext resolution does.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import ts from 'typescript';

/** file → the files it imports (relative specifiers, resolved); cached for one lint run. */
const graph = new Map();

function resolve(from, specifier) {
  if (!specifier.startsWith('.')) return undefined;
  const base = path.resolve(path.dirname(from), specifier);
  const candidates = [base.replace(/\.js$/, '.ts'), base.replace(/\.mjs$/, '.mts'), base, `${base}.ts`, path.join(base, 'index.ts')];
  return candidates.find((c) => fs.existsSync(c) && fs.statSync(c).isFile());
}

function importsOf(file) {
  let edges = graph.get(file);
  if (edges) return edges;
  edges = [];
  graph.set(file, edges);
  let text;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return edges;
  }
  for (const ref of ts.preProcessFile(text, true, true).importedFiles) {
    const target = resolve(file, ref.fileName);
    if (target) edges.push({ specifier: ref.fileName, target });
  }
  return edges;
}

/** A path of files from `start` back to `goal`, or undefined. */
function pathBack(start, goal) {
  const seen = new Set();
  const stack = [[start, [start]]];
  while (stack.length > 0) {
    const [file, route] = stack.pop();
    if (file === goal) return route;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const { target } of importsOf(file)) stack.push([target, [...route, target]]);
  }
  return undefined;
}

const rule = {
  meta: {
    type: 'problem',
    docs: { description: 'Disallow import cycles between modules, type-only imports included' },
    schema: [],
    messages: { cycle: 'Import cycle: {{route}}' },
  },
  create(context) {
    const file = context.filename;
    const check = (node) => {
      const specifier = node.source?.value;
      if (typeof specifier !== 'string') return;
      const target = resolve(file, specifier);
      if (!target) return;
      const route = pathBack(target, file);
      if (!route) return;
      const cwd = context.cwd;
      context.report({ node, messageId: 'cycle', data: { route: [file, ...route].map((f) => path.relative(cwd, f)).join(' → ') } });
    };
    return { ImportDeclaration: check, ExportNamedDeclaration: check, ExportAllDeclaration: check, ImportExpression: check };
  },
};

export default { rules: { 'no-cycle': rule } };
