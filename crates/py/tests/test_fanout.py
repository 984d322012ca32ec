"""Many evaluations at once from one process: the asyncio default (gatepost's own transport, one
connection pool per event loop, with or without httpx), the shared httpx client per event loop
with ``use_httpx=True`` (created once, closed with its loop, never leaked across loops), clients
passed by the caller (used, never closed), a hundred blocking evaluations on a thread pool, and
hundreds of asyncio evaluations, each with its own outcome. Every server is a loopback server the
test starts itself.
"""

from __future__ import annotations

import asyncio
import gc
import json
import sys
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler
from typing import Any

import gatepost
import httpx
import pytest
from conftest import API_KEY, APP_KEY, TRIGGER_PATH, Scripted, reply
from gatepost import _transport_aio, _transport_async
from gatepost._transport_async import shared_client

RESULT_PREFIX = TRIGGER_PATH + "/"


def evaluation_id(service: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, service))


def verdict_of(service: str) -> str:
    """Services ending in an even number pass, odd ones fail: neighbours differ."""
    return "pass" if int(service.rsplit("-", 1)[1]) % 2 == 0 else "fail"


class ManyApi:
    """A fake API that gives every service its own evaluation id and verdict."""

    def __init__(self, server: Scripted) -> None:
        self.server = server
        self.services: dict[str, str] = {}
        self.lock = threading.Lock()
        server.routes[TRIGGER_PATH] = self._trigger
        server.prefixes[RESULT_PREFIX] = self._result

    def _trigger(self, handler: BaseHTTPRequestHandler) -> None:
        # The request this handler serves: the latest one recorded from its connection.
        peer = handler.client_address[1]
        body = next(r["body"] for r in reversed(self.server.requests) if r["peer"] == peer)
        service = json.loads(body)["data"]["attributes"]["service"]
        eid = evaluation_id(service)
        with self.lock:
            self.services[eid] = service
        document = {
            "data": {
                "id": eid,
                "type": "deployment_gates_evaluation_response",
                "attributes": {"evaluation_id": eid},
            }
        }
        reply(handler, 202, json.dumps(document))

    def _result(self, handler: BaseHTTPRequestHandler) -> None:
        eid = handler.path.rsplit("/", 1)[1].split("?", 1)[0]
        with self.lock:
            service = self.services[eid]
        status = verdict_of(service)
        document = {
            "data": {
                "id": eid,
                "type": "deployment_gates_evaluation_result_response",
                "attributes": {
                    "dry_run": False,
                    "evaluation_id": eid,
                    "gate_id": "e140302e-0cba-40d2-978c-6780647f8f1c",
                    "gate_status": status,
                    "rules": [{"name": f"{service} monitors", "status": status, "dry_run": False}],
                },
            }
        }
        reply(handler, 200, json.dumps(document))

    def expected_requests(self, n: int) -> int:
        """A trigger and a result poll each, plus the one failure-details read of each failed
        gate (the odd half; this API does not serve it, which changes nothing)."""
        return 2 * n + sum(verdict_of(f"svc-{i}") == "fail" for i in range(n))

    def connections(self) -> int:
        return len({r["peer"] for r in self.server.requests})


@pytest.fixture
def many(server: Scripted) -> ManyApi:
    return ManyApi(server)


def options(api: ManyApi, i: int, **extra: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "service": f"svc-{i}",
        "env": "prod",
        "api_url": api.server.url,
        "api_key": API_KEY,
        "app_key": APP_KEY,
        "poll_interval": 1,
        "on_event": lambda event: None,
    }
    values.update(extra)
    return values


def assert_each_its_own(outcomes: list[gatepost.Outcome]) -> None:
    for i, outcome in enumerate(outcomes):
        service = f"svc-{i}"
        assert outcome.evaluation_id == evaluation_id(service)
        assert outcome.verdict == verdict_of(service)
        assert outcome.cause == ("gate_passed" if outcome.verdict == "pass" else "gate_failed")
        assert [r.name for r in outcome.rules] == [f"{service} monitors"]


# ------------------------------------------------------------------------------------------
# asyncio: the built-in transport, one pool per loop (the default)


def test_async_fan_out_shares_one_pool_closed_with_the_loop(many: ManyApi) -> None:
    n = 100
    seen: dict[str, Any] = {}

    async def main() -> list[gatepost.Outcome]:
        outcomes = await asyncio.gather(
            *(gatepost.evaluate_async(**options(many, i)) for i in range(n))
        )
        loop = seen["loop"] = asyncio.get_running_loop()
        seen["pools"] = dict(_transport_aio._pools)
        seen["connections"] = set(_transport_aio._pools[loop].open)
        seen["shared"] = dict(_transport_async._shared)
        return list(outcomes)

    outcomes = asyncio.run(main())
    assert_each_its_own(outcomes)
    assert list(seen["pools"]) == [seen["loop"]]
    assert seen["shared"] == {}  # no httpx client is made, installed or not
    assert seen["loop"] not in _transport_aio._pools
    assert seen["pools"][seen["loop"]].closed
    assert all(c.transport is None or c.transport.is_closing() for c in seen["connections"])
    assert len(many.server.requests) == many.expected_requests(n)
    # At most MAX_CONNECTIONS connections at once; the whole run uses no more unless an idle
    # one expired (IDLE_S) on a slow machine.
    assert many.connections() <= n


def test_async_fan_out_never_passes_the_pool_cap(
    many: ManyApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    cap = 3
    monkeypatch.setattr(_transport_aio, "MAX_CONNECTIONS", cap)
    n = 30

    async def main() -> list[gatepost.Outcome]:
        return list(
            await asyncio.gather(*(gatepost.evaluate_async(**options(many, i)) for i in range(n)))
        )

    assert_each_its_own(asyncio.run(main()))
    assert len(many.server.requests) == many.expected_requests(n)
    # Every connection was kept alive and reused: never more than `cap` of them, so never more
    # than `cap` at once.
    assert many.connections() <= cap


def test_exit_closes_the_pool_of_a_loop_never_shut_down(many: ManyApi) -> None:
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(gatepost.evaluate_async(**options(many, 0)))
        pool = _transport_aio._pools[loop]
        connections = set(pool.open)
        _transport_aio._close_at_exit()  # what atexit runs
        assert pool.closed
        assert connections
        assert all(c.transport is not None and c.transport.is_closing() for c in connections)
        assert not _transport_aio._pools
    finally:
        loop.close()


# ------------------------------------------------------------------------------------------
# asyncio: one shared httpx client per loop (use_httpx=True)


def test_async_fan_out_shares_one_client_closed_with_the_loop(many: ManyApi) -> None:
    n = 100
    seen: dict[str, Any] = {}

    async def main() -> list[gatepost.Outcome]:
        outcomes = await asyncio.gather(
            *(gatepost.evaluate_async(**options(many, i), use_httpx=True) for i in range(n))
        )
        seen["client"] = await shared_client()
        seen["loop"] = asyncio.get_running_loop()
        seen["clients"] = dict(_transport_async._shared)
        return list(outcomes)

    outcomes = asyncio.run(main())
    assert_each_its_own(outcomes)
    # One client for the loop, made by gatepost, and closed when asyncio.run shut the loop down.
    assert list(seen["clients"]) == [seen["loop"]]
    assert seen["clients"][seen["loop"]].client is seen["client"]
    assert seen["client"].is_closed
    assert seen["loop"] not in _transport_async._shared
    # Connections are reused across evaluations: far fewer connections than requests (the pool
    # keeps at most 20 open at once; an idle one may expire on a slow machine, so the total over
    # the run can be more).
    assert len(many.server.requests) == many.expected_requests(n)
    assert many.connections() <= n


def test_async_fan_out_without_httpx(many: ManyApi, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without httpx the default is the same built-in transport; use_httpx=True says so."""
    monkeypatch.setitem(sys.modules, "httpx", None)  # `import httpx` now fails
    monkeypatch.setattr(_transport_async, "_httpx_found", None)
    n = 100

    async def main() -> list[gatepost.Outcome]:
        return list(
            await asyncio.gather(
                *(gatepost.evaluate_async(**options(many, i), use_httpx=False) for i in range(n))
            )
        )

    assert_each_its_own(asyncio.run(main()))
    assert not _transport_async._shared
    with pytest.raises(ImportError, match="httpx is not installed"):
        asyncio.run(gatepost.evaluate_async(**options(many, 0), use_httpx=True))


def test_each_loop_gets_its_own_client_also_in_threads(many: ManyApi) -> None:
    clients: list[httpx.AsyncClient] = []

    async def one(i: int) -> gatepost.Outcome:
        outcome = await gatepost.evaluate_async(**options(many, i), use_httpx=True)
        clients.append(await shared_client())
        return outcome

    assert_each_its_own([asyncio.run(one(0)), asyncio.run(one(1))])
    threads = [threading.Thread(target=lambda i=i: asyncio.run(one(i))) for i in (2, 3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(c) for c in clients}) == 4
    assert all(c.is_closed for c in clients)
    assert not _transport_async._shared


def test_a_loop_closed_without_shutting_down_is_dropped_cleanly(
    many: ManyApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    unraisable: list[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    loop = asyncio.new_event_loop()
    outcome = loop.run_until_complete(gatepost.evaluate_async(**options(many, 0), use_httpx=True))
    assert outcome.verdict == "pass"
    loop.close()  # no shutdown_asyncgens(): the client could not be closed on this loop
    assert loop in _transport_async._shared
    # The next loop that needs a client drops the entry of the closed one.
    again = gatepost.evaluate_async(**options(many, 1), use_httpx=True)
    assert asyncio.run(again).verdict == "fail"
    assert not _transport_async._shared
    del loop
    gc.collect()
    assert unraisable == []


def test_exit_closes_the_client_of_a_loop_never_shut_down(many: ManyApi) -> None:
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(gatepost.evaluate_async(**options(many, 0), use_httpx=True))
        client = _transport_async._shared[loop].client
        _transport_async._close_at_exit()  # what atexit runs
        assert client.is_closed
        assert not _transport_async._shared
    finally:
        loop.close()


# ------------------------------------------------------------------------------------------
# Clients passed by the caller


def test_own_async_client_is_used_and_never_closed(many: ManyApi) -> None:
    async def main() -> tuple[list[gatepost.Outcome], httpx.AsyncClient, bool]:
        # follow_redirects=True on the client: gatepost still never follows one.
        client = httpx.AsyncClient(headers={"X-Mine": "yes"}, follow_redirects=True)
        outcomes = await asyncio.gather(
            *(gatepost.evaluate_async(**options(many, i), client=client) for i in range(20))
        )
        shared = asyncio.get_running_loop() in _transport_async._shared
        return list(outcomes), client, shared

    loop = asyncio.new_event_loop()
    try:
        outcomes, client, shared_made = loop.run_until_complete(main())
        # Shut down as asyncio.run does: gatepost's own clients close here, a caller's does not.
        loop.run_until_complete(loop.shutdown_asyncgens())
        assert not client.is_closed
        loop.run_until_complete(client.aclose())
    finally:
        loop.close()
    assert_each_its_own(outcomes)
    assert not shared_made
    assert all(r["headers"].get("X-Mine") == "yes" for r in many.server.requests)


def test_own_sync_client_is_used_and_never_closed(many: ManyApi) -> None:
    with httpx.Client(headers={"X-Mine": "yes"}) as client:
        outcomes = [gatepost.evaluate(**options(many, i), client=client) for i in range(4)]
        assert not client.is_closed
    assert_each_its_own(outcomes)
    assert all(r["headers"].get("X-Mine") == "yes" for r in many.server.requests)
    assert many.connections() == 1


def test_the_wrong_client_is_refused_before_anything_is_sent(many: ManyApi) -> None:
    with httpx.Client() as sync_client, pytest.raises(gatepost.OptionsError, match="AsyncClient"):
        asyncio.run(gatepost.evaluate_async(**options(many, 0), client=sync_client))  # type: ignore[arg-type]

    async def wrong_for_sync() -> None:
        async with httpx.AsyncClient() as async_client:
            with pytest.raises(gatepost.OptionsError, match=r"httpx\.Client"):
                gatepost.evaluate(**options(many, 0), client=async_client)  # type: ignore[arg-type]
            with pytest.raises(gatepost.OptionsError, match=r"use_httpx=False") as error:
                await gatepost.evaluate_async(
                    **options(many, 0), client=async_client, use_httpx=False
                )
            assert [p.path for p in error.value.problems] == ["client"]

    asyncio.run(wrong_for_sync())
    assert many.server.requests == []


# ------------------------------------------------------------------------------------------
# Blocking evaluations on a thread pool


@pytest.mark.parametrize("with_client", [False, True], ids=["urllib", "shared-httpx-client"])
def test_sync_fan_out_on_a_pool_of_100_threads(many: ManyApi, with_client: bool) -> None:
    n = 100
    client = httpx.Client() if with_client else None
    try:
        with ThreadPoolExecutor(max_workers=100) as pool:
            outcomes = list(
                pool.map(lambda i: gatepost.evaluate(**options(many, i), client=client), range(n))
            )
    finally:
        if client is not None:
            client.close()
    assert_each_its_own(outcomes)
    assert len(many.server.requests) == many.expected_requests(n)
    if with_client:
        assert many.connections() <= n < len(many.server.requests)
