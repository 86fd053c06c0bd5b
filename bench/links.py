"""Watch the PipeWire graph's links, for the benchmarks' "all moved" on PipeWire.

What a pulse client reads is not the graph: pipewire-pulse showed 100 moved streams on
their new sink to the client that moved them 40-90 ms after the moves, while the first
link to that sink appeared only after 120-180 ms and the last after 0.5-0.7 s (1.4.2),
and another client saw them there ~50 ms after the last link. So "moved" is taken here,
where it is true: the links.

Run as its own process on Debian's python3 with WirePlumber's typelib, as bench.native
(`python3 -m bench.links --wp 0.4|0.5`). Prints JSON lines on stdout: "ready" once the
graph is known, then each node ("node": id, its application and node names) and each link
added or removed (output and input node ids), stamped with time.perf_counter (the
harness's clock: CLOCK_MONOTONIC). Only the standard library and gi here.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any


def _emit(ev: str, **fields: Any) -> None:
    sys.stdout.write(json.dumps({"ev": ev, "t": time.perf_counter(), **fields}) + "\n")
    sys.stdout.flush()


def _added(wp: Any, obj: Any) -> None:
    props = obj.get_property("properties")
    if isinstance(obj, wp.Node):
        _emit(
            "node",
            id=obj.get_bound_id(),
            app=props.get("application.name"),
            name=props.get("node.name"),
        )
    elif isinstance(obj, wp.Link):
        _emit(
            "link",
            id=obj.get_bound_id(),
            out=int(props.get("link.output.node")),
            inp=int(props.get("link.input.node")),
        )


def _removed(wp: Any, obj: Any) -> None:
    if isinstance(obj, wp.Link):
        _emit("unlink", id=obj.get_bound_id())
    elif isinstance(obj, wp.Node):
        _emit("gone", id=obj.get_bound_id())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench.links", description=__doc__)
    p.add_argument("--wp", choices=("0.4", "0.5"), required=True, help="WirePlumber's API")
    args = p.parse_args(argv)
    import gi

    gi.require_version("Wp", args.wp)
    from gi.repository import GLib, Wp

    Wp.init(Wp.InitFlags.ALL)
    core = Wp.Core.new(None, None, None) if args.wp == "0.5" else Wp.Core.new(None, None)
    om = Wp.ObjectManager.new()
    minimal = getattr(Wp, "PIPEWIRE_OBJECT_FEATURES_MINIMAL", None)  # 0.4; 0.5 moved it
    if minimal is None:
        minimal = Wp.ProxyFeatures.PIPEWIRE_OBJECT_FEATURES_MINIMAL
    for kind in (Wp.Node, Wp.Link):
        om.add_interest_full(Wp.ObjectInterest.new_type(kind))
        om.request_object_features(kind, minimal)
    om.connect("object-added", lambda _om, obj: _added(Wp, obj))
    om.connect("object-removed", lambda _om, obj: _removed(Wp, obj))
    om.connect("installed", lambda _om: _emit("ready"))
    loop = GLib.MainLoop()
    if not core.connect():  # the harness ends this process when done
        return 1
    core.install_object_manager(om)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
