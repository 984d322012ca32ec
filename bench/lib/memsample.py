"""Sample the memory of a process tree until its root exits (bench/run's fan-out section).

usage: memsample.py ROOT_PID OUT_JSON [INTERVAL_S]
Every interval: the sum of RSS and of PSS (proportional set size: shared pages split between the
processes sharing them, so 1,000 copies of one binary are not counted 1,000 times) over ROOT_PID
and all its descendants, from /proc. Writes the peaks and the largest process count seen.
"""

import json
import os
import sys
import time


def tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # the command name may hold spaces and parentheses: fields restart after the last ')'
        fields = stat[stat.rfind(b")") + 2 :].split()
        children.setdefault(int(fields[1]), []).append(int(name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def memory(pid: int) -> tuple[int, int]:
    rss = pss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


def main() -> None:
    root, out = int(sys.argv[1]), sys.argv[2]
    interval = float(sys.argv[3]) if len(sys.argv) > 3 else 0.5
    peak_rss = peak_pss = peak_procs = samples = 0
    while os.path.exists(f"/proc/{root}"):
        pids = tree(root)
        rss = pss = 0
        for pid in pids:
            r, p = memory(pid)
            rss += r
            pss += p
        peak_rss, peak_pss = max(peak_rss, rss), max(peak_pss, pss)
        peak_procs = max(peak_procs, len(pids))
        samples += 1
        time.sleep(interval)
    with open(out, "w") as f:
        json.dump(
            {
                "peak_rss_kib": peak_rss,
                "peak_pss_kib": peak_pss,
                "peak_processes": peak_procs,
                "samples": samples,
                "interval_s": interval,
            },
            f,
        )


if __name__ == "__main__":
    main()
