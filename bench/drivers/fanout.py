"""N concurrent evaluations from one Python process with the gatepost package (bench/run's fan-out).

usage: fanout.py MODE N SERVICE CONFIG_PATH API_URL TIMEOUT_SECONDS

MODE is how the evaluations run, the ways a Python pipeline tool fans out:
  async               N ``evaluate_async`` at once under ``asyncio.gather``, the default transport
                      (gatepost's own asyncio HTTP/1.1 pool), with httpx installed
  async-nohttpx       the same with ``import httpx`` made to fail, as where httpx is not installed
  async-httpx         the same with ``use_httpx=True`` (the loop's shared httpx client)
  async-httpx-client  the same with ``client=`` one ``httpx.AsyncClient`` the program made (with
                      20 connections, as the package README advises)
  threads-W           N blocking ``evaluate`` on a ``ThreadPoolExecutor`` of W workers

Keys come from DD_API_KEY / DD_APP_KEY, as in the package's own default. Prints "passed=P other=O"
and exits 0 only when every evaluation passed. With GATEPOST_FANOUT_DONE=FILE, also writes one
line per evaluation to FILE, "EVALUATION_ID DONE_EPOCH_MS": the moment its outcome was in hand
(bench/lib/lateness.py compares it with the moment the result existed).
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import gatepost


def _ignore(event: Any) -> None:
    return None


def main() -> None:
    """Run the fan-out the arguments describe."""
    mode, n_text, service, config_path, api_url, timeout_text = sys.argv[1:7]
    n = int(n_text)
    with open(config_path, encoding="utf-8") as handle:
        config = handle.read()
    common: dict[str, Any] = {
        "service": service,
        "env": "bench",
        "config": config,
        "api_url": api_url,
        "timeout": float(timeout_text),
        "on_event": _ignore,
    }
    done: list[tuple[str, int]] = []

    def record(outcome: gatepost.Outcome) -> gatepost.Outcome:
        done.append((outcome.evaluation_id or "-", time.time_ns() // 1_000_000))
        return outcome

    outcomes: list[gatepost.Outcome]
    if mode.startswith("threads-"):
        workers = int(mode.split("-", 1)[1])

        def one(_: int) -> gatepost.Outcome:
            return record(gatepost.evaluate(**common))

        with ThreadPoolExecutor(max_workers=workers) as pool:
            outcomes = list(pool.map(one, range(n)))
    elif mode in ("async", "async-nohttpx", "async-httpx", "async-httpx-client"):
        if mode == "async-nohttpx":
            sys.modules["httpx"] = None  # type: ignore[assignment]  # `import httpx` fails
        extra: dict[str, Any] = {"use_httpx": True} if mode == "async-httpx" else {}

        async def one_async() -> gatepost.Outcome:
            return record(await gatepost.evaluate_async(**common, **extra))

        async def run() -> list[gatepost.Outcome]:
            if mode == "async-httpx-client":
                import httpx

                # 20 connections, as the package README advises: an httpx client left at its
                # default of 100 spends most of a fan-out in httpcore's pool bookkeeping (55
                # CPU-s for 1,000 here, and its triggers queue past their timeout).
                limits = httpx.Limits(max_connections=20, max_keepalive_connections=20)
                async with httpx.AsyncClient(limits=limits) as client:
                    extra["client"] = client
                    return list(await asyncio.gather(*(one_async() for _ in range(n))))
            return list(await asyncio.gather(*(one_async() for _ in range(n))))

        outcomes = asyncio.run(run())
    else:
        sys.exit(
            f"unknown mode {mode!r}: async, async-nohttpx, async-httpx, async-httpx-client"
            " or threads-W"
        )
    passed = sum(1 for outcome in outcomes if outcome.exit_code == 0)
    print(f"passed={passed} other={n - passed}")
    done_file = os.environ.get("GATEPOST_FANOUT_DONE")
    if done_file:
        with open(done_file, "w", encoding="utf-8") as handle:
            handle.writelines(f"{evaluation_id} {ms}\n" for evaluation_id, ms in done)
    sys.exit(0 if passed == n else 1)


if __name__ == "__main__":
    main()
