/**
 * `npm run lint`: the architecture rules that a type checker cannot see.
 *
 * - protocol/src is pure and isomorphic: no Node built-ins, no Buffer/process globals.
 * - Dependencies point one way: protocol <- simulator <- gateway <- bench; nothing imports upward.
 * - One error base class: every `class XError` extends LatchkitError or a subclass of it.
 * - No console output from library code in protocol/src.
 * Exits non-zero with one line per violation (file:line rule).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, relative } from 'node:path';

const root = join(import.meta.dirname, '..');
const NODE_BUILTINS = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

function walk(dir: string): string[] {
  let out: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of names) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out = out.concat(walk(p));
    else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}

const LAYERS: Record<string, number> = { protocol: 0, simulator: 1, gateway: 2, bench: 3 };
const PACKAGE_LAYER: Record<string, number> = { '@latchkit/protocol': 0, '@latchkit/simulator': 1, '@latchkit/gateway': 2 };

const problems: string[] = [];
const errorClasses = new Map<string, string>(); // class -> base
const errorClassFiles = new Map<string, string>();

for (const top of Object.keys(LAYERS)) {
  for (const file of walk(join(root, top))) {
    const rel = relative(root, file);
    const layer = LAYERS[top]!;
    const pureProtocol = rel.startsWith('protocol/src/');
    const lines = readFileSync(file, 'utf8').split('\n');
    lines.forEach((line, i) => {
      const at = `${rel}:${i + 1}`;
      // `from 'x'`, `import('x')`, `require('x')` and bare side-effect imports `import 'x'`.
      for (const m of line.matchAll(/(?:from\s+|import\s*\(\s*|require\s*\(\s*|^\s*import\s+)['"]([^'"]+)['"]/g)) {
        const spec = m[1]!;
        if (pureProtocol && NODE_BUILTINS.has(spec)) problems.push(`${at} protocol/src must not import Node built-in "${spec}"`);
        const pkg = Object.keys(PACKAGE_LAYER).find((p) => spec === p || spec.startsWith(`${p}/`));
        if (pkg && PACKAGE_LAYER[pkg]! > layer) problems.push(`${at} ${top} must not import ${pkg} (dependencies point protocol <- simulator <- gateway <- bench)`);
        if (spec.startsWith('.')) {
          const target = relative(root, join(file, '..', spec)).split('/')[0]!;
          if (target in LAYERS && LAYERS[target]! > layer) problems.push(`${at} ${top} must not import from ${target}/`);
        }
      }
      if (pureProtocol && /\bBuffer\b|\bprocess\.|\brequire\(/.test(line.replace(/\/\/.*$|\/\*.*?\*\/|^\s*\*.*$/g, ''))) {
        problems.push(`${at} protocol/src must not use Node globals (Buffer, process, require)`);
      }
      if (pureProtocol && /console\.(log|info|warn|error)/.test(line)) problems.push(`${at} protocol/src must not write to the console`);
      const cls = line.match(/class\s+(\w*Error)\b(?:<[^>]*>)?\s+extends\s+(\w+)/);
      if (cls) {
        errorClasses.set(cls[1]!, cls[2]!);
        errorClassFiles.set(cls[1]!, at);
      }
    });
  }
}

// One error base class: follow each error class's chain up to LatchkitError.
for (const [name, base] of errorClasses) {
  if (name === 'LatchkitError') continue;
  let b: string | undefined = base;
  const seen = new Set<string>();
  while (b && b !== 'LatchkitError' && !seen.has(b)) {
    seen.add(b);
    b = errorClasses.get(b);
  }
  if (b !== 'LatchkitError') problems.push(`${errorClassFiles.get(name)} ${name} must extend LatchkitError (one error base class with stable codes)`);
}

if (problems.length > 0) {
  for (const p of problems) console.error(p);
  console.error(`lint: ${problems.length} problem(s)`);
  process.exit(1);
}
console.log('lint: ok');
