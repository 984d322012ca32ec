// The published declarations of @gatepost/node (dist/) compile for a consumer under every
// TypeScript module resolution: node16, nodenext and bundler.
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { checkResolutions } from '../../../scripts/ts-resolution.mjs';

const crate = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const results = checkResolutions({
  tsc: path.join(crate, 'node_modules/.bin/tsc'),
  packageDir: crate,
  name: '@gatepost/node',
  specifiers: ['@gatepost/node'],
  types: ['node'],
  typeRoots: [path.join(crate, 'node_modules/@types')],
});

for (const { mode, status, output } of results) {
  test(`the declarations compile under moduleResolution ${mode}`, () => {
    assert.equal(status, 0, output);
  });
}
