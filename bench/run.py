"""dawroute benchmarks on real servers. `./scripts/bench` (full) or `--quick` (CI smoke).

Each benchmark writes bench/results/<name>.json (or --out DIR); bench/report.py turns
them into docs/benchmarks.md. Nothing here asserts a time: the report states ratios
against a baseline measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

from bench.floor import Floor
from bench.graph import LinkWatch
from bench.harness import Observer, cpu_seconds, percentiles, rss_mb, wakeups
from bench.reactors import (
    AMP_CAP,
    AMP_NAME,
    BENCH_PROFILES,
    IFACE,
    IFACE_NAME,
    Dawroute,
    Native,
    PactlScript,
    Reactor,
    ServerPolicy,
    amp,
)
from testbed import sandbox

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DAW_APP = "REAPER"  # the application name start_daw and start_daw_streams give the DAW


def _start(kind: str) -> sandbox.Stack:
    """ "pulseaudio", "pipewire" (the system's) or a generation's label ("pipewire-1.4.2")."""
    if kind == "pulseaudio":
        return sandbox.start_pulseaudio()
    if kind == "pipewire":
        return sandbox.start_pipewire()
    for gen in sandbox.pipewire_generations():
        if gen.label == kind:
            return sandbox.start_pipewire(generation=gen)
    raise SystemExit(f"bench: {kind} is not prepared (scripts/fetch-pipewire)")


def _server_version(stack: sandbox.Stack) -> str:
    info = sandbox.with_pulse(stack, lambda p: p.server_info())
    return f"{info.server_name} {info.server_version}"


# ---------------------------------------------------------------- 1+2: hot-plug and unplug


async def _one_plug(
    obs: Observer, stack: sandbox.Stack, reactor: Reactor
) -> tuple[float | None, float | None]:
    if reactor.resets_default:
        await obs.pulse.sink_default_set(IFACE_NAME)
    daw_proc = sandbox.start_daw(stack, sink=IFACE_NAME if reactor.daw_on_device else None)
    try:
        daw = await obs.daw_stream()
        await obs.wait_routed(daw, IFACE_NAME, time.perf_counter(), 3.0)
        obs.drain()
        module = await obs.pulse.module_load(*amp(reactor.device_priority).modules()[0])
        appeared, routed = await obs.wait_routed(daw, AMP_NAME, None, 3.0)
        plug_ms = (routed - appeared) * 1000 if appeared and routed else None
        obs.drain()
        t_remove = time.perf_counter()
        await obs.pulse.module_unload(module)
        _, back = await obs.wait_routed(daw, IFACE_NAME, t_remove, 3.0)
        unplug_ms = (back - t_remove) * 1000 if back else None
        return plug_ms, unplug_ms
    finally:
        daw_proc.terminate()
        daw_proc.wait()
        stack.procs = [(n, p) for n, p in stack.procs if p is not daw_proc]


def hotplug(kind: str, rounds: int, work: Path) -> dict[str, Any]:
    stack = _start(kind)
    try:
        sandbox.plug(stack, IFACE)
        reactors: list[Reactor] = [
            ServerPolicy(stack.kind),
            PactlScript(),
            Floor(AMP_NAME, AMP_CAP / 100),
            Dawroute(),
        ]
        if stack.kind == "pipewire":  # PulseAudio has applied a level when it answers
            reactors.insert(3, Floor(AMP_NAME, AMP_CAP / 100, safe=True))
        # the native PipeWire path (libwireplumber in-process), where its typelib exists
        native_skipped = Native.unavailable(stack)
        native = None if native_skipped else Native()
        if native is not None:
            # before dawroute: the daemon writes its caps into the cap guard's metadata
            # (WirePlumber 0.5), and the guard then holds every later link to the amp for
            # its settle time (20 ms), which is the guard's, not the native path's
            reactors.insert(1, native)
        elif stack.kind == "pipewire":
            print(f"native reactor skipped: {native_skipped}", flush=True)
        plug: dict[str, list[float]] = {r.name: [] for r in reactors}
        unplug: dict[str, list[float]] = {r.name: [] for r in reactors}
        missed = {phase: {r.name: 0 for r in reactors} for phase in ("plug", "unplug")}

        async def measure(reactor: Reactor) -> None:
            async with Observer(stack.pulse_server) as obs:
                p, u = await _one_plug(obs, stack, reactor)
            for phase, table, value in (("plug", plug, p), ("unplug", unplug, u)):
                if value is None:
                    missed[phase][reactor.name] += 1
                else:
                    table[reactor.name].append(value)

        # Each reactor runs all its rounds as users run it: one daemon (one script, one
        # loaded module) across every round, started once. A fresh daemon per round hid
        # a bug that only a long-lived daemon has (a sent default kept after its device
        # was unplugged made every later observe start pw-metadata).
        for reactor in reactors:
            reactor.start(stack, work)
            try:
                for _ in range(rounds):
                    asyncio.run(measure(reactor))
            finally:
                reactor.stop()
        out: dict[str, Any] = {
            "server": kind,
            "version": _server_version(stack),
            "rounds": rounds,
            "plug": plug,
            "unplug": unplug,
            "missed": missed,
            "summary": {
                "plug": {k: percentiles(v) for k, v in plug.items()},
                "unplug": {k: percentiles(v) for k, v in unplug.items()},
            },
        }
        if native is not None:
            out["native"] = {"cap_before_link": native.cap_before_link()}
        elif stack.kind == "pipewire":
            out["native"] = {"skipped": native_skipped}
        return out
    finally:
        stack.stop()


# ---------------------------------------------------------------- 3: CLI


def _time(argv: list[str], env: dict[str, str], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run(argv, env=env, capture_output=True, check=False)
        out.append((time.perf_counter() - t) * 1000)
    return out


# A switch through the control socket with nothing but the interpreter, socket and json:
# the least a Python client pays (dawroute's own CLI adds its imports and its output).
BARE_CLIENT = """
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
request = {"id": 1, "method": "switch", "params": {"profile": sys.argv[2]}}
s.sendall(json.dumps(request).encode() + b"\\n")
reply = s.makefile("rb").readline()
assert b'"result"' in reply, reply
"""


def cli(rounds: int, work: Path) -> dict[str, Any]:
    stack = sandbox.start_pipewire()
    daemon = Dawroute(BENCH_PROFILES.replace("priority: 90", "priority: 90\n    auto: false"))
    try:
        sandbox.plug(stack, IFACE)
        sandbox.plug(stack, amp(1))
        sandbox.start_daw(stack, sink=IFACE_NAME)
        time.sleep(0.3)
        daemon.start(stack, work)
        env = daemon.env
        dawroute = [sys.executable, "-m", "routing"]
        switch: list[float] = []
        pactl: list[float] = []
        bare: list[float] = []
        sock = str(Path(env["XDG_RUNTIME_DIR"]) / "dawroute" / "control.sock")
        daw = sandbox.with_pulse(
            stack,
            lambda p: next(i.index for i in p.sink_input_list() if _is_daw(i)),
        )
        for i in range(rounds):
            target = "amp" if i % 2 == 0 else "iface"
            switch += _time([*dawroute, "switch", target], env, 1)
            # the floor for any Python client: the same request, socket and json only
            back = "iface" if target == "amp" else "amp"
            bare += _time([sys.executable, "-c", BARE_CLIENT, sock, back], env, 1)
            sink = AMP_NAME if i % 2 else IFACE_NAME  # the baseline moves it back and forth too
            script = f"pactl move-sink-input {daw} {sink} && pactl set-default-sink {sink}"
            pactl += _time(["bash", "-c", script], env, 1)
        status = _time([*dawroute, "status"], env, rounds)
        check = _time([*dawroute, "check", str(ROOT / "profiles")], env, rounds)
        python = _time([sys.executable, "-c", "pass"], env, rounds)
        return {
            "switch": switch,
            "pactl": pactl,
            "bare": bare,
            "status": status,
            "check": check,
            "python": python,
            "summary": {
                k: percentiles(v)
                for k, v in (
                    ("switch", switch),
                    ("pactl", pactl),
                    ("bare", bare),
                    ("status", status),
                    ("check", check),
                    ("python", python),
                )
            },
        }
    finally:
        daemon.stop()
        stack.stop()


# ---------------------------------------------------------------- 4: MIDI


# The default debounce: rtmidi's JACK input can turn a tap's note-off into a second
# note-on in the same JACK period, which the debounce drops (routing.triggers); presses
# here are 50 ms or more apart, so it drops nothing else.
MIDI_CONFIG = """
midi:
  debounce_ms: 40
  triggers:
    - port: "~BenchController"
      note: 36
      toggle: [iface, amp]
"""


def midi(rounds: int, work: Path) -> dict[str, Any]:
    import rtmidi

    out: dict[str, Any] = {}
    for period in (64, 256):
        jack = sandbox.start_jackd(period=period)
        stack = sandbox.start_pulseaudio()
        os.environ.update({k: jack.env[k] for k in ("JACK_DEFAULT_SERVER", "JACK_NO_START_SERVER")})
        daemon = Dawroute(
            BENCH_PROFILES.replace("priority: 90", "priority: 90\n    auto: false"),
            {k: v for k, v in jack.env.items() if k.startswith("JACK_")},
            MIDI_CONFIG,
        )
        ctl = None
        try:
            sandbox.plug(stack, IFACE)
            sandbox.plug(stack, amp(1))
            sandbox.start_daw(stack, sink=IFACE_NAME)
            ctl = rtmidi.MidiOut(rtapi=rtmidi.API_UNIX_JACK, name="BenchController")
            ctl.open_virtual_port("out")
            daemon.start(stack, work)
            time.sleep(0.5)  # the daemon finds the controller port
            samples = asyncio.run(_midi_samples(stack, ctl, rounds))
            out[str(period)] = {
                "period_ms": period / 48.0,
                "samples": samples,
                "summary": percentiles(samples),
            }
        finally:
            if ctl is not None:
                ctl.close_port()
                ctl.delete()
            daemon.stop()
            stack.stop()
            jack.stop()
    return out


async def _midi_samples(stack: sandbox.Stack, ctl: Any, rounds: int) -> list[float]:
    samples: list[float] = []
    async with Observer(stack.pulse_server) as obs:
        daw = await obs.daw_stream()
        for i in range(rounds):
            target = AMP_NAME if i % 2 == 0 else IFACE_NAME
            if i:
                await asyncio.sleep(0.05)
            obs.drain()
            t = time.perf_counter()
            ctl.send_message([0x90, 36, 100])
            ctl.send_message([0x80, 36, 0])
            _, routed = await obs.wait_routed(daw, target, t, 3.0)
            if routed:
                samples.append((routed - t) * 1000)
    return samples


# ---------------------------------------------------------------- 5: scale


def scale(quick: bool, work: Path) -> dict[str, Any]:

    result: dict[str, Any] = {"streams": {}, "devices": {}}
    # The DAW is one client with n streams (testbed.daw_streams), as a DAW opens them; one
    # sink mixes at most 128 streams on PipeWire 0.3.65 (mixer-dsp: "can't get input mix
    # -22" beyond that), so the largest runs stay at 100.
    runs = [("pipewire", 1), ("pipewire", 10), ("pipewire", 100)]
    newer = [g.label for g in sandbox.pipewire_generations() if g.root is not None]
    runs += [] if quick else [(label, 100) for label in newer] + [("pulseaudio", 100)]
    for kind, n in runs[:2] if quick else runs:
        result["streams"][f"{kind} {n}"] = _streams_moved(kind, n, work)
    for n in (4,) if quick else (4, 64):  # the target: 64 devices present vs 4
        rounds = 3 if quick else 15
        # the floor: WirePlumber's own policy with as many devices, in the same run
        result["devices"][str(n)] = {
            "dawroute": _hotplug_with_devices(n, rounds, work),
            "WirePlumber": _hotplug_with_devices(n, rounds, work, ServerPolicy("pipewire")),
        }
    result["profiles"] = _many_profiles(500, work)
    result["storm"] = _storm(200 if quick else 1000, work)
    return result


def _wait_streams(stack: sandbox.Stack, n: int) -> None:
    sandbox.wait_for(lambda: len(_daw_sinks(stack)) == n, 30, f"{n} DAW streams")


def _streams_moved(kind: str, n: int, work: Path) -> dict[str, Any]:
    """n DAW streams moved to the amp: by dawroute's `switch`, by a bare client's moves,
    and (PipeWire) by WirePlumber itself when they follow the default and it changes.
    "Moved" is read where it is true: on PipeWire the graph's links (bench.graph; a pulse
    client is told of a move before it is linked, see bench/links.py), on PulseAudio the
    server, which has moved a stream when it answers."""
    from routing.client import ControlClient
    from routing.client import run as run_sync

    stack = _start(kind)
    daemon = Dawroute(BENCH_PROFILES.replace("priority: 90", "priority: 90\n    auto: false"))
    links = None if kind == "pulseaudio" else LinkWatch()
    why = None if links is None else links.unavailable(stack)
    if why is not None:
        links = None  # told in the results: what a pulse client sees comes early
    try:
        if links is not None:
            links.start(stack, work)
        sandbox.plug(stack, IFACE)
        sandbox.plug(stack, amp(1))
        sandbox.with_pulse(stack, lambda p: p.sink_default_set(IFACE_NAME))
        sandbox.start_daw_streams(stack, n)  # no target: they follow the default
        _wait_streams(stack, n)
        # once WirePlumber has linked the new streams (right after they listed, the same
        # moves took 1.35 s on both generations)
        time.sleep(1.0)
        out: dict[str, Any] = {
            "measured_in": "graph" if links else f"pulse{f' (no graph: {why})' if why else ''}"
        }
        if links is not None:
            out["policy_ms"] = _by_the_default(stack, links, AMP_NAME)
            _by_the_default(stack, links, IFACE_NAME)
        out["bare_client_ms"] = asyncio.run(_bare_moves(stack, AMP_NAME, links))
        asyncio.run(_bare_moves(stack, IFACE_NAME, links))
        # a home of its own: a state kept from the last run would restore its manual
        # choice of the amp at start-up, and the switch would move nothing
        home = work / f"streams-{kind}-{n}"
        home.mkdir()
        daemon.start(stack, home)
        client = ControlClient(Path(daemon.env["XDG_RUNTIME_DIR"]) / "dawroute" / "control.sock")
        switch = partial(run_sync, client.switch("amp"))
        replied, settled = asyncio.run(_switched(stack, switch, links))
        if settled is None and links is None:
            raise sandbox.SandboxError(f"{kind}: not all {n} streams moved in 10 s")
        if settled is None and links is not None:
            # kept, not raised: where the graph left them is the finding
            out["missed"] = links.elsewhere(DAW_APP, AMP_NAME)
        return {**out, "replied_ms": replied, "all_moved_ms": settled}
    finally:
        daemon.stop()
        if links is not None:
            links.stop()
        stack.stop()


def _by_the_default(stack: sandbox.Stack, links: LinkWatch, sink: str) -> float | None:
    """The session manager's own speed: ms until every DAW stream, following the default,
    is linked to `sink` after it became the default (one policy rescan for all)."""
    t = time.perf_counter()
    links.watch(DAW_APP, sink, t)
    sandbox.with_pulse(stack, lambda p: p.sink_default_set(sink))
    took = links.wait()
    return None if took is None else took * 1000


async def _switched(
    stack: sandbox.Stack, switch: Callable[[], object], links: LinkWatch | None
) -> tuple[float, float | None]:
    """(ms until dawroute's `switch` replied, ms until every DAW stream was on the amp),
    both from before the request."""
    import pulsectl_asyncio

    async with pulsectl_asyncio.PulseAsync("bench-watch", server=stack.pulse_server) as p:
        target = int((await p.get_sink_by_name(AMP_NAME)).index)
        t = time.perf_counter()
        if links is not None:
            links.watch(DAW_APP, AMP_NAME, t)
        switch()  # a blocking request: this connection only waits meanwhile
        replied = (time.perf_counter() - t) * 1000
        if links is not None:
            took = await asyncio.to_thread(links.wait)
            return replied, None if took is None else took * 1000
        return replied, await _until_on(p, target, t, resend=False)


async def _bare_moves(stack: sandbox.Stack, sink: str, links: LinkWatch | None) -> float | None:
    """The floor for moving the DAW's streams over the pulse protocol, in the same run: a
    client that knows them sends every move at once, pipelined on one connection (no
    decisions, no levels), and re-sends those not shown after 0.5 s (WirePlumber 0.4.13
    dropped 6 of 10 such moves in a trial); timed as dawroute's."""
    import pulsectl_asyncio

    async with pulsectl_asyncio.PulseAsync("bench-bare", server=stack.pulse_server) as p:
        target = int((await p.get_sink_by_name(sink)).index)
        t = time.perf_counter()
        if links is not None:
            links.watch(DAW_APP, sink, t)
        if links is None:
            return await _until_on(p, target, t, resend=True)
        daw = [int(i.index) for i in await p.sink_input_list() if _is_daw(i)]
        # re-sent by what the graph shows: the pulse view showed a move to its mover
        # before any link, and so did not see WirePlumber 0.4.13 drop one (a smoke run
        # waited 10 s for the graph)
        for _ in range(20):
            await asyncio.gather(*(p.sink_input_move(i, target) for i in daw))
            took = await asyncio.to_thread(links.wait, 0.5)
            if took is not None:
                return took * 1000
            links.watch(DAW_APP, sink, t)  # still from the first send
        return None


def _is_daw(stream: Any) -> bool:
    return bool(stream.proplist.get("application.name") == DAW_APP)


async def _until_on(
    p: Any, target: int, t: float, resend: bool, timeout: float = 10.0
) -> float | None:
    """ms from `t` until every DAW stream plays on `target` (None: not in `timeout`),
    polling every 5 ms on `p`; with `resend`, moving those not there every 0.5 s."""

    async def away() -> list[int]:
        return [int(i.index) for i in await p.sink_input_list() if _is_daw(i) and i.sink != target]

    streams, sent = await away(), 0.0
    while streams:
        now = time.perf_counter()
        if now - t > timeout:
            return None
        if resend and now - sent > 0.5:
            sent = now
            await asyncio.gather(*(p.sink_input_move(i, target) for i in streams))
        await asyncio.sleep(0.005)
        streams = await away()
    return (time.perf_counter() - t) * 1000


def _daw_sinks(stack: sandbox.Stack) -> list[str]:
    def read(p: Any) -> list[str]:
        names = {s.index: s.name for s in p.sink_list()}
        return [names.get(i.sink, "?") for i in p.sink_input_list() if _is_daw(i)]

    result: list[str] = sandbox.with_pulse(stack, read)
    return result


def _hotplug_with_devices(
    n: int, rounds: int, work: Path, reactor: Reactor | None = None
) -> dict[str, Any]:
    stack = sandbox.start_pipewire()
    daemon = reactor or Dawroute()
    try:
        sandbox.plug(stack, IFACE)
        for i in range(n):
            sandbox.plug(
                stack,
                sandbox.FakeDevice(
                    name=f"bench_extra_{i}",
                    description=f"Extra {i}",
                    usb=f"1111:{i:04x}",
                    always_process=False,
                ),
            )
        daemon.start(stack, work)
        samples: list[float] = []

        async def measure() -> None:
            async with Observer(stack.pulse_server) as obs:
                for _ in range(rounds):
                    p, _u = await _one_plug(obs, stack, daemon)
                    if p is not None:
                        samples.append(p)

        asyncio.run(measure())
        return {"samples": samples, "summary": percentiles(samples)}
    finally:
        daemon.stop()
        stack.stop()


def _many_profiles(n: int, work: Path) -> dict[str, Any]:
    from routing.format.config import check_all

    d = work / "many-profiles"
    d.mkdir(exist_ok=True)
    for i in range(n):
        (d / f"p{i:03}.yaml").write_text(
            f"name: p{i}\npriority: {i % 1000}\nfallback: {str(i == 0).lower()}\n"
            f'output: {{usb: "{i:04x}:0001", volume: 40%, max_volume: 60%, '
            f"channels: [AUX{i % 4}]}}\nclock: {{rate: 48000, quantum: 128}}\n"
        )
    runs = []
    for _ in range(3):
        t = time.perf_counter()
        _, _, issues = check_all([d], None)
        runs.append((time.perf_counter() - t) * 1000)
    assert not [i for i in issues if i.severity == "error"]
    wall = _time([sys.executable, "-m", "routing", "check", str(d)], dict(os.environ), 3)
    return {"profiles": n, "in_process_ms": min(runs), "cli_wall_ms": min(wall)}


@contextlib.contextmanager
def _daemon_with_daw(work: Path, settle: float) -> Iterator[tuple[sandbox.Stack, int]]:
    """PipeWire with the interface, a DAW playing and the daemon: (stack, daemon pid)."""
    stack = sandbox.start_pipewire()
    daemon = Dawroute()
    try:
        sandbox.plug(stack, IFACE)
        sandbox.start_daw(stack, sink=IFACE_NAME)
        daemon.start(stack, work)
        assert daemon.proc is not None
        time.sleep(settle)  # past start-up
        yield stack, daemon.proc.pid
    finally:
        daemon.stop()
        stack.stop()


def _storm(n: int, work: Path) -> dict[str, Any]:
    with _daemon_with_daw(work, 0.5) as (stack, pid):
        rss_start = rss_mb(pid)
        cpu0 = cpu_seconds(pid)
        t = time.perf_counter()

        def burst(p: Any) -> None:
            handle = None
            for _ in range(n):
                if handle is None:
                    handle = p.module_load(*amp(1).modules()[0])
                else:
                    p.module_unload(handle)
                    handle = None
            p.module_load(*amp(1).modules()[0])

        sandbox.with_pulse(stack, burst)
        sandbox.wait_for(
            lambda: (
                _daw_sinks(stack) == [AMP_NAME]
                or any(s.startswith(AMP_NAME) for s in _daw_sinks(stack))
            ),
            30,
            "convergence after storm",
        )
        converged = (time.perf_counter() - t) * 1000
        time.sleep(0.5)
        return {
            "events": n,
            "converged_ms": converged,
            "daemon_cpu_s": cpu_seconds(pid) - cpu0,
            "rss_start_mb": rss_start,
            "rss_after_mb": rss_mb(pid),
        }


# ---------------------------------------------------------------- 6: idle


def idle(seconds: float, work: Path) -> dict[str, Any]:
    with _daemon_with_daw(work, 1.0) as (_stack, pid):
        cpu0, wake0, rss0 = cpu_seconds(pid), wakeups(pid), rss_mb(pid)
        time.sleep(seconds)
        return {
            "seconds": seconds,
            "cpu_s": cpu_seconds(pid) - cpu0,
            "context_switches": wakeups(pid) - wake0,
            "rss_mb": rss0,
            "rss_after_mb": rss_mb(pid),
        }


# ---------------------------------------------------------------- main

BENCHES: dict[str, Callable[[argparse.Namespace, Path], Any]] = {
    "hotplug-pipewire": lambda a, w: hotplug("pipewire", a.rounds, w),
    "hotplug-pipewire-1.4": lambda a, w: hotplug("pipewire-1.4.2", a.rounds, w),
    "hotplug-pulseaudio": lambda a, w: hotplug("pulseaudio", a.rounds, w),
    "cli": lambda a, w: cli(a.rounds, w),
    "midi": lambda a, w: midi(a.rounds, w),
    "scale": lambda a, w: scale(a.quick, w),
    "idle": lambda a, w: idle(3.0 if a.quick else 60.0, w),
    "safety": lambda a, w: safety(a.quick, w),
    "restarts": lambda a, w: restarts(10 if a.quick else 100, w),
}


# ---------------------------------------------------------------- restart soak


def restarts(n: int, work: Path) -> dict[str, Any]:
    """The sound server restarted `n` times under one daemon: its descriptors and RSS
    before and after, and tracebacks in its log (tests/test_restarts.py asserts 30)."""
    from testbed import soak

    out: dict[str, Any] = {"restarts": n, "stacks": {}}
    for label, start in [("pulseaudio", sandbox.start_pulseaudio)] + [
        (g.label, partial(sandbox.start_pipewire, generation=g))
        for g in sandbox.pipewire_generations()
    ]:
        stack = start()
        daemon = Dawroute(
            profiles=soak.PROFILES["phones.yaml"],
            more_profiles={"desk.yaml": soak.PROFILES["desk.yaml"]},
        )
        try:
            _replug_world(stack, routed=False)
            daemon.start(stack, work / label)
            assert daemon.proc is not None
            pid = daemon.proc.pid
            sandbox.stop_server(stack)
            sandbox.start_server(stack)
            _replug_world(stack)  # the first reconnect allocates what later ones reuse
            fds0, rss0, t = len(os.listdir(f"/proc/{pid}/fd")), rss_mb(pid), time.perf_counter()
            for _ in range(n):
                sandbox.stop_server(stack)
                sandbox.start_server(stack)
                _replug_world(stack)
            row = {
                "fds_before": fds0,
                "fds_after": len(os.listdir(f"/proc/{pid}/fd")),
                "rss_mb_before": round(rss0, 1),
                "rss_mb_after": round(rss_mb(pid), 1),
                "tracebacks": (work / label / "dawroute.log").read_text().count("Traceback"),
                "seconds": round(time.perf_counter() - t, 1),
            }
            out["stacks"][label] = row
            print(label, row, flush=True)
        finally:
            daemon.stop()
            stack.stop()
    return out


def _replug_world(stack: sandbox.Stack, routed: bool = True) -> None:
    """After a server (re)start: the interface and the amp back, the DAW playing, and (with
    the daemon running) routed to the amp."""
    from testbed import soak

    sandbox.plug(stack, soak.IFACE)
    sandbox.plug(stack, soak.AMP)
    sandbox.start_daw(stack, sink=soak.IFACE.name)
    if routed:
        sandbox.wait_for(partial(soak.daw_on, stack, soak.AMP.name), 15, "routed after a restart")


# ---------------------------------------------------------------- hearing-safety soak


def safety(quick: bool, work: Path) -> dict[str, Any]:
    """20 re-plugs + 1,000 flaps per stack (quick: 3 + 50) with the sampler watching;
    one daemon per stack, as users run it. Counts, never asserts (tests/test_safety.py
    asserts the short run)."""
    from testbed import soak
    from testbed.sampler import Sampler

    replugs, flaps = (3, 50) if quick else (20, 1000)
    stacks: list[tuple[str, Callable[[], sandbox.Stack]]] = [
        ("pulseaudio-bare", sandbox.start_pulseaudio),
        ("pulseaudio-stock", partial(sandbox.start_pulseaudio, stock=True)),
    ]
    for g in sandbox.pipewire_generations():
        stacks.append((g.label, partial(sandbox.start_pipewire, generation=g)))
        if g.wireplumber_05:  # the baseline: what the server-side cap guard closes
            stacks.append(
                (
                    f"{g.label} without the cap guard",
                    partial(sandbox.start_pipewire, generation=g, cap_guard=False),
                )
            )

    def wait(check: Callable[[], bool], what: str) -> None:
        sandbox.wait_for(check, 10, what)

    out: dict[str, Any] = {"replugs": replugs, "flaps": flaps, "stacks": {}}
    for label, start in stacks:
        stack = start()
        daemon = Dawroute(
            profiles=soak.PROFILES["phones.yaml"],
            more_profiles={"desk.yaml": soak.PROFILES["desk.yaml"]},
        )
        try:
            sandbox.plug(stack, soak.IFACE)
            sandbox.start_daw(stack, sink=soak.IFACE.name)
            daemon.start(stack, work / f"s{len(out['stacks'])}")  # short: a socket path
            row: dict[str, Any] = {}
            for phase in ("replugs", "flaps"):
                settled = True
                with Sampler(stack.pulse_server, soak.CAPS) as sampler:
                    try:
                        if phase == "replugs":
                            soak.replugs(stack, replugs, wait)
                        else:
                            soak.flaps(stack, flaps, wait)
                    except sandbox.SandboxError as exc:  # recorded, not hidden
                        print(f"{label} {phase}: {exc}", flush=True)
                        settled = False
                r = sampler.report
                row[phase] = {
                    "samples": r.samples,
                    "on_amp": r.on_watched[soak.AMP.name],
                    "above_cap": len(r.violations),
                    "worst": r.worst,
                    "failed_polls": r.errors,
                    "settled": settled,
                }
            out["stacks"][label] = row
            print(label, row, flush=True)
        finally:
            daemon.stop()
            stack.stop()
    out["summary"] = {
        k: {p: v[p]["above_cap"] for p in ("replugs", "flaps")} for k, v in out["stacks"].items()
    }
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench", description=__doc__)
    p.add_argument("--quick", action="store_true", help="few iterations (CI smoke)")
    p.add_argument("--rounds", type=int, help="iterations per reactor (default 30, quick 3)")
    p.add_argument("--only", nargs="*", choices=sorted(BENCHES), help="run only these")
    p.add_argument("--out", type=Path, default=RESULTS, help="where to write the JSON")
    args = p.parse_args(argv)
    args.rounds = args.rounds or (3 if args.quick else 30)
    args.out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault(
        "PULSE_COOKIE", str(Path(tempfile.gettempdir()) / "dawroute-bench-cookie")
    )
    # an installed dawroute runs from bytecode (pip compiles it); a checkout run with
    # PYTHONDONTWRITEBYTECODE would compile every changed module on every CLI start
    # (~6 ms for routing/cli.py alone, measured), which users never pay
    import compileall

    compileall.compile_dir(str(Path(__file__).resolve().parent.parent / "routing"), quiet=1)
    for name in args.only or list(BENCHES):
        work = Path(tempfile.mkdtemp(prefix=f"dawroute-bench-{name}-"))
        print(f"== {name}", flush=True)
        t = time.perf_counter()
        try:
            data = BENCHES[name](args, work)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        data = {
            "bench": name,
            "quick": args.quick,
            "machine": _machine(),
            "seconds": round(time.perf_counter() - t, 1),
            "result": data,
        }
        (args.out / f"{name}.json").write_text(json.dumps(data, indent=1))
        print(json.dumps(data["result"].get("summary", data["result"]), indent=1)[:2000])
    return 0


def _machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "date": time.strftime("%Y-%m-%d"),
    }


if __name__ == "__main__":
    raise SystemExit(main())
