"""A reducer process for Weir (docs/protocol.md, role "reduce"): counts each window's messages.

Weir sends a closed window as data frames, then an eot naming the window and its keys; this
answers with one result, {"keys", "start", "end", "count"}, like the builtin count.
"""
import base64, json, sys

def send(frame):
    sys.stdout.write(json.dumps(frame) + "\n")
    sys.stdout.flush()

lines = (json.loads(line) for line in sys.stdin if line.strip())
hello = next(lines)                                  # {"type":"hello","role":"reduce",…}
send({"type": "ready", "protocol": 1})
batch = []
for frame in lines:                                  # ends when Weir closes stdin
    if frame["type"] == "data":
        batch.extend(frame["messages"])
    elif frame["type"] == "eot":
        where = {k: frame[k] for k in ("partition", "epoch", "attempt")}
        window, keys = frame["window"], frame["keys"]
        value = json.dumps({"keys": keys, "start": window["start"], "end": window["end"], "count": len(batch)})
        send({"type": "results", **where, "results": [{"value": base64.b64encode(value.encode()).decode()}]})
        send({"type": "endOfResults", **where})
        batch = []
