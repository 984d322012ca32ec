"""The Python host of the secrets harness: end-to-end runs and error paths with recognisable fake
keys, printing everything a user could see (outcomes, reprs, events, log lines, snapshots,
exception messages and tracebacks). secrets.py checks the output for the keys.

Usage: secrets_host.py PASS_URL FORBIDDEN_URL
"""

import asyncio
import json
import logging
import os
import sys
import traceback

import gatepost

PASS_URL, FORBIDDEN_URL = sys.argv[1], sys.argv[2]
API_KEY, APP_KEY = os.environ["DD_API_KEY"], os.environ["DD_APP_KEY"]
CONFIG = {"rules": [{"type": "monitor", "name": "checkout monitors",
                     "options": {"query": "service:checkout env:prod", "duration": 0}}]}
logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)
results = {}


def show(label, value):
    print(f"--- {label}: {value!r}")
    print(f"--- {label} str: {value}")


def case(name):
    def wrap(fn):
        try:
            results[name] = fn()
        except BaseException as e:  # noqa: BLE001 - every exception is output to check
            show(f"{name} exception", e)
            print(f"--- {name} code: {getattr(e, 'code', None)}")
            traceback.print_exc(file=sys.stdout)
            results[name] = f"exception:{getattr(e, 'code', type(e).__name__)}"
        return fn
    return wrap


def common(url, **kw):
    return dict(service="checkout", env="prod", api_url=url, config=CONFIG, poll_interval=1,
                timeout=60, seed=1, **kw)


@case("pass")
def _():
    events = []
    o = gatepost.evaluate(**common(PASS_URL), on_event=events.append)
    show("outcome", o)
    print(o.render("text"), o.render("markdown"), o.render("json"))
    print(json.dumps(events))
    return o.cause


@case("forbidden")
def _():
    o = gatepost.evaluate(**common(FORBIDDEN_URL))
    show("outcome", o)
    print(o.render("json"))
    return o.cause


@case("bad_options")
def _():
    gatepost.Engine({"service": "", "env": "prod", "api_key": API_KEY, "app_key": APP_KEY,
                     "timeout": -1, "site": "evil.example"})


@case("control_char_key")
def _():
    gatepost.Engine({"service": "s", "env": "e", "api_key": API_KEY + "\n", "app_key": "\x00" + APP_KEY})


@case("key_in_wrong_field")
def _():
    gatepost.Engine({"service": "s", "env": "e", "api_key": API_KEY, "app_key": APP_KEY, "timeout": [1]})


@case("bad_config")
def _():
    gatepost.evaluate(**dict(common(PASS_URL), config='{"rules": [{"type": "moniyor", "name": 1}]'))


@case("engine_repr_snapshot")
def _():
    e = gatepost.Engine(gatepost.options(service="s", env="e", api_url=PASS_URL), 0)
    action = e.poll(0)
    show("engine", e)
    # The keys belong in send_request.headers (and only there): check, then print the rest.
    headers = dict(action.pop("headers"))
    assert headers["DD-API-KEY"] == API_KEY and headers["DD-APPLICATION-KEY"] == APP_KEY
    print(json.dumps(action))
    snap = e.snapshot()
    print(json.dumps(snap))
    try:
        e.handle({"type": "response", "request_id": 99, "status": 200}, 1)
    except gatepost.GatepostError as err:
        show("unknown request", err)
    try:
        gatepost.Engine.resume({"schema_version": 1, "junk": True}, API_KEY, APP_KEY, 1)
    except gatepost.GatepostError as err:
        show("bad snapshot", err)
    return "ok"


@case("cancelled")
def _():
    async def go():
        started = asyncio.Event()

        def on_event(ev):
            print(json.dumps(ev))
            if ev.get("type") == "started":
                started.set()

        slow = dict(common(PASS_URL), config={"rules": [{"type": "monitor", "name": "slow",
                    "options": {"query": "service:checkout env:prod", "duration": 3600}}]})
        task = asyncio.ensure_future(gatepost.evaluate_async(**slow, on_event=on_event))
        await asyncio.wait_for(started.wait(), 20)
        task.cancel()
        try:
            o = await task
            show("cancelled outcome", o)
            return o.cause
        except BaseException as e:  # noqa: BLE001
            show("cancelled exception", e)
            snap = getattr(e, "snapshot", None) or getattr(getattr(e, "outcome", None), "snapshot", None)
            print("snapshot:", json.dumps(snap, default=str))
            return "cancelled-exception"
    return asyncio.run(go())


print("RESULTS " + json.dumps(results))
