#!/usr/bin/env python3
"""The emulator under load and abuse (loopback only, bounded in count and time).

Starts `gatepost emulator` and, with a raw-socket asyncio client (stdlib only):
- sends malformed requests: broken JSON, wrong types, deep nesting, invalid UTF-8, lying
  Content-Length, a body far above any sane size, garbage request lines, huge headers — each must
  get an HTTP answer (4xx) or a closed connection, never a crash;
- holds slow clients (headers dribbled byte by byte) open while normal traffic goes on;
- runs N concurrent evaluations (default 10,000) to their final result, then reads every result
  again: each must be unchanged (stable once final), and all must be correct for the world;
- checks the emulator still answers, is still running, and never printed a panic.

    python3 tests/hardening/emulator_load.py [--evaluations N] [--concurrency C]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

from common import Emulator, check, cli_available, main_guard, ok, skip, world

TRIGGER = "/api/v2/deployments/gates/evaluation"
HEADERS = "Host: 127.0.0.1\r\nDD-API-KEY: load-api-key\r\nDD-APPLICATION-KEY: load-app-key\r\nContent-Type: application/json\r\n"


def trigger_body(i: int) -> bytes:
    # Ten-minute monitor rules (ten seconds at time scale 60): half of the evaluations pass, half fail (a query no monitor matches).
    query = "service:checkout env:prod" if i % 2 == 0 else f"service:nothing-{i} env:prod"
    return json.dumps({"data": {"type": "deployment_gates_evaluation_request", "attributes": {
        "service": "checkout", "env": "prod", "configuration": {"rules": [
            {"type": "monitor", "name": "m", "options": {"query": query, "duration": 600}}]}}}}).encode()


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = 0
    chunked = False
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.lower() == "content-length":
            length = int(value.strip())
        if name.lower() == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
    if chunked:
        body = b""
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                break
            body += chunk[:-2]
        return status, body
    return status, await reader.readexactly(length)


class Conn:
    """One keep-alive connection, reopened when the server closes it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.rw: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        for attempt in range(3):
            try:
                if self.rw is None:
                    self.rw = await asyncio.open_connection("127.0.0.1", self.port)
                reader, writer = self.rw
                writer.write(f"{method} {path} HTTP/1.1\r\n{HEADERS}Content-Length: {len(body)}\r\n\r\n".encode() + body)
                await writer.drain()
                return await asyncio.wait_for(read_response(reader), 30)
            except (ConnectionError, asyncio.IncompleteReadError, OSError):
                await self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def close(self) -> None:
        if self.rw is not None:
            self.rw[1].close()
            self.rw = None


async def raw(port: int, data: bytes, timeout: float = 10) -> str:
    """Send raw bytes; return the status line, or how the connection ended."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), timeout)
        return line.decode("latin-1").strip() or "closed"
    except asyncio.TimeoutError:  # before OSError: it is one since Python 3.11
        return "no answer"
    except (ConnectionError, asyncio.IncompleteReadError, OSError) as e:
        return f"closed ({type(e).__name__})"
    finally:
        writer.close()


def post(body: bytes, extra: str = "", length: int | None = None) -> bytes:
    n = len(body) if length is None else length
    return f"POST {TRIGGER} HTTP/1.1\r\n{HEADERS}{extra}Content-Length: {n}\r\nConnection: close\r\n\r\n".encode() + body


async def abuse(port: int) -> None:
    cases = {
        "broken JSON": post(b'{"data": {'),
        "JSON null": post(b"null"),
        "wrong types": post(b'{"data": {"attributes": {"service": 5, "env": ["prod"]}}}'),
        "no attributes": post(b'{"data": {}}'),
        "deep nesting": post(b'{"data":' + b"[" * 100_000 + b"]" * 100_000 + b"}"),
        "invalid UTF-8": post(b'{"data": {"attributes": {"service": "\xff\xfe", "env": "prod"}}}'),
        "empty rules": post(b'{"data": {"attributes": {"service": "s", "env": "e", "configuration": {"rules": []}}}}'),
        "bad rule type": post(b'{"data": {"attributes": {"service": "s", "env": "e", "configuration": {"rules": [{"type": "moniyor", "name": "x", "options": {}}]}}}}'),
        "huge duration": post(b'{"data": {"attributes": {"service": "s", "env": "e", "configuration": {"rules": [{"type": "monitor", "name": "x", "options": {"query": "a:b", "duration": 18446744073709551615}}]}}}}'),
        "oversized body (20 MB)": post(b'{"data": "' + b"x" * 20_000_000 + b'"}'),
        "Content-Length too long": post(b'{"data": {}}', length=10_000_000),
        "Content-Length negative": post(b"{}", length=-5),
        "garbage request line": b"GARBAGE\r\n\r\n",
        "HTTP/0.9": b"GET /\r\n\r\n",
        "huge header": f"GET {TRIGGER}/x HTTP/1.1\r\nHost: a\r\nX-Big: {'a' * 1_000_000}\r\n\r\n".encode(),
        "many headers": (f"GET {TRIGGER}/x HTTP/1.1\r\nHost: a\r\n" + "".join(f"X-{i}: v\r\n" for i in range(10_000)) + "\r\n").encode(),
        "traversal id": f"GET {TRIGGER}/../../../etc/passwd HTTP/1.1\r\n{HEADERS}Connection: close\r\n\r\n".encode(),
        "encoded traversal id": f"GET {TRIGGER}/%2e%2e%2f%2e%2e%2fetc HTTP/1.1\r\n{HEADERS}Connection: close\r\n\r\n".encode(),
        "non-uuid id": f"GET {TRIGGER}/{'z' * 10_000} HTTP/1.1\r\n{HEADERS}Connection: close\r\n\r\n".encode(),
        "unknown method": f"BREW {TRIGGER} HTTP/1.1\r\n{HEADERS}Connection: close\r\n\r\n".encode(),
    }
    for name, data in cases.items():
        # A client that promised more body than it sent is simply waited for (as any server does).
        waits = name == "Content-Length too long"
        status = await raw(port, data, timeout=2 if waits else 10)
        code = int(status.split()[1]) if status.startswith("HTTP/") else None
        good = code is not None and 400 <= code < 500 or status.startswith("closed")
        if waits:
            good = status == "no answer" or good
        if name == "huge duration":
            good = code is not None and code in (202, 400)
        check(f"abuse {name}: answered {status[:40]!r}", good, status)


async def slow_client(port: int, stop: asyncio.Event) -> None:
    """Dribble a request's headers a byte at a time until told to stop."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for byte in f"GET {TRIGGER}/x HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: {'s' * 500}".encode():
            if stop.is_set():
                break
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(0.05)
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def evaluations(port: int, count: int, concurrency: int) -> None:
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(count):
        queue.put_nowait(i)
    finals: dict[int, tuple[str, str]] = {}
    errors: list[str] = []
    statuses: dict[int, int] = {}

    ids: dict[int, str] = {}

    def tally(status: int) -> None:
        statuses[status] = statuses.get(status, 0) + 1

    async def trigger_worker() -> None:
        conn = Conn(port)
        try:
            while not queue.empty():
                i = queue.get_nowait()
                try:
                    status, body = await conn.request("POST", TRIGGER, trigger_body(i))
                    tally(status)
                    if status != 202:
                        errors.append(f"trigger {i}: HTTP {status} {body[:200]!r}")
                        continue
                    ids[i] = json.loads(body)["data"]["attributes"]["evaluation_id"]
                except Exception as e:  # noqa: BLE001 - counted as an error of this evaluation
                    errors.append(f"trigger {i}: {type(e).__name__}: {e}")
        finally:
            await conn.close()

    async def poll_worker(items: list[tuple[int, str]]) -> None:
        conn = Conn(port)
        pending = list(items)
        try:
            for _ in range(100):
                if not pending:
                    break
                still = []
                for i, ident in pending:
                    try:
                        status, body = await conn.request("GET", f"{TRIGGER}/{ident}")
                    except Exception as e:  # noqa: BLE001
                        errors.append(f"poll {i}: {type(e).__name__}: {e}")
                        continue
                    tally(status)
                    gate = json.loads(body)["data"]["attributes"]["gate_status"] if status == 200 else None
                    if gate in ("pass", "fail"):
                        finals[i] = (ident, gate)
                    elif status in (200, 404):
                        still.append((i, ident))
                    else:
                        errors.append(f"poll {i}: HTTP {status}")
                pending = still
                if pending:
                    await asyncio.sleep(0.2)
            errors.extend(f"evaluation {i} never finished" for i, _ in pending)
        finally:
            await conn.close()

    t0 = time.monotonic()
    stop = asyncio.Event()
    slow = [asyncio.ensure_future(slow_client(port, stop)) for _ in range(50)]
    # Every evaluation is created first, so all of them are running in the emulator at once
    # (their rules take ten minutes of world time, ten seconds of real time), then all are polled.
    await asyncio.gather(*(trigger_worker() for _ in range(concurrency)))
    triggered = time.monotonic() - t0
    items = sorted(ids.items())
    await asyncio.gather(*(poll_worker(items[n::concurrency]) for n in range(concurrency)))
    took = time.monotonic() - t0
    stop.set()
    await asyncio.gather(*slow, return_exceptions=True)
    ok(f"{count} concurrent evaluations (all created in {triggered:.1f} s) with {concurrency} connections "
       f"and 50 slow clients, final in {took:.1f} s "
       f"({sum(statuses.values()) / took:.0f} requests/s; statuses {dict(sorted(statuses.items()))})")
    check(f"all {count} evaluations reached a final result", len(finals) == count and not errors,
          f"{len(finals)} final, {len(errors)} errors: {errors[:5]}")
    wrong = [i for i, (_, gate) in finals.items() if gate != ("pass" if i % 2 == 0 else "fail")]
    check("every final result is right for the world", not wrong, f"{len(wrong)} wrong, e.g. {wrong[:5]}")
    # Stable once final: read every result again.
    changed: list[int] = []
    sem = asyncio.Semaphore(concurrency)
    conns = [Conn(port) for _ in range(concurrency)]

    async def recheck(n: int, i: int, ident: str, gate: str) -> None:
        async with sem:
            status, body = await conns[n % len(conns)].request("GET", f"{TRIGGER}/{ident}")
            if status != 200 or json.loads(body)["data"]["attributes"]["gate_status"] != gate:
                changed.append(i)

    # One request at a time per connection: each connection serves its own slice in order.
    async def slice_worker(n: int, items: list) -> None:
        for i, (ident, gate) in items:
            await recheck(n, i, ident, gate)

    items = sorted(finals.items())
    await asyncio.gather(*(slice_worker(n, items[n::concurrency]) for n in range(concurrency)))
    for c in conns:
        await c.close()
    check("every final result is unchanged when read again", not changed, f"{len(changed)} changed: {changed[:5]}")


async def main_async(args: argparse.Namespace) -> None:
    if cli_available():
        skip("emulator load", cli_available())
        return
    with Emulator(world("healthy"), time_scale=60) as emu:
        await abuse(emu.port)
        await evaluations(emu.port, args.evaluations, args.concurrency)
        # Still healthy afterwards.
        status, _ = await Conn(emu.port).request("GET", f"{TRIGGER}/e9d2f04f-4f4b-494b-86e5-52f03e10c8e9")
        check("the emulator still answers afterwards", status in (200, 404), str(status))
        check("the emulator is still running", emu.proc.poll() is None, f"exit {emu.proc.poll()}")
        log = emu.output()
        check("the emulator never panicked", "panicked" not in log, log[-500:])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--evaluations", type=int, default=10_000)
    ap.add_argument("--concurrency", type=int, default=200)
    asyncio.run(main_async(ap.parse_args()))


if __name__ == "__main__":
    main_guard(main)
