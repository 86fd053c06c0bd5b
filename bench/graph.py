"""The PipeWire graph's links, seen by bench.links, for "every DAW stream moved".

The harness starts `bench.links` on Debian's python3 (as the native reactor) and keeps
what it reports current in a thread; `until_linked` answers when every node of the DAW
had a link into the target sink (`watch`, then `wait`), by the event's own time stamp.
"""

from __future__ import annotations

import json
import select
import subprocess
import threading
from pathlib import Path
from typing import IO

from bench.reactors import Native, debian_python
from testbed import sandbox


class LinkWatch:
    def __init__(self) -> None:
        self._proc: subprocess.Popen[str] | None = None
        self._cond = threading.Condition()
        self._nodes: dict[int, tuple[str | None, str | None]] = {}  # id → (app, node name)
        self._links: dict[int, tuple[int, int]] = {}  # id → (output node, input node)
        self._want: tuple[str, str, float] | None = None  # (app, sink, since)
        self._met: float | None = None

    @staticmethod
    def unavailable(stack: sandbox.Stack) -> str | None:
        return Native.unavailable(stack)

    def start(self, stack: sandbox.Stack, workdir: Path) -> None:
        env, wp = Native._env(stack)
        self._proc = debian_python("bench.links", ["--wp", wp], env, workdir / "links.log")
        out = self._proc.stdout
        assert out is not None
        ready, _, _ = select.select([out], [], [], 30)
        first = json.loads(out.readline() or "{}") if ready else {}
        while first.get("ev") not in ("ready", None):
            self._take(first)
            first = json.loads(out.readline() or "{}")
        if first.get("ev") != "ready":
            self.stop()
            tail = (workdir / "links.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"link watcher did not come up:\n{tail}")
        threading.Thread(target=self._read, args=(out,), daemon=True).start()

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(10)
            self._proc = None

    def watch(self, app: str, sink: str, since: float) -> None:
        """Start watching before the moves go out (`until_linked` then only waits)."""
        with self._cond:
            self._want, self._met = (app, sink, since), None
            if self._all_on():  # already there: nothing will move
                self._met = since

    def wait(self, timeout: float = 10.0) -> float | None:
        with self._cond:
            self._cond.wait_for(lambda: self._met is not None, timeout)
            met, want, self._want = self._met, self._want, None
        return None if met is None or want is None else met - want[2]

    def elsewhere(self, app: str, sink: str) -> dict[str, int]:
        """Where the nodes of `app` not linked into `sink` are linked (a miss, told)."""
        with self._cond:
            targets = {i for i, (_, name) in self._nodes.items() if name == sink}
            daw = {i for i, (a, _) in self._nodes.items() if a == app}
            found: dict[str, int] = {}
            for node in daw - {o for o, i in self._links.values() if i in targets}:
                peers = {
                    self._nodes.get(i, (None, "?"))[1] for o, i in self._links.values() if o == node
                }
                key = ", ".join(sorted(str(p) for p in peers)) or "nowhere"
                found[key] = found.get(key, 0) + 1
            return found

    def _read(self, out: IO[str]) -> None:
        for line in out:
            self._take(json.loads(line))

    def _take(self, ev: dict[str, object]) -> None:
        with self._cond:
            kind, ident = ev["ev"], int(str(ev.get("id", -1)))
            if kind == "node":
                self._nodes[ident] = (_str(ev.get("app")), _str(ev.get("name")))
            elif kind == "gone":
                self._nodes.pop(ident, None)
            elif kind == "link":
                self._links[ident] = (int(str(ev["out"])), int(str(ev["inp"])))
            elif kind == "unlink":
                self._links.pop(ident, None)
            if self._want is not None and self._met is None and self._all_on():
                self._met = max(float(str(ev["t"])), self._want[2])
                self._cond.notify_all()

    def _all_on(self) -> bool:
        assert self._want is not None
        app, sink, _ = self._want
        daw = {i for i, (a, _) in self._nodes.items() if a == app}
        targets = {i for i, (_, name) in self._nodes.items() if name == sink}
        linked = {o for o, i in self._links.values() if i in targets}
        return bool(daw) and daw <= linked


def _str(value: object) -> str | None:
    return None if value is None else str(value)
