import { native } from './errors';
import { binding, type NativeEngine } from './native';
import type { Action, EngineOptions, Event, Input } from './types';

/**
 * The sans-IO engine, for custom hosts. Contract: after construction and after every `handle`,
 * call `poll` until it returns `wait` or `done`; perform each `send_request`; on `wait` sleep until
 * `until` (or until the response arrives) and feed `timeout` if nothing else happened. `now` is
 * Unix-epoch milliseconds. Misuse throws a `GatepostError`; what the server does never throws.
 */
export class Engine {
  private inner: NativeEngine;

  constructor(options: EngineOptions, now: number) {
    this.inner = native(() => new binding.Engine(options, now), 'invalid_options');
  }

  /** Poll an evaluation that already exists (no trigger is sent). */
  static attach(evaluationId: string, options: EngineOptions, now: number): Engine {
    return Engine.wrap(native(() => binding.Engine.attach(evaluationId, options, now), 'invalid_options'));
  }

  /** Continue from `snapshot()` (taken in any process or language). Snapshots hold no keys. */
  static resume(snapshot: string, apiKey: string | undefined, appKey: string | undefined, now: number): Engine {
    return Engine.wrap(native(() => binding.Engine.resume(snapshot, apiKey, appKey, now), 'invalid_snapshot'));
  }

  /** Continue from a snapshot only if it belongs to the request `options` describe (with their
   * policy); otherwise start a new evaluation for `options`. `resumed` tells which happened. */
  static resumeFor(snapshot: string, options: EngineOptions, now: number): Engine {
    return Engine.wrap(native(() => binding.Engine.resumeFor(snapshot, options, now), 'invalid_snapshot'));
  }

  /** Whether this engine continues a snapshot's evaluation (rather than a new one). */
  get resumed(): boolean {
    return this.inner.resumed;
  }

  private static wrap(inner: NativeEngine): Engine {
    const engine = Object.create(Engine.prototype) as Engine;
    engine.inner = inner;
    return engine;
  }

  handle(input: Input, now: number): void {
    native(() => this.inner.handle(input, now));
  }

  poll(now: number): Action {
    return native(() => this.inner.poll(now));
  }

  drainEvents(): Event[] {
    return this.inner.drainEvents();
  }

  /** The whole state as JSON text, without keys. */
  snapshot(): string {
    return this.inner.snapshot();
  }

  /** The evaluation id, once the server gave one. */
  get evaluationId(): string | undefined {
    return this.inner.evaluationId ?? undefined;
  }
}
