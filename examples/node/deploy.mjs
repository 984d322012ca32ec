#!/usr/bin/env node
// @ts-check
// A deploy script you can copy: evaluate the Deployment Gate, then deploy only if it passes.
//
//   DD_API_KEY=... DD_APP_KEY=... node deploy.mjs --service checkout --env prod --version v2 [--config gate.json]
//
// Options mirror `gatepost gate`. Ctrl-C cancels and prints a snapshot you can resume from with
// `node deploy.mjs --resume FILE`. GATEPOST_API_URL points it at an emulator instead of Datadog.
import { parseArgs } from 'node:util';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { evaluate, resume, renderText, renderMarkdown, GatepostError } from '@gatepost/node';

const { values } = parseArgs({
  options: {
    service: { type: 'string' },
    env: { type: 'string' },
    version: { type: 'string' },
    identifier: { type: 'string' },
    config: { type: 'string' },
    timeout: { type: 'string', default: '3600' },
    'fail-on-error': { type: 'boolean', default: false },
    resume: { type: 'string' },
  },
});

/** @param {import('@gatepost/node').Event} event */
const log = (event) => console.error(event.message);

const controller = new AbortController();
process.once('SIGINT', () => controller.abort());

/** @returns {Promise<import('@gatepost/node').EvaluationOutcome>} */
async function gate() {
  if (values.resume !== undefined) {
    return resume(readFileSync(values.resume, 'utf8'), { signal: controller.signal, onEvent: log });
  }
  if (values.service === undefined || values.env === undefined) {
    console.error('usage: deploy.mjs --service NAME --env ENV [--version V] [--config FILE] [--timeout SECONDS]');
    process.exit(2);
  }
  return evaluate({
    service: values.service,
    env: values.env,
    version: values.version,
    identifier: values.identifier,
    configPath: values.config,
    apiUrl: process.env.GATEPOST_API_URL,
    timeout: Number(values.timeout),
    failOnError: values['fail-on-error'],
    signal: controller.signal,
    onEvent: log,
  });
}

try {
  const outcome = await gate();
  console.log(renderText(outcome, { color: process.stdout.isTTY === true && !process.env.NO_COLOR }));
  if (process.env.GITHUB_STEP_SUMMARY) appendFileSync(process.env.GITHUB_STEP_SUMMARY, renderMarkdown(outcome) + '\n');
  if (outcome.snapshot !== undefined) {
    writeFileSync('gate-snapshot.json', outcome.snapshot);
    console.error('cancelled: resume with `node deploy.mjs --resume gate-snapshot.json`');
  }
  if (outcome.verdict === 'pass') {
    console.log(`deploying ${values.service ?? 'the service'}...`); // your deploy step goes here
  }
  process.exitCode = outcome.exit_code;
} catch (error) {
  // Only misuse lands here (bad options, an invalid config, a snapshot that cannot be read): the
  // server's behaviour is an outcome. Exit 2, as `gatepost gate` does for a usage or config error,
  // so a pipeline tells it apart from a failed gate (1).
  if (error instanceof GatepostError) {
    console.error(`gatepost: ${error.message}`);
    for (const p of error.problems ?? []) console.error(`  ${p.path || '(document)'}: ${p.message}${p.hint ? ` (${p.hint})` : ''}`);
    process.exitCode = 2;
  } else {
    throw error;
  }
}
