// The query-semantics corpus (tests/queries, rules in its README) over a `matchMonitors`, shared by
// the Node addon's and the wasm module's tests: each case is one test.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';

export function runQueryCorpus(matchMonitors, { test, dir }) {
  const read = (name) => JSON.parse(readFileSync(path.join(dir, name), 'utf8'));
  const index = read('index.json');
  assert.equal(index.schema_version, 1);
  let count = 0;
  for (const file of index.files) {
    const topic = read(file);
    for (const c of topic.cases) {
      count += 1;
      test(`queries ${file.slice(0, -5)}/${c.name}`, () => {
        const got = matchMonitors(c.query, c.monitors ?? topic.monitors);
        assert.deepEqual(got, c.expect, `${c.query}`);
      });
    }
  }
  test('the query corpus is not empty', () => assert.ok(count >= 40, `${count} cases`));
  test('a bad query or monitor throws invalid_input naming the place', () => {
    assert.throws(() => matchMonitors('a (', []), (e) => e.code === 'invalid_input' && e.problems[0].path === 'query' && e.problems[0].column === 3);
    assert.throws(
      () => matchMonitors('a', [{ id: 1, groups: [{ name: 'k:v', status: 'red' }] }]),
      (e) => e.code === 'invalid_input' && e.problems[0].path === 'monitors[0].groups[0].status',
    );
  });
}
