// Compiles a consumer of an npm package of this repository under each TypeScript module resolution
// a user may choose (node16, nodenext, bundler), the package reached through node_modules and its
// package.json `exports` as a user's project reaches it. Used by crates/node/test/resolution.test.mjs
// and crates/wasm/test/resolution.test.mjs.
//
//   checkResolutions({ tsc, packageDir, name, specifiers, types, typeRoots })
//     -> [{ mode, status, output }] for each resolution mode
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** The resolution modes, each with the `module` setting it requires. */
export const MODES = [
  { mode: 'node16', module: 'node16' },
  { mode: 'nodenext', module: 'nodenext' },
  { mode: 'bundler', module: 'esnext' },
];

export function checkResolutions({ tsc, packageDir, name, specifiers, types = [], typeRoots }) {
  const dir = mkdtempSync(path.join(tmpdir(), 'gatepost-ts-resolution-'));
  try {
    const scope = path.join(dir, 'node_modules', path.dirname(name));
    mkdirSync(scope, { recursive: true });
    symlinkSync(packageDir, path.join(dir, 'node_modules', name), 'dir');
    writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    const lines = specifiers.map((s, i) => `import * as m${i} from ${JSON.stringify(s)};`);
    lines.push(`export const modules = [${specifiers.map((_, i) => `m${i}`).join(', ')}];`);
    writeFileSync(path.join(dir, 'index.ts'), `${lines.join('\n')}\n`);
    return MODES.map(({ mode, module }) => {
      const compilerOptions = {
        strict: true,
        noEmit: true,
        target: 'ES2022',
        module,
        moduleResolution: mode,
        // wasm-bindgen's declarations use Symbol.dispose (the wasm README says so).
        lib: ['ES2022', 'ESNext.Disposable', 'DOM'],
        types,
        skipLibCheck: false,
      };
      if (typeRoots !== undefined) compilerOptions.typeRoots = typeRoots;
      const config = path.join(dir, `tsconfig.${mode}.json`);
      writeFileSync(config, JSON.stringify({ compilerOptions, files: ['index.ts'] }));
      const result = spawnSync(tsc, ['-p', config], { encoding: 'utf8' });
      return { mode, status: result.status, output: `${result.stdout}${result.stderr}` };
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
