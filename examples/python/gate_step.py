#!/usr/bin/env python3
"""A deploy pipeline step: evaluate the Deployment Gate, print the report, exit 0 (deploy) or 1.

Copy it into your repository and run it before the deploy:

    DD_API_KEY=... DD_APP_KEY=... python gate_step.py \
        --service checkout --env prod --version "$GIT_SHA" --config gate-config.json

Try it without an account against the local emulator:

    gatepost emulator --world examples/worlds/healthy.json --port 8126 &
    DD_API_KEY=x DD_APP_KEY=y python gate_step.py --service checkout --env prod \
        --api-url http://127.0.0.1:8126

Exit codes are the CLI's: 0 pass, 1 fail (or invalid config), 130 cancelled (Ctrl-C). On GitHub
Actions the markdown report goes to the step summary; ``--json FILE`` keeps the outcome document.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from pathlib import Path

import gatepost


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The step's command line; keys come from DD_API_KEY / DD_APP_KEY, never from flags."""
    parser = argparse.ArgumentParser(description="Evaluate a Datadog Deployment Gate.")
    parser.add_argument("--service", required=True)
    parser.add_argument("--env", required=True)
    parser.add_argument("--identifier")
    parser.add_argument("--version")
    parser.add_argument("--primary-tag")
    parser.add_argument("--config", type=Path, help="gate-config.json with inline rules")
    parser.add_argument("--timeout", type=float, default=10800, help="seconds (default 3 h)")
    parser.add_argument("--poll-interval", type=float, default=15, help="seconds (default 15)")
    parser.add_argument("--fail-on-error", action="store_true", help="fail, not pass, on outages")
    parser.add_argument("--site", help="Datadog site (default DD_SITE or datadoghq.com)")
    parser.add_argument("--api-url", help="another base URL (an emulator, a proxy)")
    parser.add_argument("--json", type=Path, help="write the outcome document here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the gate and return the exit code for the pipeline."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="gatepost: %(message)s")
    # CI systems cancel a job with SIGTERM: treat it like Ctrl-C, so the gate stops cleanly with
    # a `cancelled` outcome (exit 130) instead of dying mid-request.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        outcome = gatepost.evaluate(
            service=args.service,
            env=args.env,
            identifier=args.identifier,
            version=args.version,
            primary_tag=args.primary_tag,
            config_path=args.config,
            timeout=args.timeout,
            poll_interval=args.poll_interval,
            fail_on_error=args.fail_on_error,
            site=args.site,
            api_url=args.api_url,
        )
    except gatepost.GatepostError as error:
        # Invalid options or config: every problem, with its path, before anything was sent.
        print(f"gatepost: {error}", file=sys.stderr)
        return 1
    print(outcome.render("text", color=sys.stdout.isatty() and "NO_COLOR" not in os.environ))
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as handle:
            handle.write(outcome.render("markdown") + "\n")
    if args.json:
        args.json.write_text(outcome.to_json() + "\n", encoding="utf-8")
    return outcome.exit_code


if __name__ == "__main__":
    sys.exit(main())
