"""How long `jaxlint server` takes from a document edit to its diagnostics (issue 13 target:
one small file in <= 50 ms after start-up).

A minimal LSP client over the server's stdin/stdout (JSON-RPC with Content-Length headers):
start `python -m jaxlint server`, initialize, open a small jitted file in a scratch project,
then send --rounds edits (each changes a constant, so nothing is served from a cache of the
same text) and time each `didChange` -> `publishDiagnostics` round trip. Prints start-up
time, the first open, and the median / max of the edits.

    python benchmarks/server_latency.py --rounds 30
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SOURCE = """\
import jax
import jax.numpy as jnp

SCALE = {k}


@jax.jit
def init_buffer(y0, ts):
    return SCALE * jnp.stack([y0] * len(ts))
"""


class Client:
    def __init__(self, command: list[str], cwd: str) -> None:
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=cwd)
        self.next_id = 0

    def send(self, method: str, params: Any, request: bool = False) -> int | None:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "params": params}
        ident = None
        if request:
            self.next_id += 1
            ident = message["id"] = self.next_id
        body = json.dumps(message).encode()
        assert self.process.stdin is not None
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.process.stdin.flush()
        return ident

    def receive(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        length = 0
        while True:
            line = self.process.stdout.readline()
            if not line:
                raise RuntimeError("the server exited")
            if line in (b"\r\n", b"\n"):
                break
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        return json.loads(self.process.stdout.read(length))

    def wait(self, *, method: str | None = None, ident: int | None = None) -> dict[str, Any]:
        while True:
            message = self.receive()
            if method is not None and message.get("method") == method:
                return message
            if ident is not None and message.get("id") == ident and "method" not in message:
                return message


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=30)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="jaxlint-server-") as folder:
        Path(folder, "pyproject.toml").write_text("[tool.jaxlint]\n")
        path = Path(folder, "model.py")
        path.write_text(SOURCE.format(k=0))
        uri = path.as_uri()
        started = time.perf_counter()
        client = Client([sys.executable, "-m", "jaxlint", "server"], cwd=folder)
        ident = client.send("initialize", {"processId": os.getpid(), "rootUri": Path(folder).as_uri(), "capabilities": {}}, request=True)
        client.wait(ident=ident)
        client.send("initialized", {})
        startup = time.perf_counter() - started

        started = time.perf_counter()
        client.send("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": SOURCE.format(k=0)}})
        opened = client.wait(method="textDocument/publishDiagnostics")
        first = time.perf_counter() - started
        codes = [d["code"] for d in opened["params"]["diagnostics"]]

        timings = []
        for round_ in range(1, options.rounds + 1):
            text = SOURCE.format(k=round_)
            started = time.perf_counter()
            client.send("textDocument/didChange", {"textDocument": {"uri": uri, "version": round_ + 1},
                                                   "contentChanges": [{"text": text}]})
            message = client.wait(method="textDocument/publishDiagnostics")
            timings.append(time.perf_counter() - started)
            assert [d["code"] for d in message["params"]["diagnostics"]] == codes

        ident = client.send("shutdown", None, request=True)
        client.wait(ident=ident)
        client.send("exit", None)
        client.process.wait(timeout=10)
    ms = [t * 1000 for t in timings]
    print(f"diagnostics: {codes}")
    print(f"start-up (spawn + initialize): {startup * 1000:.0f} ms")
    print(f"first didOpen -> diagnostics: {first * 1000:.0f} ms (imports libcst and the rules)")
    print(f"didChange -> diagnostics over {len(ms)} edits: median {statistics.median(ms):.1f} ms, "
          f"min {min(ms):.1f} ms, max {max(ms):.1f} ms")


if __name__ == "__main__":
    main()
