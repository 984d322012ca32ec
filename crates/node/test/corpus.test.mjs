// Every scenario of the conformance corpus through the Node addon.
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { Engine } from '../dist/index.mjs';
import { runCorpus } from './corpus-runner.mjs';

const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../tests/scenarios');
runCorpus({ Engine }, { test, dir });
