// Gates as code from Node: the plan corpus (tests/gates) against a fake API with a virtual clock
// (the fake of crates/core/tests/gates_corpus.rs, in JS), and export → plan → edit → plan → apply →
// plan against the emulator, with an interrupted apply resumed by calling it again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { gates } from '../dist/index.mjs';
import { ROOT, emulatorAvailable, startEmulator, world } from './emulator.mjs';

const { GatesRun } = createRequire(import.meta.url)('../native/index.js');
const SCENARIOS = JSON.parse(readFileSync(path.join(ROOT, 'tests/gates/plans.json'), 'utf8')).scenarios;
const B = '/api/v2/deployment_gates';

const error = (status, detail) => [status, JSON.stringify({ errors: [{ status: String(status), title: 'Error', detail }] })];

class Fake {
  constructor(server) {
    this.gates = structuredClone(server.gates ?? []);
    this.ruleIds = server.rule_ids ?? true;
    this.pageSize = server.page_size ?? 1000;
    this.nullCursor = server.null_cursor ?? false;
    this.faults = server.faults ?? [];
    this.requests = [];
    this.bodies = [];
    this.nextId = 1;
  }
  id() {
    return `00000000-0000-4000-8000-${String(this.nextId++).padStart(12, '0')}`;
  }
  static gateJson(g) {
    return { id: g.id, type: 'deployment_gate', attributes: { service: g.service, env: g.env, identifier: g.identifier, dry_run: g.dry_run } };
  }
  static ruleAttrs(gid, r) {
    return { name: r.name, type: r.type, dry_run: r.dry_run, options: r.options, gate_id: gid };
  }
  handle(requestId, method, url, body) {
    const p = url.replace('https://api.datadoghq.com', '');
    this.requests.push(`${method} ${p}`);
    if (body !== undefined && body !== null) this.bodies.push(JSON.parse(body));
    const fault = this.faults.find((f) => f.at === this.requests.length);
    if (fault !== undefined && !fault.after) return Fake.fault(requestId, fault);
    const [status, text] = this.route(method, p, body);
    if (fault !== undefined) return Fake.fault(requestId, fault);
    return { type: 'response', request_id: requestId, status, headers: [], body: text };
  }
  static fault(requestId, f) {
    if (f.status !== undefined) {
      const [status, body] = error(f.status, f.detail ?? 'fault');
      const headers = f.retry_after !== undefined ? [['Retry-After', f.retry_after]] : [];
      return { type: 'response', request_id: requestId, status, headers, body };
    }
    return { type: 'transport_error', request_id: requestId, kind: 'reset', message: 'connection reset' };
  }
  route(method, full, body) {
    const [p, query = ''] = full.split('?');
    const parts = p.slice(B.length).split('/').filter((x) => x !== '');
    const attrs = body ? JSON.parse(body).data.attributes : {};
    if (parts.length === 0 && method === 'GET') {
      const params = Object.fromEntries(query.split('&').filter(Boolean).map((kv) => kv.split('=')));
      const size = Math.min(Number(params['page[size]'] ?? 50), this.pageSize);
      const offset = Number(params['page[cursor]'] ?? 0);
      const page = { cursor: String(offset), size };
      if (offset + size < this.gates.length) page.next_cursor = String(offset + size);
      else if (this.nullCursor) page.next_cursor = null;
      return [200, JSON.stringify({ data: this.gates.slice(offset, offset + size).map(Fake.gateJson), meta: { page } })];
    }
    if (parts.length === 0 && method === 'POST') {
      const identifier = attrs.identifier ?? 'default';
      if (this.gates.some((g) => g.service === attrs.service && g.env === attrs.env && g.identifier === identifier)) {
        return error(400, 'Gate already exists with the given env, service and identifier');
      }
      const gate = { id: this.id(), service: attrs.service, env: attrs.env, identifier, dry_run: attrs.dry_run ?? false, rules: [] };
      this.gates.push(gate);
      return [200, JSON.stringify({ data: Fake.gateJson(gate) })];
    }
    const gate = this.gates.find((g) => g.id === parts[0]);
    if (gate === undefined) return error(404, 'Gate does not exist');
    const rest = parts.slice(1);
    if (rest.length === 0 && method === 'PUT') {
      gate.dry_run = attrs.dry_run;
      return [200, JSON.stringify({ data: Fake.gateJson(gate) })];
    }
    if (rest.length === 0 && method === 'DELETE') {
      this.gates.splice(this.gates.indexOf(gate), 1);
      return [204, ''];
    }
    if (rest.length === 1 && method === 'GET') {
      const rules = gate.rules.map((r) =>
        this.ruleIds ? { id: r.id, type: 'deployment_rule', attributes: Fake.ruleAttrs(gate.id, r) } : Fake.ruleAttrs(gate.id, r),
      );
      return [200, JSON.stringify({ data: { id: gate.id, type: 'list_deployment_rules', attributes: { rules } } })];
    }
    if (rest.length === 1 && method === 'POST') {
      if (gate.rules.some((r) => r.name === attrs.name)) return error(400, 'Rule name already exists');
      const rule = { id: this.id(), name: attrs.name, type: attrs.type, dry_run: attrs.dry_run ?? false, options: attrs.options };
      gate.rules.push(rule);
      return [200, JSON.stringify({ data: { id: rule.id, type: 'deployment_rule', attributes: Fake.ruleAttrs(gate.id, rule) } })];
    }
    const rule = gate.rules.find((r) => r.id === rest[1]);
    if (rule === undefined) return error(404, 'Rule does not exist');
    if (method === 'PUT') {
      if ('type' in attrs || !['name', 'options', 'dry_run'].every((k) => k in attrs)) {
        return error(400, 'name, options and dry_run are required; type is not allowed');
      }
      Object.assign(rule, { name: attrs.name, options: attrs.options, dry_run: attrs.dry_run });
      return [200, JSON.stringify({ data: { id: rule.id } })];
    }
    gate.rules.splice(gate.rules.indexOf(rule), 1);
    return [204, ''];
  }
}

function drive(fake, task, options) {
  let now = 1000;
  const run = new GatesRun({ ...options, api_key: 'k', app_key: 'a' }, task, now);
  const waits = [];
  for (let i = 0; i < 10_000; i++) {
    const action = run.poll(now);
    if (action.type === 'send_request') {
      const input = fake.handle(action.request_id, action.method, action.url, action.body);
      now += 1;
      run.handle(input, now);
    } else if (action.type === 'wait') {
      waits.push(action.until - now);
      now = action.until;
      run.handle({ type: 'timeout' }, now);
    } else {
      return [action.report, waits];
    }
  }
  throw new Error('the run did not end');
}

const subject = (c) => {
  const gate = `gate ${c.service}/${c.env}/${c.identifier}`;
  return c.rule !== undefined ? `rule ${JSON.stringify(c.rule)} of ${gate}` : gate;
};
const lines = (report) => (report.plan?.changes ?? []).map((c) => `${c.action} ${subject(c)}`);
const task = (kind, s) => ({ task: kind, file: s.file, prune: s.prune ?? null });

test('the corpus has at least 20 scenarios', () => assert.ok(SCENARIOS.length >= 20));

for (const s of SCENARIOS) {
  test(`gates corpus: ${s.name}`, () => {
    const expect = s.expect;
    let fake = new Fake(s.server);
    const before = structuredClone(fake.gates);
    let [report, waits] = drive(fake, task('plan', s), {});
    assert.ok(report.ok, report.error);
    assert.deepEqual(fake.gates, before);
    assert.deepEqual(lines(report), expect.plan);
    for (const t of expect.text_contains ?? []) assert.ok(gates.render(report.plan).includes(t), t);

    fake = new Fake(s.server);
    [report, waits] = drive(fake, task('apply', s), s.options ?? {});
    if (expect.error !== undefined) {
      assert.equal(report.ok, false);
      assert.ok(report.error.includes(expect.error), report.error);
    } else {
      assert.ok(report.ok, report.error);
    }
    assert.deepEqual(fake.requests, expect.requests);
    if (expect.bodies !== undefined) assert.deepEqual(fake.bodies, expect.bodies);
    if (expect.waits !== undefined) assert.deepEqual(waits, expect.waits);
    if (expect.error !== undefined && expect.resume === undefined) return;
    fake.faults = [];
    if (expect.resume !== undefined) {
      fake.requests = [];
      [report] = drive(fake, task('apply', s), {});
      assert.ok(report.ok, report.error);
      assert.deepEqual(fake.requests, expect.resume);
    }
    fake.requests = [];
    [report] = drive(fake, task('apply', s), {});
    assert.ok(report.ok && lines(report).length === 0);
    assert.ok(fake.requests.every((r) => r.startsWith('GET ')));
  });
}

const skip = emulatorAvailable() ? false : 'target/debug/gatepost is missing: cargo build -p gatepost';

test('export → plan → edit → plan → apply → plan against the emulator', { skip }, async () => {
  const emulator = await startEmulator(world('healthy'), { timeScale: 1 });
  try {
    const apiUrl = emulator.url;
    const exported = await gates.export({ apiUrl, scope: { service: 'checkout' } });
    assert.ok(exported.ok, exported.error);
    const file = exported.export;
    assert.deepEqual((await gates.plan({ apiUrl, file })).plan.changes, []);
    file.gates[0].rules[0].options.duration = 600;
    file.gates.push({ service: 'payments', env: 'prod', dryRun: true, rules: [{ type: 'monitor', name: 'Payments', options: { query: 'service:payments' } }] });
    const planned = await gates.plan({ apiUrl, file: JSON.stringify(file) });
    assert.ok(planned.plan.changes.length > 0);
    assert.match(gates.render(planned.plan, 'markdown'), /```diff/);
    const events = [];
    const applied = await gates.apply({ apiUrl, file, onEvent: (e) => events.push(e) });
    assert.ok(applied.ok, applied.error);
    assert.equal(applied.applied, applied.plan.changes.length);
    assert.ok(events.some((e) => e.message.includes('created gate payments/prod/default')));
    assert.deepEqual((await gates.plan({ apiUrl, file })).plan.changes, []);
  } finally {
    await emulator.stop();
  }
});

test('an interrupted apply is resumed by calling it again', { skip }, async () => {
  const faulty = world('healthy', (w) => ({ ...w, faults: { rules: [{ kind: 'pass', times: 2 }, { kind: 'reset' }] } }));
  const emulator = await startEmulator(faulty, { timeScale: 1 });
  try {
    const apiUrl = emulator.url;
    const rule = (name) => ({ type: 'monitor', name, options: { query: 'service:search' } });
    const file = { gates: [{ service: 'search', env: 'prod', rules: ['a', 'b', 'c', 'd'].map(rule) }] };
    const first = await gates.apply({ apiUrl, file, maxRetries: 0 });
    assert.equal(first.ok, false);
    assert.match(first.error, /run it again to resume/);
    assert.ok(first.applied > 0 && first.applied < first.plan.changes.length);
    const second = await gates.apply({ apiUrl, file });
    assert.ok(second.ok, second.error);
    assert.deepEqual((await gates.plan({ apiUrl, file })).plan.changes, []);
  } finally {
    await emulator.stop();
  }
});

test('an invalid gates file throws with every problem', async () => {
  await assert.rejects(gates.plan({ apiUrl: 'http://127.0.0.1:9', file: '{"gates": [{"service": "a", "rules": []}]}' }), (e) => {
    assert.equal(e.code, 'invalid_config');
    assert.deepEqual(e.problems.map((p) => p.path), ['gates[0]']);
    return true;
  });
});
