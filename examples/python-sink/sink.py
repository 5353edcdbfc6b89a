#!/usr/bin/env python3
"""A Weir sink in Python, standard library only: the protocol of docs/protocol.md, in full.

Weir starts one copy per partition with stdin/stdout as the frame channel. This sink appends
every message it receives to a file (one JSON line each) and answers "ok" for it once the line
is written. Logs go to stderr, never stdout: stdout carries frames only.

Environment (all optional):
  SINK_OUTPUT         file to append messages to; "{partition}" in it becomes the partition
                      number. Without it the sink only counts what it receives.
  SINK_SHUFFLE        "1": answer an attempt's results in random order (any order is allowed).
  SINK_MAX_LATENCY_MS wait a random 0..N ms before answering each attempt.
  SINK_RESULTS_PER_FRAME  results per results frame (default: all in one frame).
  SINK_FAIL_FIRST     share (0..1) of messages answered "failure" on their first attempt.

Use in a pipeline spec:
  sink: { process: { command: [python3, sink.py], env: { SINK_OUTPUT: "out-{partition}.jsonl" } } }
"""
import base64
import json
import os
import random
import sys
import time

PROTOCOL = 1


def send(frame):
    """One frame: one JSON object on one line, flushed at once (Weir waits for it)."""
    sys.stdout.write(json.dumps(frame, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def log(*parts):
    print("[sink]", *parts, file=sys.stderr, flush=True)


def frames(stream):
    """Every frame Weir writes, in order; blank lines are skipped."""
    for line in stream:
        if line.strip():
            yield json.loads(line)


class Sink:
    """Decides the results of one attempt; misbehaving_sink.py overrides `answer`."""

    def __init__(self, hello):
        self.partition = hello["partition"]
        self.vertex = hello["vertex"]
        output = os.environ.get("SINK_OUTPUT")
        self.out = open(output.replace("{partition}", str(self.partition)), "a", encoding="utf-8") if output else None
        self.shuffle = os.environ.get("SINK_SHUFFLE") == "1"
        self.max_latency = float(os.environ.get("SINK_MAX_LATENCY_MS", "0")) / 1000
        self.per_frame = int(os.environ.get("SINK_RESULTS_PER_FRAME", "0"))
        self.fail_first = float(os.environ.get("SINK_FAIL_FIRST", "0"))
        self.received = 0

    def write(self, epoch, attempt, messages):
        """Makes the messages durable (here: appends them to the output file)."""
        self.received += len(messages)
        if self.out is None:
            return
        lines = []
        for message in messages:
            raw = base64.b64decode(message["value"])
            try:
                value = raw.decode("utf-8")
            except UnicodeDecodeError:
                value = message["value"]
            lines.append(json.dumps({"id": message["id"], "partition": self.partition, "epoch": epoch,
                                     "attempt": attempt, "keys": message["keys"], "value": value}))
        self.out.write("\n".join(lines) + "\n")
        self.out.flush()

    def results(self, attempt, messages):
        """One result per message id: ok, or failure with an error, or fallback with a reason."""
        out = []
        for message in messages:
            if attempt == 1 and self.fail_first > 0 and random.random() < self.fail_first:
                out.append({"id": message["id"], "status": "failure", "error": "transient (SINK_FAIL_FIRST)"})
            else:
                out.append({"id": message["id"], "status": "ok"})
        return out

    def answer(self, partition, epoch, attempt, messages):
        """Sends the attempt's results frames, then its endOfResults."""
        if self.max_latency > 0:
            time.sleep(random.random() * self.max_latency)
        results = self.results(attempt, messages)
        if self.shuffle:
            random.shuffle(results)
        size = self.per_frame if self.per_frame > 0 else max(1, len(results))
        for start in range(0, len(results), size):
            send({"type": "results", "partition": partition, "epoch": epoch, "attempt": attempt,
                  "results": results[start:start + size]})
        send({"type": "endOfResults", "partition": partition, "epoch": epoch, "attempt": attempt})


def main(sink_class=Sink):
    stream = frames(sys.stdin)
    hello = next(stream, None)
    if hello is None or hello.get("type") != "hello" or hello.get("protocol") != PROTOCOL:
        log("expected a protocol", PROTOCOL, "hello, got", hello)
        return 2
    sink = sink_class(hello)
    send({"type": "ready", "protocol": PROTOCOL})
    log("ready: vertex", sink.vertex, "partition", sink.partition, "pid", os.getpid())

    # Messages of the attempt being received, by (epoch, attempt). An attempt Weir gave up on
    # (it timed out, say) may be followed by the next attempt at once; answering the old one
    # late is harmless (Weir ignores it) but wasted work, so only the newest is kept.
    pending = {}
    for frame in stream:
        kind = frame["type"]
        key = (frame["epoch"], frame["attempt"])
        if kind == "data":
            if key not in pending:
                pending.clear()
                pending[key] = []
            pending[key].extend(frame["messages"])
        elif kind == "eot":
            messages = pending.pop(key, [])
            if len(messages) != frame["count"]:
                log("eot count", frame["count"], "but received", len(messages), "messages for", key)
            sink.write(frame["epoch"], frame["attempt"], messages)
            sink.answer(frame["partition"], frame["epoch"], frame["attempt"], messages)
        else:
            log("ignoring an unknown frame type:", kind)
    # stdin closed: Weir is shutting down. Exit promptly (Weir escalates to SIGTERM after a grace).
    log("stdin closed after", sink.received, "messages; exiting")
    return 0


if __name__ == "__main__":
    sys.exit(main())
