"""The native PipeWire path, measured: libwireplumber in-process, no pulse protocol.

Run as its own process (`python3 -m bench.native --wp 0.4|0.5 …`) on Debian's python3,
whose PyGObject (python3-gi) loads WirePlumber's typelib: gir1.2-wp-0.4 from the system,
0.5's from the root scripts/fetch-pipewire prepares (GI_TYPELIB_PATH). The GLib main loop
runs in this process; the harness (bench/reactors.py `Native`) starts it like the other
reactors and reads what it logged.

When an Audio/Sink node with the amp's USB ids appears, it sets the node's volume to the
cap (its Props: a null sink has no routes, nor has the test bed's fake amp), then sets
each DAW stream's `target.object` in the "default" metadata to the amp's serial; the
session manager's own linking carries that out, as it does for `pactl move-sink-input`
but without pipewire-pulse in between. Every step is logged (JSON lines, time.perf_counter,
which is CLOCK_MONOTONIC: comparable with the harness's times) together with when the
capped level showed on the node and when a link from a DAW stream to the amp appeared,
so the harness can tell whether the cap was set before the link.

Only the standard library and gi here: Debian's python3 runs it, not the project's venv.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any, TextIO

SLACK = 1e-4  # a float volume read back from the node


class Native:
    def __init__(self, wp: Any, glib: Any, args: argparse.Namespace, log: TextIO) -> None:
        self.Wp = wp
        self.args = args
        self.log = log
        vid, pid = args.usb.split(":")
        self.usb = (vid.lower(), pid.lower())
        self.loop = glib.MainLoop()
        self.core = wp.Core.new(None, None, None) if args.wp == "0.5" else wp.Core.new(None, None)
        self.om = wp.ObjectManager.new()
        self.metadata: Any = None
        self.amp: Any = None  # the amp's node while it is present
        self.amp_id = -1
        self.cap_seen = False
        self.ported = False  # the amp's first input port has appeared
        self.streams: dict[int, Any] = {}  # DAW stream nodes by id

    def emit(self, ev: str, **fields: Any) -> None:
        self.log.write(json.dumps({"ev": ev, "t": time.perf_counter(), **fields}) + "\n")
        self.log.flush()

    # ------------------------------------------------------------------ setup

    def start(self) -> None:
        wp = self.Wp
        nodes = wp.ObjectInterest.new_type(wp.Node)
        links = wp.ObjectInterest.new_type(wp.Link)
        ports = wp.ObjectInterest.new_type(wp.Port)
        meta = wp.ObjectInterest.new_type(wp.Metadata)
        meta.add_constraint(
            wp.ConstraintType.PW_GLOBAL_PROPERTY,
            "metadata.name",
            wp.ConstraintVerb.EQUALS,
            _variant("default"),
        )
        for interest in (nodes, links, ports, meta):
            self.om.add_interest_full(interest)
        # nodes with their info (properties) only: the cap is sent without waiting for
        # the node's params, which are enumerated afterwards to see the cap arrive
        minimal = getattr(wp, "PIPEWIRE_OBJECT_FEATURES_MINIMAL", None)  # 0.4; 0.5 moved it
        if minimal is None:
            minimal = wp.ProxyFeatures.PIPEWIRE_OBJECT_FEATURES_MINIMAL
        self.om.request_object_features(wp.Node, minimal)
        self.om.request_object_features(wp.Link, wp.ProxyFeatures.PROXY_FEATURE_BOUND)
        self.om.request_object_features(wp.Port, wp.ProxyFeatures.PROXY_FEATURE_BOUND)
        self.om.request_object_features(wp.Metadata, wp.OBJECT_FEATURES_ALL)
        self.om.connect("object-added", self.added)
        self.om.connect("object-removed", self.removed)
        self.om.connect("installed", self.installed)
        self.core.install_object_manager(self.om)
        # Wp.Core's own connect() (to the server) hides GObject's signal connect
        if not wp.Core.connect(self.core):
            raise SystemExit("native: cannot connect to PipeWire")
        self.loop.run()

    def installed(self, _om: Any) -> None:
        print("ready" if self.metadata is not None else "no-metadata", flush=True)

    # ------------------------------------------------------------------ objects

    def added(self, _om: Any, obj: Any) -> None:
        wp = self.Wp
        if isinstance(obj, wp.Metadata):
            self.metadata = obj
        elif isinstance(obj, wp.Link):
            self.link_added(obj)
        elif isinstance(obj, wp.Port):
            self.port_added(obj)
        elif isinstance(obj, wp.Node):
            props = _props(wp, obj)
            cls = props.get("media.class")
            if cls == "Audio/Sink" and self.is_amp(props):
                self.amp_added(obj, props)
            elif cls == "Stream/Output/Audio" and props.get("application.name") == self.args.app:
                self.streams[obj.get_bound_id()] = obj
                if self.amp is not None:
                    self.set_target(obj.get_bound_id())

    def removed(self, _om: Any, obj: Any) -> None:
        if not isinstance(obj, self.Wp.Node):
            return
        bound = obj.get_bound_id()
        if obj is self.amp or bound == self.amp_id:
            self.amp, self.amp_id = None, -1
            self.emit("amp-gone", id=bound)
        elif self.streams.pop(bound, None) is not None and self.metadata is not None:
            # the id will be reused; its target must not outlive the stream
            self.metadata.set(bound, "target.object", None, None)

    def is_amp(self, props: Any) -> bool:
        vid, pid = props.get("device.vendor.id"), props.get("device.product.id")
        if vid is None or pid is None:
            return False
        return (_hex(vid), _hex(pid)) == self.usb

    def amp_added(self, node: Any, props: Any) -> None:
        t = time.perf_counter()
        self.amp, self.amp_id, self.cap_seen = node, node.get_bound_id(), False
        self.ported = False
        serial = props.get("object.serial") or str(self.amp_id)
        channels = int(props.get("audio.channels") or 2)
        self.emit("amp", t_added=t, id=self.amp_id, serial=serial, name=props.get("node.name"))
        # 1. the cap: the node's channel volumes (Props), before anything links to it
        b = self.Wp.SpaPodBuilder.new_object("Spa:Pod:Object:Param:Props", "Props")
        b.add_property("channelVolumes")
        arr = self.Wp.SpaPodBuilder.new_array()
        for _ in range(channels):
            arr.add_float(self.args.cap)
        b.add_pod(arr.end())
        b.add_property("mute")
        b.add_boolean(False)
        ok = node.set_param("Props", 0, b.end())
        self.emit("cap-sent", ok=bool(ok), channels=channels)
        # 2. every DAW stream's target: the amp (the session manager links it)
        if self.args.when in ("node", "both"):
            for stream in list(self.streams):
                self.set_target(stream, serial)
        # 3. watch the level arrive (enumerating Props is a round trip of its own)
        node.connect("params-changed", self.params_changed)
        node.activate(
            self.Wp.ProxyFeatures.PIPEWIRE_OBJECT_FEATURE_PARAM_PROPS, None, self.activated, None
        )

    def port_added(self, port: Any) -> None:
        props = self.Wp.GlobalProxy.get_global_properties(port)
        if self.amp is None or self.ported or props.get("port.direction") != "in":
            return
        if props.get("node.id") != str(self.amp_id):
            return
        self.ported = True
        self.emit("amp-port")
        if self.args.when in ("ports", "both"):
            for stream in list(self.streams):
                self.set_target(stream)

    def set_target(self, stream: int, serial: str | None = None) -> None:
        if self.metadata is None or self.amp is None:
            return
        if serial is None:
            serial = _props(self.Wp, self.amp).get("object.serial") or str(self.amp_id)
        self.metadata.set(stream, "target.object", "Spa:Id", serial)
        self.emit("target-sent", stream=stream, serial=serial)

    def activated(self, node: Any, res: Any, _data: Any) -> None:
        try:
            node.activate_finish(res)
        except Exception as exc:  # the amp went away meanwhile
            self.emit("activate-failed", error=str(exc))
            return
        self.check_cap(node)

    def params_changed(self, node: Any, what: Any) -> None:
        if what == "Props":
            self.check_cap(node)

    def check_cap(self, node: Any) -> None:
        if self.cap_seen or node is not self.amp:
            return
        volumes = _channel_volumes(node)
        if volumes and all(v <= self.args.cap + SLACK for v in volumes):
            self.cap_seen = True
            self.emit("cap-seen", id=node.get_bound_id(), volumes=volumes)

    def link_added(self, link: Any) -> None:
        props = self.Wp.GlobalProxy.get_global_properties(link)
        try:
            out_node = int(props.get("link.output.node"))
            in_node = int(props.get("link.input.node"))
        except (TypeError, ValueError):
            return
        if in_node == self.amp_id and out_node in self.streams:
            self.emit("link", stream=out_node, amp=in_node, cap_seen=self.cap_seen)


def _props(wp: Any, obj: Any) -> Any:
    """A PipeWire object's properties (GObject's get_properties() hides the method)."""
    return wp.PipewireObject.get_properties(obj)


def _hex(value: str) -> str:
    """USB ids as the test bed and ALSA write them: "30be" or "0x30be"."""
    v = value.strip().lower()
    return v[2:] if v.startswith("0x") else v


def _variant(value: str) -> Any:
    from gi.repository import GLib

    return GLib.Variant("s", value)


SPA_PROP_CHANNEL_VOLUMES = 0x10008  # spa/param/props.h
SPA_TYPE_FLOAT, SPA_TYPE_ARRAY, SPA_TYPE_OBJECT = 6, 13, 15  # spa/utils/type.h


def _channel_volumes(node: Any) -> list[float]:
    """channelVolumes from the node's cached Props. Read from the pod's bytes: the GI
    iterators over an object's properties hand out pods that are freed under them
    (PyGObject segfaulted on the first property)."""
    it = node.enum_params_sync("Props", None)
    while it is not None:
        ok, pod = it.next()
        if not ok:
            break
        found = _pod_channel_volumes(pod.get_spa_pod())
        if found:
            return found
    return []


def _pod_channel_volumes(addr: int | None) -> list[float]:
    import ctypes
    import struct

    if not addr:
        return []
    size, kind = struct.unpack("<II", ctypes.string_at(addr, 8))
    if kind != SPA_TYPE_OBJECT:
        return []
    body = ctypes.string_at(addr + 8, size)
    off = 8  # the object's type and id
    while off + 16 <= len(body):
        key, _flags, vsize, vtype = struct.unpack_from("<IIII", body, off)
        value = body[off + 16 : off + 16 + vsize]
        if key == SPA_PROP_CHANNEL_VOLUMES and vtype == SPA_TYPE_ARRAY and len(value) >= 8:
            csize, ctype = struct.unpack_from("<II", value, 0)
            if ctype != SPA_TYPE_FLOAT or csize != 4:
                return []
            n = (len(value) - 8) // 4
            return list(struct.unpack_from(f"<{n}f", value, 8))
        off += 16 + ((vsize + 7) & ~7)  # pods are padded to 8 bytes
    return []


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench.native", description=__doc__)
    p.add_argument("--wp", choices=("0.4", "0.5"), required=True, help="WirePlumber's API")
    p.add_argument("--usb", required=True, help="the amp's vvvv:pppp")
    p.add_argument("--cap", type=float, required=True, help="linear channel volume")
    p.add_argument("--app", default="REAPER", help="the DAW's application.name")
    p.add_argument("--log", required=True, help="JSON lines, one per step")
    p.add_argument(
        "--when",
        choices=("node", "ports", "both"),
        default="both",
        # "both": on PipeWire 1.4.2 a target set again when the amp's first port appeared
        # was linked 0.5-3.6 ms later, against 5-10 ms after the port when set only at the
        # node's appearance (single plugs, measured while writing this)
        help="set the DAW's target when the amp's node appears, its first port, or both",
    )
    args = p.parse_args(argv)
    import faulthandler

    faulthandler.enable()  # a crash inside the C libraries shows in the harness's log
    import gi

    gi.require_version("Wp", args.wp)
    from gi.repository import GLib, Wp

    Wp.init(Wp.InitFlags.ALL)
    with open(args.log, "a", encoding="utf-8") as log:
        Native(Wp, GLib, args, log).start()
    return 0


if __name__ == "__main__":
    sys.exit(main())
