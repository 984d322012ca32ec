#!/usr/bin/env python3
"""The emulator under load and abuse (loopback only, bounded in count and time).

Starts `gatepost emulator` and, with a raw-socket asyncio client (stdlib only):
- sends malformed requests: broken JSON, wrong types, deep nesting, invalid UTF-8, lying
  Content-Length, a body far above any sane size, garbage request lines, huge headers — each must
  get an HTTP answer (4xx) or a closed connection, never a crash;
- holds slow clients (headers dribbled byte by byte) open while normal traffic goes on;
- with a low open-file limit (300), the connection cap is lowered to fit and the connections
  beyond it get a quick 503 while the emulator keeps running;
- opens 10,000 stalled connections (half never finish their headers, half never finish the body
  they announced) and, while they are all open, times normal clients, each of which must be
  answered within 1 s; then every stalled connection must be closed by the emulator after its
  timeout (header timeout: closed; body timeout: 408). The harness raises its own open-file limit
  for this;
- runs N concurrent evaluations (default 10,000) to their final result, then reads every result
  again: each must be unchanged (stable once final), and all must be correct for the world;
- checks the emulator still answers, is still running, and never printed a panic.

    python3 tests/hardening/emulator_load.py [--evaluations N] [--concurrency C] [--stalled N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import pathlib
import resource
import selectors
import socket
import statistics
import subprocess
import tempfile
import time

from common import CLI, Emulator, check, cli_available, main_guard, ok, skip, world

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
        # A Content-Length above the body cap is refused at once (413); one within the cap that is
        # never sent gets 408 after the body timeout (the stalled-connections phase checks that).
        status = await raw(port, data, timeout=10)
        code = int(status.split()[1]) if status.startswith("HTTP/") else None
        good = code is not None and 400 <= code < 500 or status.startswith("closed")
        if name == "Content-Length too long":
            good = code == 413
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


# The stalled-connections phase runs against its own emulator with these timeouts (seconds): long
# enough that every stalled connection is still open while normal clients are timed (opening
# 10,000 takes 5-20 s on a loaded 2-core machine), short enough to keep the suite under a minute.
HEADER_TIMEOUT = 30
BODY_TIMEOUT = 30


def raise_open_file_limit(needed: int) -> int:
    """Raise this process's soft RLIMIT_NOFILE to the hard limit; return the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, needed)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def stall_request(kind: str) -> bytes:
    """Part of a request: headers that never end, or headers announcing a body never sent."""
    if kind == "headers":
        return f"GET {TRIGGER}/x HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Stall: ".encode()
    return f"POST {TRIGGER} HTTP/1.1\r\n{HEADERS}Content-Length: 1000\r\n\r\n{{\"data\":".encode()


def timed_request(port: int) -> tuple[float, int]:
    """A normal client on a new connection: seconds until its whole answer, and the status."""
    body = trigger_body(0)
    t0 = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"POST {TRIGGER} HTTP/1.1\r\n{HEADERS}Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    took = time.monotonic() - t0
    return took, int(raw.split(b" ", 2)[1]) if raw.startswith(b"HTTP/1.1 ") else 0


def stalled_connections(count: int) -> None:
    """Plain non-blocking sockets and one epoll: 10,000 stalled clients cost this process little,
    so the timings measure the emulator, not the harness."""
    limit = raise_open_file_limit(count + 500)
    if limit < count + 200:
        skip(f"{count} stalled connections", f"the open-file limit is {limit} (hard limit too low)")
        return
    args = ("--header-timeout", str(HEADER_TIMEOUT), "--body-timeout", str(BODY_TIMEOUT))
    with Emulator(world("healthy"), time_scale=60, extra_args=args) as emu:
        poller = selectors.DefaultSelector()
        stalled: dict[int, dict] = {}
        t0 = time.monotonic()
        for i in range(count):
            sock = socket.create_connection(("127.0.0.1", emu.port), timeout=10)
            kind = "headers" if i % 2 == 0 else "body"
            sock.sendall(stall_request(kind))
            sock.setblocking(False)
            now = time.monotonic()
            stalled[sock.fileno()] = {"sock": sock, "kind": kind, "sent": now, "closed": None, "answer": b""}
            poller.register(sock, selectors.EVENT_READ)
        opened = time.monotonic() - t0

        def watch(seconds: float) -> None:
            """Record every stalled connection the emulator answers or closes."""
            end = time.monotonic() + seconds
            while True:
                for key, _ in poller.select(timeout=max(0.0, min(0.2, end - time.monotonic()))):
                    s = stalled[key.fd]
                    try:
                        data = s["sock"].recv(65536)
                    except (ConnectionError, OSError):
                        data = b""
                    s["answer"] += data
                    if not data:
                        s["closed"] = time.monotonic()
                        poller.unregister(s["sock"])
                if time.monotonic() >= end:
                    return

        watch(0)
        check(f"{count} stalled connections opened in {opened:.1f} s (within the header timeout)",
              opened < HEADER_TIMEOUT - 2, f"took {opened:.1f} s")
        # Normal clients, one after another, while every stalled connection is open.
        latencies = []
        statuses = set()
        for _ in range(20):
            took, status = timed_request(emu.port)
            latencies.append(took)
            statuses.add(status)
        watch(0)
        still_open = sum(1 for s in stalled.values() if s["closed"] is None)
        ok(f"normal clients with {still_open} stalled connections open: median "
           f"{statistics.median(latencies) * 1000:.1f} ms, max {max(latencies) * 1000:.1f} ms (20 requests)")
        check("every normal client was answered (202) within 1 s",
              statuses == {202} and max(latencies) < 1.0, f"statuses {statuses}, max {max(latencies):.3f} s")
        check(f"all {count} stalled connections were still open meanwhile", still_open == count,
              f"{count - still_open} closed early")
        # Then the emulator closes every one of them after its timeout.
        deadline = time.monotonic() + HEADER_TIMEOUT + BODY_TIMEOUT + 20
        while any(s["closed"] is None for s in stalled.values()) and time.monotonic() < deadline:
            watch(0.5)
        left = sum(1 for s in stalled.values() if s["closed"] is None)
        check(f"the emulator closed all {count} stalled connections", not left, f"{left} still open")
        for kind, timeout, answer in (("headers", HEADER_TIMEOUT, None), ("body", BODY_TIMEOUT, b"HTTP/1.1 408")):
            done = [s for s in stalled.values() if s["kind"] == kind and s["closed"] is not None]
            if not done:
                continue
            after = [s["closed"] - s["sent"] for s in done]
            answered = sum(1 for s in done if answer is None or s["answer"].startswith(answer))
            what = "unfinished headers: closed" if answer is None else "unfinished bodies: 408 and closed"
            check(f"{what} {min(after):.1f}–{max(after):.1f} s after the stall began ({kind} timeout {timeout} s)",
                  answered == len(done) and min(after) >= timeout - 0.5 and max(after) < timeout + 20,
                  f"{answered} of {len(done)} answered as expected; {min(after):.1f}–{max(after):.1f} s")
        for s in stalled.values():
            s["sock"].close()
        poller.close()
        took, status = timed_request(emu.port)
        check(f"answered afterwards ({took * 1000:.1f} ms)", status == 202 and took < 1.0, f"{status}, {took:.3f} s")
        log = emu.output()
        check("the emulator never panicked under stalled connections", "panicked" not in log, log[-500:])


def low_file_limit(limit: int = 300, stalled: int = 400) -> None:
    """An emulator whose hard open-file limit is low: it lowers its connection cap to fit (and says
    so), refuses connections beyond it at once with 503, keeps running, and serves again once the
    stalled connections are gone."""
    raise_open_file_limit(stalled + 500)

    def lower() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

    with tempfile.TemporaryDirectory(prefix="gp-emu-low-") as tmp:
        path = pathlib.Path(tmp) / "world.json"
        path.write_text(json.dumps(world("healthy")))
        cmd = [str(CLI), "emulator", "--world", str(path), "--port", "0", "--header-timeout", "3"]
        err = open(pathlib.Path(tmp) / "err.log", "w+b")
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, preexec_fn=lower)  # noqa: PLW1509
        try:
            line = proc.stdout.readline().decode() if proc.stdout else ""
            port = int(line.strip().rsplit(":", 1)[1])
            cap = limit - 128
            socks = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(stalled)]
            took, status = timed_request(port)
            check(f"open-file limit {limit}: with {stalled} stalled connections a new client gets 503 at once "
                  f"({took * 1000:.1f} ms)", status == 503 and took < 1.0, f"{status}, {took:.3f} s")
            err.seek(0)
            note = err.read().decode(errors="replace")
            check(f"open-file limit {limit}: the emulator says it serves at most {cap} connections",
                  f"serving at most {cap} connections" in note, note[-300:])
            for sock in socks:
                sock.close()
            end = time.monotonic() + 15
            status = 0
            while time.monotonic() < end and status != 202:
                took, status = timed_request(port)
                if status != 202:
                    time.sleep(0.2)
            check(f"open-file limit {limit}: answered again once the stalled connections are gone",
                  status == 202 and proc.poll() is None, f"{status}, exit {proc.poll()}")
        finally:
            proc.terminate()
            proc.wait(timeout=10)
            err.close()


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
    ap.add_argument("--stalled", type=int, default=10_000, help="stalled connections (0: skip that phase)")
    args = ap.parse_args()
    asyncio.run(main_async(args))
    if args.stalled and not cli_available():
        stalled_connections(args.stalled)
        low_file_limit()


if __name__ == "__main__":
    main_guard(main)
