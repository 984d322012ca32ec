#!/usr/bin/env python3
"""Check the emulator's evaluation page as headless Chromium rendered it.

    check_page.py DOM.html SCREENSHOT.png

DOM.html is Chromium's `--dump-dom` of /evaluations/{id} for the alerting example world (its
gate: a 5-minute monitor rule and a 5-minute FDD rule; monitor 101 goes ALERT at 2 min); the PNG
is `--screenshot` of the same page at device scale 1. Prints TAP lines and `# pass N` / `# fail N`;
exits 1 when a check fails. Standard library only: the PNG is decoded here with zlib.
"""

import struct
import sys
import zlib
from html.parser import HTMLParser

# ALERT's red (#c4122f) and OK's green (#2e9e5b), as crates/emulator/src/page.rs draws them.
ALERT = (0xC4, 0x12, 0x2F)
OK = (0x2E, 0x9E, 0x5B)


class Elements(HTMLParser):
    """Every start tag with its attributes, in document order, and the text of <title>s."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    def with_class(self, name: str) -> list[dict[str, str]]:
        return [a for _, a in self.tags if name in a.get("class", "").split()]


def read_png(path: str) -> tuple[int, int, list[bytearray]]:
    """Width, height and rows of RGB(A) bytes of an 8-bit, non-interlaced RGB or RGBA PNG."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, header = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
    if header is None:
        raise ValueError("no IHDR")
    width, height, depth, color, _, _, interlace = header
    if depth != 8 or color not in (2, 6) or interlace != 0:
        raise ValueError(
            f"unsupported PNG: depth {depth}, colour type {color}, interlace {interlace}"
        )
    bpp = 3 if color == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows: list[bytearray] = []
    prev = bytearray(stride)
    i = 0
    for _ in range(height):
        kind = raw[i]
        line = bytearray(raw[i + 1 : i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            left = line[x - bpp] if x >= bpp else 0
            up = prev[x]
            corner = prev[x - bpp] if x >= bpp else 0
            if kind == 1:
                line[x] = (line[x] + left) & 0xFF
            elif kind == 2:
                line[x] = (line[x] + up) & 0xFF
            elif kind == 3:
                line[x] = (line[x] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                pred = left if pa <= pb and pa <= pc else (up if pb <= pc else corner)
                line[x] = (line[x] + pred) & 0xFF
            elif kind != 0:
                raise ValueError(f"bad filter {kind}")
        rows.append(line)
        prev = line
    if bpp == 4:
        rows = [bytearray(b for j, b in enumerate(r) if j % 4 != 3) for r in rows]
    return width, height, rows


def columns_of(row: bytearray, color: tuple[int, int, int], tolerance: int = 12) -> list[int]:
    r0, g0, b0 = color
    return [
        x
        for x in range(len(row) // 3)
        if abs(row[3 * x] - r0) <= tolerance
        and abs(row[3 * x + 1] - g0) <= tolerance
        and abs(row[3 * x + 2] - b0) <= tolerance
    ]


def main() -> int:
    dom_path, png_path = sys.argv[1], sys.argv[2]
    results: list[tuple[bool, str]] = []

    def check(ok: bool, what: str) -> None:
        results.append((bool(ok), what))

    with open(dom_path, encoding="utf-8") as f:
        dom = Elements()
        dom.feed(f.read())
    svgs = [a for t, a in dom.tags if t == "svg" and a.get("id") == "window"]
    check(len(svgs) == 1, "the page has one inline SVG of the evaluation window")
    svg = svgs[0] if svgs else {}
    check(
        svg.get("role") == "img" and "window-title" in svg.get("aria-labelledby", ""),
        "the SVG is an image with a title for assistive technology",
    )
    bands = dom.with_class("rule-band")
    check(len(bands) == 2, f"two rule bands (found {len(bands)})")
    check(
        len(dom.with_class("monitor-row")) == 3,
        f"three monitor rows (found {len(dom.with_class('monitor-row'))})",
    )
    check(
        len(dom.with_class("fdd-resource")) == 2,
        f"two FDD resources (found {len(dom.with_class('fdd-resource'))})",
    )
    check(
        bool(bands)
        and bands[0].get("data-status") == "fail"
        and bands[0].get("data-failed-at-ms") == "120000",
        "the monitor rule's band failed at 120 s",
    )
    check(len(bands) > 1 and bands[1].get("data-status") == "pass", "the FDD rule's band passed")
    check(bool(dom.with_class("legend")), "the page has a text legend")
    alerts = [a for a in dom.with_class("seg") if a.get("data-state") == "ALERT"]
    check(
        len(alerts) == 1 and alerts[0].get("data-from-ms") == "120000",
        "one ALERT segment, from 120 s",
    )

    width, height, rows = read_png(png_path)
    check(width >= 960 and height > 0, f"the screenshot decodes ({width}x{height})")
    plot_width = float(svg.get("data-plot-width", "0"))
    axis_end = float(svg.get("data-axis-end-ms", "1"))
    # Rows where the ALERT colour fills a good part of the expected segment: the monitor row.
    expected_alert = plot_width * (axis_end - 120_000) / axis_end
    alert_rows = [
        y for y in range(height) if len(columns_of(rows[y], ALERT)) >= 0.3 * expected_alert
    ]
    check(
        bool(alert_rows),
        f"the screenshot has ALERT-coloured pixels in a band ({len(alert_rows)} rows)",
    )
    if alert_rows:
        run = alert_rows[-1] - alert_rows[0] + 1
        check(
            run == len(alert_rows) and 8 <= run <= 18,
            f"the ALERT pixels form one monitor row ({run} px high from y {alert_rows[0]})",
        )
        middle = rows[(alert_rows[0] + alert_rows[-1]) // 2]
        red = columns_of(middle, ALERT)
        green = columns_of(middle, OK)
        check(
            bool(green) and bool(red) and max(green) < min(red),
            "on that row, OK (green) comes before ALERT (red)",
        )
        if green and red:
            plot_left = min(green)
            start = min(red) - plot_left
            end = max(red) - plot_left
            want_start = plot_width * 120_000 / axis_end
            check(
                abs(start - want_start) <= 4,
                f"the ALERT starts at 2 min on the axis (x {start} px, expected {want_start:.0f})",
            )
            check(
                abs(end - plot_width) <= 4,
                f"the ALERT lasts to the window's end (x {end} px, expected {plot_width:.0f})",
            )
    failed = 0
    for n, (ok, what) in enumerate(results, 1):
        print(f"{'ok' if ok else 'not ok'} {n} - page: {what}")
        failed += not ok
    print(f"# pass {len(results) - failed}")
    print(f"# fail {failed}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
