// The host loop: performs what the engine asks (HTTP with fetch, sleeps with timers) and feeds back
// what happened. It decides nothing: every `if` about the server's behaviour lives in the engine.
// Shared by the Node and the wasm package; it needs only fetch, timers and AbortSignal.
import { startRequest, type InFlight, type RouteFor } from './http';
import type { Action, Event, Input, Outcome } from './types';

/** The engine surface the loop needs (both packages' `Engine` classes have it). */
export interface EngineLike {
  handle(input: Input, now: number): void;
  poll(now: number): Action;
  drainEvents(): Event[];
  snapshot(): string;
  readonly evaluationId?: string;
}

/** When the loop hands control back before the outcome (for short-lived runtimes). */
export type StopAt =
  /** Never: run to the outcome, sleeping as told. */
  | 'done'
  /** At the first wait once the server gave an evaluation id (`start`). */
  | 'evaluation_id'
  /** At the first wait that lies in the future (`check`): never sleeps. */
  | 'future_wait';

export interface LoopOptions {
  route: RouteFor;
  signal?: AbortSignal;
  onEvent?: (event: Event) => void;
  stopAt: StopAt;
  /** Unix-epoch milliseconds; `Date.now` unless a test injects a clock. */
  clock?: () => number;
}

export type LoopResult =
  | { done: true; outcome: Outcome & { snapshot?: string } }
  | { done: false; snapshot: string; nextCheckAt: number };

/**
 * Drive `engine` until it is done (or until `stopAt` says to hand back). The engine contract: at
 * start and after each input, poll until `wait` or `done`; start every `send_request`; on
 * `wait{until}` sleep until `until` or until the response arrives, then feed what came (or
 * `timeout`). An abort feeds `cancel`, and the cancelled outcome carries a resumable snapshot.
 */
export async function runLoop(engine: EngineLike, options: LoopOptions): Promise<LoopResult> {
  const clock = options.clock ?? Date.now;
  const { signal } = options;
  let inFlight: InFlight | undefined;
  let cancelled = false;
  const emit = (): void => {
    const events = engine.drainEvents();
    if (options.onEvent !== undefined) for (const event of events) options.onEvent(event);
  };
  try {
    for (;;) {
      if (signal?.aborted === true && !cancelled) {
        cancelled = true;
        inFlight?.abandon();
        inFlight = undefined;
        engine.handle({ type: 'cancel' }, clock());
      }
      const action = engine.poll(clock());
      emit();
      if (action.type === 'done') {
        const outcome: Outcome & { snapshot?: string } = { ...action.outcome };
        if (outcome.cause === 'cancelled') outcome.snapshot = engine.snapshot();
        return { done: true, outcome };
      }
      if (action.type === 'send_request') {
        // One request is in flight at a time: a new one means the engine gave up on the last.
        inFlight?.abandon();
        inFlight = startRequest(action, options.route);
        continue;
      }
      if (inFlight === undefined && shouldStop(options.stopAt, action.until, engine, clock())) {
        return { done: false, snapshot: engine.snapshot(), nextCheckAt: action.until };
      }
      // Once cancelled, the abort has been delivered: further waits are not cut short by it.
      const woke = await wake(action.until - clock(), inFlight, cancelled ? undefined : signal);
      if (woke.kind === 'abort') continue;
      if (woke.kind === 'input') {
        inFlight = undefined;
        engine.handle(woke.input, clock());
      } else {
        // A wait for a response ends at the request's timeout: the engine gives up on it.
        inFlight?.abandon();
        inFlight = undefined;
        engine.handle({ type: 'timeout' }, clock());
      }
    }
  } finally {
    inFlight?.abandon();
  }
}

function shouldStop(stopAt: StopAt, until: number, engine: EngineLike, now: number): boolean {
  switch (stopAt) {
    case 'done':
      return false;
    case 'evaluation_id':
      return engine.evaluationId !== undefined && engine.evaluationId !== null;
    case 'future_wait':
      return until > now;
  }
}

type Wake = { kind: 'input'; input: Input } | { kind: 'timer' } | { kind: 'abort' };

/** Sleep `ms` (at most), waking early for the in-flight response or an abort. */
function wake(ms: number, inFlight: InFlight | undefined, signal: AbortSignal | undefined): Promise<Wake> {
  if (signal?.aborted === true) return Promise.resolve({ kind: 'abort' });
  return new Promise<Wake>((resolve) => {
    let settled = false;
    const finish = (w: Wake): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      resolve(w);
    };
    const onAbort = (): void => finish({ kind: 'abort' });
    const timer = setTimeout(() => finish({ kind: 'timer' }), Math.max(0, ms));
    signal?.addEventListener('abort', onAbort, { once: true });
    inFlight?.result.then((input) => finish({ kind: 'input', input }));
  });
}
