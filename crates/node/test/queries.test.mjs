// The query-semantics corpus through the Node addon's matchMonitors.
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { matchMonitors } from '../dist/index.mjs';
import { runQueryCorpus } from './queries-runner.mjs';

const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../tests/queries');
runQueryCorpus(matchMonitors, { test, dir });
