#!/usr/bin/env python3
"""A Weir map UDF in Python, standard library only (docs/protocol.md, role "map").

For each message whose value is JSON with a "seq" field it emits one message
{"seq": seq, "doubled": 2 * seq}, keyed "k<seq % 3>" and tagged "even" or "odd"; a message whose
seq is a multiple of 10 is filtered out (zero results); any other value passes unchanged.

Use in a pipeline spec:
  udf: { process: { command: [python3, map.py] } }
"""
import base64
import json
import sys

PROTOCOL = 1


def send(frame):
    sys.stdout.write(json.dumps(frame, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def map_message(message):
    """The results of one message: a list of {value (base64), keys?, tags?}."""
    try:
        seq = json.loads(base64.b64decode(message["value"]))["seq"]
    except (ValueError, KeyError, TypeError):
        return [{"value": message["value"]}]
    if seq % 10 == 0:
        return []
    value = json.dumps({"seq": seq, "doubled": 2 * seq}).encode("utf-8")
    return [{"value": base64.b64encode(value).decode("ascii"), "keys": [f"k{seq % 3}"],
             "tags": ["even" if seq % 2 == 0 else "odd"]}]


def main():
    lines = (json.loads(line) for line in sys.stdin if line.strip())
    hello = next(lines, None)
    if hello is None or hello.get("type") != "hello" or hello.get("role") != "map":
        print("expected a map hello, got", hello, file=sys.stderr)
        return 2
    send({"type": "ready", "protocol": PROTOCOL})
    pending = {}
    for frame in lines:
        key = (frame["epoch"], frame["attempt"])
        if frame["type"] == "data":
            pending.setdefault(key, []).extend(frame["messages"])
        elif frame["type"] == "eot":
            where = {"partition": frame["partition"], "epoch": frame["epoch"], "attempt": frame["attempt"]}
            messages = pending.pop(key, [])
            results = []
            for message in messages:
                try:
                    results.append({"id": message["id"], "results": map_message(message)})
                except Exception as error:  # one bad message fails alone; Weir retries it
                    results.append({"id": message["id"], "error": repr(error)})
            send({"type": "results", **where, "results": results})
            send({"type": "endOfResults", **where})
    return 0


if __name__ == "__main__":
    sys.exit(main())
