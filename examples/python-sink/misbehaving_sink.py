#!/usr/bin/env python3
"""A sink that breaks the protocol on purpose, for Weir's tests (see sink.py for a correct one).

It records every message it receives like sink.py (SINK_OUTPUT), then, on the first attempt of
the chosen epochs, misbehaves as MISBEHAVE says; every other attempt is answered correctly, so
a run completes once Weir has redriven what was broken.

  MISBEHAVE        early_eor   half of the results, then endOfResults
                   unknown_id  all results, plus a result for an id Weir never sent
                   crash       half of the results, then the process exits with code 3
                   silent      no answer at all (Weir's resultTimeout must fire)
                   garbage     a line that is not JSON on stdout instead of an answer (counted as
                               MALFORMED_FRAME; the attempt then ends in its resultTimeout)
  MISBEHAVE_EVERY  misbehave on epochs where epoch % N == 1 (default 2: epochs 1, 3, 5, …)
"""
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ next to the examples
from sink import Sink, log, main, send  # noqa: E402

MODE = os.environ.get("MISBEHAVE", "")
EVERY = int(os.environ.get("MISBEHAVE_EVERY", "2"))


class MisbehavingSink(Sink):
    def answer(self, partition, epoch, attempt, messages):
        if attempt != 1 or epoch % EVERY != 1 % EVERY or MODE == "":
            return super().answer(partition, epoch, attempt, messages)
        where = {"partition": partition, "epoch": epoch, "attempt": attempt}
        results = self.results(attempt, messages)
        half = results[: len(results) // 2]
        log("misbehaving:", MODE, "on", where)
        if MODE == "early_eor":
            send({"type": "results", **where, "results": half})
            send({"type": "endOfResults", **where})
        elif MODE == "unknown_id":
            send({"type": "results", **where, "results": results})
            send({"type": "results", **where, "results": [{"id": "no-such-id", "status": "ok"}]})
            send({"type": "endOfResults", **where})
        elif MODE == "crash":
            send({"type": "results", **where, "results": half})
            log("Traceback (most recent call last): simulated crash in epoch", epoch)
            sys.stdout.flush()
            os._exit(3)
        elif MODE == "silent":
            pass
        elif MODE == "garbage":
            sys.stdout.write("this is not a frame\n")
            sys.stdout.flush()
        else:
            raise SystemExit(f"unknown MISBEHAVE={MODE!r}")


if __name__ == "__main__":
    sys.exit(main(MisbehavingSink))
