#!/usr/bin/env python3
"""Seed the fuzz corpora from the conformance corpus (tests/scenarios/*.json).

Writes fuzz/corpus/<target>/seed-*: config files (as text, mode byte first), monitor queries,
and engine options (keys replaced by $API_KEY/$APP_KEY placeholders so leaks are recognisable).
The engine target's input is structured (arbitrary), so it starts from libFuzzer's own inputs.
Idempotent: existing seeds are overwritten, found inputs are kept.
"""
import hashlib
import json
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fuzz" / "corpus"


def write(target, data):
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    name = "seed-" + hashlib.sha1(data).hexdigest()[:16]
    (d / name).write_bytes(data)


def queries(config):
    if isinstance(config, str):
        try:
            config = json.loads(config)
        except ValueError:
            return
    if not isinstance(config, dict):
        return
    for rule in config.get("rules") or []:
        if isinstance(rule, dict) and isinstance(rule.get("options"), dict):
            q = rule["options"].get("query")
            if isinstance(q, str):
                yield q


def main():
    counts = {"config": 0, "query": 0, "options": 0}
    for path in sorted((ROOT / "tests" / "scenarios").glob("*.json")):
        doc = json.loads(path.read_text())
        for sc in doc.get("scenarios", []) if isinstance(doc, dict) else []:
            opts = dict(sc.get("options") or {})
            config = opts.get("config")
            if config is not None:
                text = config if isinstance(config, str) else json.dumps(config, indent=1)
                for mode in (0, 1, 2):
                    write("config", bytes([mode]) + text.encode())
                    counts["config"] += 1
                for q in queries(config):
                    write("query", q.encode() + b"\n")
                    counts["query"] += 1
            for key, placeholder in (("api_key", "$API_KEY"), ("app_key", "$APP_KEY")):
                if key in opts:
                    opts[key] = placeholder
            write("options", bytes([1]) + json.dumps(opts).encode())
            counts["options"] += 1
    for q in ['env:prod service:transaction-backend',
              'env:prod (service:a OR group:"service:a" OR scope:"service:a")',
              'tag:"use_deployment_gates" AND (NOT group:("team:frontend"))',
              'status:"No Data" muted:false triggered:30m 12345 -team:x title:foo*']:
        write("query", q.encode() + b"\n")
    print(" ".join(f"{k}={v}" for k, v in counts.items()))


if __name__ == "__main__":
    main()
