// The low-level Engine for a custom host (your own HTTP client, a job queue): the engine decides,
// you perform. Type-checked with `tsc --strict`.
import { Engine, type Action, type Input } from '@gatepost/node';

type Perform = (request: Extract<Action, { type: 'send_request' }>) => Promise<Input>;

export async function runWith(perform: Perform, apiKey: string, appKey: string): Promise<number> {
  const engine = new Engine({ service: 'checkout', env: 'prod', apiKey, appKey, timeout: 600 }, Date.now());
  let pending: Promise<Input> | undefined;
  for (;;) {
    const action: Action = engine.poll(Date.now());
    for (const event of engine.drainEvents()) console.error(event.message);
    switch (action.type) {
      case 'send_request':
        pending = perform(action);
        break;
      case 'wait': {
        const timer = new Promise<Input>((resolve) => setTimeout(() => resolve({ type: 'timeout' }), Math.max(0, action.until - Date.now())));
        const input = await (pending ? Promise.race([pending, timer]) : timer);
        // A response was handled, or the engine gave up on the request at its timeout.
        if (input.type !== 'timeout' || action.reason === 'awaiting_response') pending = undefined;
        engine.handle(input, Date.now());
        break;
      }
      case 'done':
        return action.outcome.exit_code;
    }
  }
}
