"""Order statistics over the numbers on stdin (one or more per line), for bench/run.

usage: stats.py median|min|max|mean|sum|count|p99|range [--digits N]
`range` prints "median (min–max)"; every statistic is of the sample as measured, no smoothing.
"""

import statistics
import sys


def main() -> None:
    what = sys.argv[1]
    digits = int(sys.argv[3]) if len(sys.argv) > 3 and sys.argv[2] == "--digits" else 3
    values = [float(v) for v in sys.stdin.read().split() if v not in ("", "?")]
    if not values:
        print("n/a")
        return
    values.sort()

    def fmt(x: float) -> str:
        return f"{x:.{digits}f}"

    if what == "median":
        print(fmt(statistics.median(values)))
    elif what == "min":
        print(fmt(values[0]))
    elif what == "max":
        print(fmt(values[-1]))
    elif what == "mean":
        print(fmt(statistics.fmean(values)))
    elif what == "sum":
        print(fmt(sum(values)))
    elif what == "count":
        print(len(values))
    elif what == "p99":
        # nearest-rank percentile
        rank = max(1, -(-99 * len(values) // 100))
        print(fmt(values[rank - 1]))
    elif what == "range":
        print(f"{fmt(statistics.median(values))} ({fmt(values[0])}–{fmt(values[-1])})")
    else:
        sys.exit(f"unknown statistic {what}")


if __name__ == "__main__":
    main()
