"""How late N concurrent evaluations finished after their results existed (bench/run's fan-out).

usage: lateness.py API_URL DONE_FILE DURATION_S START_EPOCH_S [EXIT_EPOCH_S]
DONE_FILE holds one line per evaluation, "EVALUATION_ID DONE_EPOCH_MS", written by the fan-out
driver the moment that evaluation's outcome was in its hands. An evaluation's result exists
DURATION_S after the emulator started it (`started_at` in its evaluations list, time scale 1);
only evaluations created after START_EPOCH_S (when the row started) are read.
Prints one JSON object: how many were matched, the median and largest lateness per evaluation
(outcome in hand minus result exists), and, with EXIT_EPOCH_S, the process exit minus the last
result.
"""

import datetime
import json
import statistics
import sys
import urllib.parse
import urllib.request


def created_ms(api_url: str, since_ms: int) -> dict[str, int]:
    """Every evaluation created at or after since_ms on the emulator: id → created_at in ms."""
    found: dict[str, int] = {}
    cursor = "0"
    while cursor is not None:
        query = urllib.parse.urlencode(
            {"page[size]": 100, "page[cursor]": cursor, "filter[from]": since_ms}
        )
        url = f"{api_url}/api/v2/deployment_gates/evaluations?{query}"
        with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - loopback only
            page = json.load(response)
        for item in page["data"]:
            attributes = item["attributes"]
            text = (attributes.get("started_at") or attributes["created_at"]).replace("Z", "+00:00")
            when = datetime.datetime.fromisoformat(text)
            found[attributes.get("evaluation_id") or item["id"]] = round(when.timestamp() * 1000)
        # The published list leaves next_cursor out on its last page.
        cursor = page["meta"]["page"].get("next_cursor")
    return found


def main() -> None:
    """Print the lateness report for the arguments."""
    api_url, done_file, duration_s = sys.argv[1], sys.argv[2], float(sys.argv[3])
    start_ms = round(float(sys.argv[4]) * 1000)
    exit_s = float(sys.argv[5]) if len(sys.argv) > 5 else None
    done: dict[str, int] = {}
    with open(done_file, encoding="utf-8") as handle:
        for line in handle:
            parts = line.split()
            if len(parts) == 2:
                done[parts[0]] = int(parts[1])
    if not done:
        print(json.dumps({"matched": 0}))
        return
    created = created_ms(api_url, start_ms)
    late = []
    last_result = 0
    for evaluation_id, done_ms in done.items():
        if evaluation_id in created:
            exists = created[evaluation_id] + round(duration_s * 1000)
            last_result = max(last_result, exists)
            late.append((done_ms - exists) / 1000)
    report: dict[str, object] = {"matched": len(late)}
    if late:
        report["late_p50_s"] = round(statistics.median(late), 3)
        report["late_max_s"] = round(max(late), 3)
        if exit_s is not None:
            report["exit_after_last_result_s"] = round(exit_s - last_result / 1000, 3)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
