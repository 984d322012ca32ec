// For short-lived runtimes (a serverless function, a CI step that must not block): start the
// evaluation, store the snapshot, and check it on a later invocation. Type-checked with
// `tsc --strict`; run it with a TypeScript runner (tsx, ts-node, node --experimental-strip-types).
import { check, start, type CheckResult, type Outcome, type StartResult } from '@gatepost/node';

/** Stand-in for wherever your runtime keeps state between invocations (a KV store, a file). */
const store = new Map<string, string>();

export async function firstInvocation(service: string, env: string): Promise<number | Outcome> {
  const started: StartResult = await start({ service, env, configPath: 'gate.json' });
  if (started.done) return started.outcome;
  store.set(started.evaluationId, started.snapshot);
  return started.nextCheckAt; // schedule the next invocation for then (Unix-epoch ms)
}

export async function laterInvocation(evaluationId: string): Promise<number | Outcome> {
  const snapshot = store.get(evaluationId);
  if (snapshot === undefined) throw new Error(`no evaluation ${evaluationId}`);
  const result: CheckResult = await check(snapshot);
  if (result.done) {
    store.delete(evaluationId);
    return result.outcome; // result.outcome.verdict: 'pass' | 'fail'
  }
  store.set(evaluationId, result.snapshot);
  return result.nextCheckAt;
}
