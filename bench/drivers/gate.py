"""Evaluate one bench gate with the Python package, as a deploy script would (bench/run).

usage: gate.py SERVICE CONFIG_PATH API_URL TIMEOUT_SECONDS — exits with the outcome's exit code.
Keys come from DD_API_KEY / DD_APP_KEY, as in the package's own default.
"""

import sys

import gatepost


def main() -> None:
    service, config_path, api_url, timeout = sys.argv[1:5]
    outcome = gatepost.evaluate(
        service=service,
        env="bench",
        config_path=config_path,
        api_url=api_url,
        timeout=float(timeout),
        on_event=lambda event: None,
    )
    sys.exit(outcome.exit_code)


if __name__ == "__main__":
    main()
