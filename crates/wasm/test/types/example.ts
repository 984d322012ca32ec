// A typed use of the package, checked with `tsc --strict` (test/typescript.test.mjs): the API
// declarations, wasm-bindgen's Engine declarations and the types generated from the schemas must
// fit together, and wrong uses must not compile (see the @ts-expect-error lines).
import {
  check,
  Engine,
  evaluate,
  GatepostError,
  renderMarkdown,
  renderOnlineReport,
  renderText,
  resume,
  start,
  validate,
  type Action,
  type EvaluateOptions,
  type Event,
  type Input,
  type OnlineReport,
  type Outcome,
} from "@gatepost/wasm";
import init, { evaluate as evaluateWeb, initSync } from "@gatepost/wasm/web";

const options: EvaluateOptions = {
  service: "checkout",
  env: "prod",
  apiUrl: "https://gates-proxy.example.com",
  config: { rules: [{ type: "monitor", name: "monitors", options: { query: "service:checkout", duration: 300 } }] },
  timeout: 900,
  pollInterval: 15,
  signal: AbortSignal.timeout(1_000),
  onEvent: (event: Event) => console.log(event.message),
};

export async function gate(): Promise<number> {
  const outcome = await evaluate(options);
  const verdict: "pass" | "fail" = outcome.verdict;
  if (outcome.cause === "cancelled" && outcome.snapshot !== undefined) {
    const resumed: Outcome = await resume(outcome.snapshot, { apiKey: undefined });
    return resumed.exit_code;
  }
  console.log(verdict, renderText(outcome, { color: false }), renderMarkdown(outcome));
  return outcome.exit_code;
}

export async function edge(): Promise<string> {
  const started = await start(options);
  if (started.done) return started.outcome.message;
  const id: string = started.evaluationId;
  const next = await check(started.snapshot);
  return next.done ? next.outcome.cause : `${id} again at ${next.nextCheckAt}`;
}

export function drive(now: number): Outcome | undefined {
  const engine = new Engine({ service: "checkout", env: "prod", seed: 1 }, now);
  const action: Action = engine.poll(now);
  switch (action.type) {
    case "send_request": {
      const input: Input = { type: "response", request_id: action.request_id, status: 202, headers: [["date", "x"]], body: "{}" };
      engine.handle(input, now);
      return undefined;
    }
    case "wait":
      engine.handle({ type: "timeout" }, action.until);
      return undefined;
    case "done":
      return action.outcome;
  }
}

export function check_config(): boolean {
  const result = validate({ rules: [] }, { version: "v2" });
  for (const problem of result.problems) console.log(problem.path, problem.message, problem.hint ?? "");
  return result.valid;
}

export async function check_online(): Promise<boolean> {
  const report: OnlineReport = await validate(undefined, { online: true, service: "checkout", env: "prod", version: "v2" });
  for (const rule of report.rules) console.log(rule.path, rule.matched ?? "", rule.apm?.service_data ?? "");
  console.log(renderOnlineReport(report, "markdown"));
  return report.ok;
}

export function errors(error: unknown): string | undefined {
  if (error instanceof GatepostError) return `${error.code}: ${error.problems?.length ?? 0} problems`;
  return undefined;
}

export async function web(bytes: BufferSource): Promise<void> {
  initSync({ module: bytes });
  await init();
  await evaluateWeb(options);
}

// Wrong uses do not compile.
// @ts-expect-error an offline validation is not a promise
void validate({ rules: [] }).then;
// @ts-expect-error an online report has no `valid`
void validate(undefined, { online: true, service: "checkout", env: "prod" }).then((r) => r.valid);
// @ts-expect-error service is required
void evaluate({ env: "prod" });
// @ts-expect-error durations are numbers of seconds
void evaluate({ ...options, timeout: "15m" });
// @ts-expect-error inputs are the engine's tagged union
new Engine({ service: "s", env: "e" }, 0).handle({ type: "respond" }, 0);
// @ts-expect-error outcome fields keep the engine's snake_case names
void ((o: Outcome) => o.exitCode);
