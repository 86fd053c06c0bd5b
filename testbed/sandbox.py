"""Private, headless sound servers with virtual devices: for the tests and the run command.

Starts real PulseAudio, PipeWire + WirePlumber + pipewire-pulse (with its own
dbus-daemon), or jackd (dummy driver) in a private runtime directory; "plugs"
devices that look like real ones (null sinks carrying USB/ALSA properties) and
plays a stream that looks like a DAW. Every process dies with its parent
(PR_SET_PDEATHSIG), is stopped by PID, and nothing touches the real $HOME.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from routing.backends import capguard

CHECKOUT = Path(__file__).resolve().parent.parent
_CLIENT_VARS = ("PULSE_", "PIPEWIRE_", "JACK_", "WIREPLUMBER_")
_DROP_VARS = ("DBUS_SESSION_BUS_ADDRESS", "DISPLAY", "WAYLAND_DISPLAY", "LD_PRELOAD")
PR_SET_PDEATHSIG = 1


class SandboxError(RuntimeError):
    pass


def missing_tools(kind: str, generation: Generation | None = None) -> list[str]:
    need = {
        "pulseaudio": ["pulseaudio", "pacat"],
        "pipewire": ["pipewire", "wireplumber", "pipewire-pulse", "dbus-daemon", "pacat"],
        "jackd": ["jackd", "jack_lsp"],
    }[kind]
    path = (generation or SYSTEM).env(os.environ).get("PATH")
    return [t for t in need if shutil.which(t, path=path) is None]


# ---------------------------------------------------------------- PipeWire generations

_ARCH_LIB = "usr/lib/x86_64-linux-gnu"


@dataclass(frozen=True, slots=True)
class Generation:
    """One PipeWire + WirePlumber generation: the system's own (root None) or one extracted
    privately under `root` (scripts/fetch-pipewire: 1.4.2 + WirePlumber 0.5.8)."""

    version: str  # PipeWire's, e.g. "0.3.65"
    root: Path | None = None

    @property
    def label(self) -> str:
        return f"pipewire-{self.version}"

    @property
    def wireplumber_05(self) -> bool:
        """WirePlumber 0.5 reads SPA-JSON config; 0.4 reads Lua (and ignores the other)."""
        return self.root is not None and (self.root / _ARCH_LIB / "wireplumber-0.5").is_dir()

    @property
    def libdir(self) -> Path:
        return (self.root or Path("/")) / _ARCH_LIB

    def env(self, base: Mapping[str, str]) -> dict[str, str]:
        """Variables that point the server, its native tools and libraries at this root."""
        if self.root is None:
            return {"PATH": base.get("PATH", os.defpath)}
        lib, share = self.libdir, self.root / "usr/share"
        return {
            "PATH": f"{self.root / 'usr/bin'}:{base.get('PATH', os.defpath)}",
            "LD_LIBRARY_PATH": str(lib),
            "SPA_PLUGIN_DIR": str(lib / "spa-0.2"),
            "PIPEWIRE_MODULE_DIR": str(lib / "pipewire-0.3"),
            "WIREPLUMBER_MODULE_DIR": str(lib / "wireplumber-0.5"),
            "WIREPLUMBER_DATA_DIR": str(share / "wireplumber"),
            # without it WirePlumber 0.5 finds the system's 0.4 wireplumber.conf and exits
            "XDG_DATA_DIRS": str(share),
        }

    def jack_libdir(self) -> Path | None:
        """Where this generation's libjack lives (what `pw-jack` puts first)."""
        found = sorted(self.libdir.glob("pipewire-0.3/jack"))
        return found[0] if found else None


SYSTEM = Generation("system")
CACHE_VAR = "DAWROUTE_PIPEWIRE_ROOTS"


def pipewire_generations() -> list[Generation]:
    """The system's PipeWire plus every private one prepared by scripts/fetch-pipewire
    (found in $DAWROUTE_PIPEWIRE_ROOTS, colon-separated, or in the fetch script's cache)."""
    gens = [Generation(_pipewire_version(SYSTEM) or "absent")]
    roots = os.environ.get(CACHE_VAR)
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "dawroute-testbed"
    candidates = (
        [Path(r) for r in roots.split(":") if r]
        if roots
        else sorted(p.parent for p in cache.glob("pipewire-*/.complete"))
    )
    for root in candidates:
        version = _pipewire_version(Generation("?", root))
        if version:
            gens.append(Generation(version, root))
    return gens


def expected_generations() -> list[str]:
    """The versions the test bed must have (scripts/fetch-pipewire prepares the second)."""
    return ["1.4.2"]


def _pipewire_version(gen: Generation) -> str | None:
    env = {**os.environ, **gen.env(os.environ)}
    exe = shutil.which("pipewire", path=env["PATH"])
    if exe is None:
        return None
    try:
        out = subprocess.run(
            [exe, "--version"], env=env, capture_output=True, text=True, timeout=5
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    found = re.search(r"libpipewire (\d+\.\d+\.\d+)", out)
    return found.group(1) if found else None


def die_with_parent() -> None:
    # If the test run (or the run command) is killed, take the servers with it.
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    os.setpgrp()


def clean_env(base: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(_CLIENT_VARS) and k not in _DROP_VARS
    }
    env.update(
        HOME=str(base),
        XDG_RUNTIME_DIR=str(base),
        XDG_CONFIG_HOME=str(base / ".config"),
        XDG_STATE_HOME=str(base / ".local/state"),
        XDG_DATA_HOME=str(base / ".local/share"),
    )
    return env


@dataclass
class Stack:
    """One running server set; `env` is what a client (or our daemon) needs to reach it."""

    kind: str
    base: Path
    env: dict[str, str]
    procs: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)
    jack_name: str | None = None
    generation: Generation | None = None  # PipeWire's, for kind "pipewire"
    config: str = "stock"  # "bare": PulseAudio without the restore modules a desktop loads

    @property
    def label(self) -> str:
        """What a test id shows: "pulseaudio", "pulseaudio-stock", "pipewire-1.4.2", "jackd"."""
        name = self.generation.label if self.generation else self.kind
        return f"{name}-stock" if self.kind == "pulseaudio" and self.config == "stock" else name

    @property
    def pulse_server(self) -> str:
        return self.env["PULSE_SERVER"]

    def spawn(
        self, name: str, argv: list[str], env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        log = open(self.base / f"{name}.log", "ab")  # noqa: SIM115 - owned by the child
        proc = subprocess.Popen(
            argv,
            env=env or self.env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,  # noqa: PLW1509 - only prctl() and setpgrp()
        )
        log.close()
        self.procs.append((name, proc))
        return proc

    def log_tail(self, lines: int = 20) -> str:
        out = []
        for f in sorted(self.base.glob("*.log")):
            text = f.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"--- {f.name}\n" + "\n".join(text))
        return "\n".join(out)

    def pids(self) -> list[int]:
        return [p.pid for _, p in self.procs if p.poll() is None]

    def stop_process(self, name: str) -> None:
        for n, p in list(self.procs):
            if n == name:
                _terminate(p)
                self.procs.remove((n, p))

    def stop(self) -> None:
        for _, proc in reversed(self.procs):
            _terminate(proc)
        self.procs.clear()
        if self.jack_name:
            for f in Path("/dev/shm").glob(f"jack*{self.jack_name}*"):
                with contextlib.suppress(OSError):
                    f.unlink()
        shutil.rmtree(self.base, ignore_errors=True)


def _terminate(proc: subprocess.Popen[bytes], timeout: float = 5.0) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_for(check: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    """Poll `check` until true. Servers apply asynchronously; we wait on state, not on sleeps.
    A check that raises (the server restarting) is polled again; at the time-out the last
    error is part of the message, so a bug in a check does not pass for a slow server."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while True:
        try:
            if check():
                return
            last = None
        except Exception as exc:
            last = exc
        if time.monotonic() > deadline:
            why = f" (last check raised {type(last).__name__}: {last})" if last else ""
            raise SandboxError(f"timed out after {timeout:g} s waiting for {what}{why}")
        time.sleep(0.005)


def _new_base(prefix: str) -> Path:
    base = Path(tempfile.mkdtemp(prefix=prefix))
    base.chmod(0o700)
    return base


@contextlib.contextmanager
def _stop_on_error(stack: Stack) -> Iterator[None]:
    try:
        yield
    except BaseException as exc:
        tail = stack.log_tail()
        stack.stop()
        if isinstance(exc, SandboxError):
            raise SandboxError(f"{exc}\n{tail}") from None
        raise


# ---------------------------------------------------------------- servers


# What Debian's /etc/pulse/default.pa loads that means anything without hardware, X11 or
# a login session: the restore modules keep device levels, stream targets and card
# profiles in ~/.config/pulse (the stack's private HOME) like on a desktop.
_STOCK_MODULES = (
    "module-device-restore",
    "module-stream-restore",
    "module-card-restore",
    "module-augment-properties",
    "module-switch-on-port-available",
    "module-intended-roles",
    "module-position-event-sounds",
    "module-role-cork",
    "module-filter-heuristics",
    "module-filter-apply",
)


def start_pulseaudio(stock: bool = False) -> Stack:
    """A private PulseAudio: bare (protocol, a dummy sink, always-sink) or `stock`, with
    the modules a desktop's default.pa loads as well."""
    base = _new_base("dawroute-pa-")
    stack = Stack("pulseaudio", base, clean_env(base), config="stock" if stock else "bare")
    sock = base / "native"
    modules = [f"load-module {m}\n" for m in _STOCK_MODULES] if stock else []
    (base / "default.pa").write_text(
        "".join(modules)
        + f"load-module module-native-protocol-unix auth-anonymous=1 socket={sock}\n"
        "load-module module-null-sink sink_name=auto_null "
        "sink_properties=device.description=Dummy-Output\n"
        "load-module module-always-sink\n"
    )
    with _stop_on_error(stack):
        _spawn_pulseaudio(stack)
        stack.env["PULSE_SERVER"] = f"unix:{sock}"
        wait_for(lambda: _pulse_ready(stack), what="PulseAudio to answer")
    return stack


_WP04_HEADLESS = (
    "alsa_monitor.enabled = false\nv4l2_monitor.enabled = false\n"
    "libcamera_monitor.enabled = false\n"
)
_WP05_HEADLESS = (
    "wireplumber.profiles = { main = { monitor.alsa = disabled monitor.bluez = disabled\n"
    "  monitor.v4l2 = disabled monitor.libcamera = disabled } }\n"
)


def start_pipewire(
    with_pulse: bool = True, generation: Generation | None = None, cap_guard: bool = True
) -> Stack:
    gen = generation or SYSTEM
    base = _new_base("dawroute-pw-")
    stack = Stack("pipewire", base, clean_env(base), generation=gen)
    stack.env.update(gen.env(stack.env))
    _write_pipewire_config(base / ".config", gen)
    if gen.wireplumber_05 and cap_guard:
        # what `dawroute init` installs on a desktop: the server-side cap guard
        capguard.install({}, env=stack.env)
    bus = base / "bus"
    with _stop_on_error(stack):
        # WirePlumber exits (rc 70) without a session bus; give it a private one.
        stack.spawn(
            "dbus-daemon",
            ["dbus-daemon", "--session", "--nofork", "--nopidfile", f"--address=unix:path={bus}"],
        )
        wait_for(bus.exists, what="dbus-daemon socket")
        stack.env["DBUS_SESSION_BUS_ADDRESS"] = f"unix:path={bus}"
        # native clients (pw-metadata, PipeWire's libjack) find the socket here even when
        # a client's XDG_RUNTIME_DIR points elsewhere
        stack.env["PIPEWIRE_RUNTIME_DIR"] = str(base)
        stack.spawn("pipewire", ["pipewire"])
        wait_for((base / "pipewire-0").exists, what="PipeWire socket")
        stack.spawn("wireplumber", ["wireplumber"])
        if with_pulse:
            start_pipewire_pulse(stack)
    return stack


def _write_pipewire_config(config: Path, gen: Generation) -> None:
    """Headless WirePlumber (no ALSA/V4L2/libcamera/BlueZ monitors) in the dialect of its
    generation, and pipewire-pulse open to many clients."""
    wp = config / "wireplumber"
    if gen.wireplumber_05:
        (wp / "wireplumber.conf.d").mkdir(parents=True)
        (wp / "wireplumber.conf.d" / "51-dawroute-headless.conf").write_text(_WP05_HEADLESS)
    else:
        # must sort after 50-*-config.lua and before 90-enable-all.lua (or it has no effect)
        (wp / "main.lua.d").mkdir(parents=True)
        (wp / "main.lua.d" / "51-dawroute-headless.lua").write_text(_WP04_HEADLESS)
        (wp / "bluetooth.lua.d").mkdir(parents=True)
        (wp / "bluetooth.lua.d" / "51-dawroute-headless.lua").write_text(
            "bluez_monitor.enabled = false\n"
        )
    pw = config / "pipewire"
    if gen.root is not None:
        # PipeWire looks for pipewire.conf in $XDG_CONFIG_HOME before /usr/share (where the
        # system's other generation keeps its own); PIPEWIRE_CONFIG_DIR would do the same
        # but hides the conf.d drop-ins below
        pw.mkdir(parents=True)
        for conf in (gen.root / "usr/share/pipewire").glob("*.conf"):
            (pw / conf.name).symlink_to(conf)
    # pipewire-pulse accepts 64 clients by default; the scale benchmark plays 300 DAW
    # streams, one pacat client each ("failed to create client: Connection refused")
    (pw / "pipewire-pulse.conf.d").mkdir(parents=True)
    (pw / "pipewire-pulse.conf.d" / "50-dawroute-sandbox.conf").write_text(
        'pulse.properties = { server.address = [ { address = "unix:native" '
        "max-clients = 1024 } ] }\n"
    )


def start_pipewire_pulse(stack: Stack) -> None:
    with _stop_on_error(stack):
        stack.spawn("pipewire-pulse", ["pipewire-pulse"])
        stack.env["PULSE_SERVER"] = f"unix:{stack.base}/pulse/native"
        # Until WirePlumber picked a default the server reports "@DEFAULT_SINK@".
        wait_for(
            lambda: _pulse_ready(stack, need_default=True),
            what="pipewire-pulse and WirePlumber's default sink",
        )


_SERVER_PROCESSES = {
    "pipewire": ("pipewire-pulse", "wireplumber", "pipewire"),
    "pulseaudio": ("pulseaudio",),
}


def stop_server(stack: Stack) -> None:
    """The sound server goes away (crash, upgrade); dbus and our other children stay."""
    for name in _SERVER_PROCESSES[stack.kind]:
        stack.stop_process(name)


def start_server(stack: Stack) -> None:
    """Start the server again on the same sockets, as systemd would after a crash."""
    with _stop_on_error(stack):
        if stack.kind == "pulseaudio":
            _spawn_pulseaudio(stack)
            wait_for(lambda: _pulse_ready(stack), what="PulseAudio to answer")
            return
        stack.spawn("pipewire", ["pipewire"])
        wait_for(lambda: _pipewire_socket_live(stack.base / "pipewire-0"), what="PipeWire socket")
        stack.spawn("wireplumber", ["wireplumber"])
        start_pipewire_pulse(stack)


def _spawn_pulseaudio(stack: Stack) -> None:
    stack.spawn("pulseaudio", [
        "pulseaudio", "--system=no", "-n", "-F", str(stack.base / "default.pa"),
        "--daemonize=no", "--exit-idle-time=-1", "--realtime=no", "--high-priority=no",
        "--use-pid-file=no", "--log-target=stderr", "--log-level=notice",
    ])  # fmt: skip


def _pipewire_socket_live(path: Path) -> bool:
    import socket

    with socket.socket(socket.AF_UNIX) as s:
        s.connect(str(path))
    return True


def _clear_stale_jack_registry() -> None:
    """jackd keeps a registry of servers in /dev/shm shared by all of them, and a server
    that was killed leaves its slot behind; once the slots are used up every jackd fails
    with "Too many servers already active" (seen after a day of test and bench runs).
    When no jackd runs at all, nothing uses the registry: remove it and the segments."""
    for stat in Path("/proc").glob("[0-9]*/comm"):
        with contextlib.suppress(OSError):
            if stat.read_text().strip() in ("jackd", "jackdbus"):
                return
    for f in Path("/dev/shm").glob("jack*"):
        with contextlib.suppress(OSError):
            shutil.rmtree(f) if f.is_dir() else f.unlink()


def start_jackd(period: int = 256, rate: int = 48000) -> Stack:
    try:
        return _start_jackd(period, rate)
    except SandboxError as exc:
        if "Too many servers already active" not in str(exc):
            raise
    # Only now, and only when no jackd runs: a process's libjack keeps the registry it
    # first mapped, so clearing it on every start breaks JACK clients of earlier servers.
    _clear_stale_jack_registry()
    return _start_jackd(period, rate)


def _start_jackd(period: int, rate: int) -> Stack:
    base = _new_base("dawroute-jack-")
    name = f"dawroute-{os.getpid()}-{base.name[-6:]}"
    stack = Stack("jackd", base, clean_env(base), jack_name=name)
    stack.env.update(
        JACK_DEFAULT_SERVER=name, JACK_NO_START_SERVER="1", JACK_NO_AUDIO_RESERVATION="1"
    )
    argv = ["jackd", "-n", name, "--no-realtime", "-d", "dummy", "-r", str(rate),
            "-p", str(period), "-C", "2", "-P", "4"]  # fmt: skip
    with _stop_on_error(stack):
        stack.spawn("jackd", argv)
        wait_for(
            lambda: (
                b"system:playback_1"
                in subprocess.run(
                    ["jack_lsp"], env=stack.env, capture_output=True, timeout=5
                ).stdout
            ),
            timeout=30.0,  # a start is ~1 s; with both cores busy (CI beside a VM) it took >10 s
            what="jackd ports",
        )
    return stack


def _pulse_ready(stack: Stack, need_default: bool = False) -> bool:
    import pulsectl

    with pulsectl.Pulse("dawroute-sandbox", server=stack.pulse_server) as p:
        info = p.server_info()
        return not need_default or not info.default_sink_name.startswith("@")


# ---------------------------------------------------------------- virtual devices


@dataclass(frozen=True, slots=True)
class FakeDevice:
    """What a real device looks like on the server: node name, description and properties."""

    name: str
    description: str
    channels: tuple[str, ...] = ("front-left", "front-right")
    bus: str | None = "usb"
    usb: str | None = None  # "vvvv:pppp"
    serial: str | None = None
    card_name: str | None = None
    source: bool = False
    priority: int | None = None  # priority.session/driver: what the session manager ranks by
    # kept processing like a card's level (below); off for bystanders that are never a
    # target: 64 null sinks processing without pause load a 2-core machine like 64
    # playing cards, which idle cards never do
    always_process: bool = True

    def properties(self) -> str:
        props = [f'device.description="{self.description}"', "device.class=sound"]
        if self.bus:
            props.append(f"device.bus={self.bus}")
        if self.usb:
            vid, pid = self.usb.split(":")
            props += [f"device.vendor.id={vid}", f"device.product.id={pid}"]
        if self.serial:
            props.append(f'device.serial="{self.serial}"')
        if self.card_name:
            props.append(f'alsa.card_name="{self.card_name}"')
        if self.priority is not None:
            props += [f"priority.session={self.priority}", f"priority.driver={self.priority}"]
        if self.bus:
            # A sound card's level is its route (or mixer) and is set at once, even while
            # the sink is suspended. PipeWire >= 1.0 applies a suspended *null* sink's
            # volume only once it runs — after the DAW is linked (measured on 1.4.2: the
            # level shows 10-20 ms after the move). Kept processing, the fake's level
            # behaves like a card's. WirePlumber 0.5 gives a device node without routes a
            # stream's restore: a never-seen one gets the default stream volume (100 %)
            # some ms after it appeared and again when it first runs, over the level set
            # meanwhile (measured on 1.4.2: after our confirmed cap and move); a card's
            # level comes with its routes instead. Not for the fakes either. PulseAudio
            # ignores both properties.
            props += ["state.restore-props=false"]
            if self.always_process:
                props.append("node.always-process=true")
        # outer single, inner double quotes: the only nesting both servers parse
        return "'" + " ".join(props) + "'"

    def modules(self) -> list[tuple[str, str]]:
        chans = f"channels={len(self.channels)} channel_map={','.join(self.channels)}"
        if not self.source:
            return [
                (
                    "module-null-sink",
                    f"sink_name={self.name} {chans} sink_properties={self.properties()}",
                )
            ]
        # PulseAudio 16's null source takes no properties: remap a hidden sink's monitor.
        helper = f"{self.name}.capture"
        return [
            (
                "module-null-sink",
                f"sink_name={helper} {chans} sink_properties=device.description=capture-helper",
            ),
            (
                "module-remap-source",
                f"source_name={self.name} master={helper}.monitor {chans} "
                f"source_properties={self.properties()}",
            ),
        ]


INTERFACE = FakeDevice(
    name="alsa_output.usb-Focusrite_Scarlett_4i4_USB_D8X2Y1-00.pro-output-0",
    description="Scarlett 4i4 USB Pro",
    channels=("aux0", "aux1", "aux2", "aux3"),
    usb="1235:8212",
    serial="Focusrite_Scarlett_4i4_USB_D8X2Y1",
    card_name="Scarlett 4i4 USB",
)
USB_AMP = FakeDevice(
    name="alsa_output.usb-Schiit_Audio_Schiit_Fulla-00.analog-stereo",
    description="Schiit Fulla Analog Stereo",
    usb="30be:1019",
    serial="Schiit_Audio_Schiit_Fulla",
    card_name="Schiit Fulla",
)
USB_AMP_2 = FakeDevice(
    name="alsa_output.usb-FiiO_K3-00.analog-stereo",
    description="FiiO K3 Analog Stereo",
    usb="2972:0047",
    serial="FiiO_K3",
    card_name="FiiO K3",
)
SPEAKERS = FakeDevice(
    name="alsa_output.pci-0000_00_1f.3.analog-stereo",
    description="Built-in Audio Analog Stereo",
    bus="pci",
    card_name="HDA Intel PCH",
)
INTERFACE_INPUT = FakeDevice(
    name="alsa_input.usb-Focusrite_Scarlett_4i4_USB_D8X2Y1-00.pro-input-0",
    description="Scarlett 4i4 USB Pro Input",
    usb="1235:8212",
    serial="Focusrite_Scarlett_4i4_USB_D8X2Y1",
    card_name="Scarlett 4i4 USB",
    source=True,
)

LAPTOP_MIC = FakeDevice(
    name="alsa_input.pci-0000_00_1f.3.analog-stereo",
    description="Built-in Audio Analog Stereo",
    bus="pci",
    card_name="HDA Intel PCH",
    source=True,
)


Handle = tuple[int, ...]


def plug(stack: Stack, device: FakeDevice) -> Handle:
    """Make `device` appear on the server; returns the handle for `unplug`."""
    import pulsectl

    with pulsectl.Pulse("dawroute-sandbox", server=stack.pulse_server) as p:
        return tuple(_load(p, name, args) for name, args in device.modules())


def _load(p: Any, name: str, args: str) -> int:
    """Load a module; a sink whose namesake is still going away (a flap faster than the
    server: seen on pipewire-pulse 0.3.65) is tried again for up to 0.5 s."""
    import pulsectl

    for _ in range(50):
        try:
            return int(p.module_load(name, args))
        except pulsectl.PulseError:
            time.sleep(0.01)
    return int(p.module_load(name, args))


def unplug(stack: Stack, handle: Handle) -> None:
    import pulsectl

    with pulsectl.Pulse("dawroute-sandbox", server=stack.pulse_server) as p:
        for index in reversed(handle):
            try:
                p.module_unload(index)
            except pulsectl.PulseOperationFailed:
                # pipewire-pulse 1.4.2 refuses, about once in a few thousand fast flaps,
                # to unload a module it is still loading; the device must go all the same
                time.sleep(0.01)
                if any(m.index == index for m in p.module_list()):
                    p.module_unload(index)


def start_daw(
    stack: Stack, app: str = "REAPER", binary: str = "reaper", sink: str | None = None
) -> subprocess.Popen[bytes]:
    """A real playback stream that looks like a DAW (application name and process binary)."""
    argv = [
        "pacat",
        "-p",
        "--raw",
        f"--client-name={app}",
        f"--property=application.name={app}",
        f"--property=application.process.binary={binary}",
        "--latency-msec=50",
    ]
    if sink:
        argv.append(f"--device={sink}")
    argv.append("/dev/zero")
    return stack.spawn(f"daw-{app}-{len(stack.procs)}", argv)


def start_daw_streams(
    stack: Stack, n: int, app: str = "REAPER", sink: str | None = None
) -> subprocess.Popen[bytes]:
    """`n` playback streams from one client, as a DAW with many outputs opens them
    (testbed.daw_streams); `sink` None: they follow the server's default."""
    argv = [sys.executable, "-m", "testbed.daw_streams", str(n), sink or "", app]
    env = dict(stack.env)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(CHECKOUT), env.get("PYTHONPATH")]))
    return stack.spawn(f"daw-{app}-streams-{len(stack.procs)}", argv, env=env)


def start_recorder(
    stack: Stack, app: str = "REAPER", binary: str = "reaper", source: str | None = None
) -> subprocess.Popen[bytes]:
    """A real recording stream that looks like a DAW recording (as `start_daw`)."""
    argv = [
        "pacat",
        "-r",
        "--raw",
        f"--client-name={app}",
        f"--property=application.name={app}",
        f"--property=application.process.binary={binary}",
        "--latency-msec=50",
    ]
    if source:
        argv.append(f"--device={source}")
    argv.append("/dev/null")
    return stack.spawn(f"rec-{app}-{len(stack.procs)}", argv)


def jack_env(stack: Stack) -> dict[str, str]:
    """Environment for a JACK client of this stack (jackd, or PipeWire's JACK of the
    stack's own generation)."""
    env = dict(stack.env)
    if stack.kind == "pipewire":
        gen = stack.generation or SYSTEM
        libdir = gen.jack_libdir()
        if libdir is None:
            raise SandboxError("PipeWire's libjack not found (Debian package pipewire-jack)")
        env["LD_LIBRARY_PATH"] = ":".join(
            [str(libdir)] + ([str(gen.libdir)] if gen.root is not None else [])
        )
    return env


def start_jack_daw(
    stack: Stack, name: str = "FakeDAW", outputs: int = 2
) -> subprocess.Popen[bytes]:
    """A JACK client that looks like a DAW on the JACK API (out_1 … out_N) and, like a
    DAW, comes back when the JACK server restarts."""
    argv = [sys.executable, "-m", "testbed.sandbox", "jack-daw", name, str(outputs)]
    env = jack_env(stack)
    # the test bed is not installed: it is found from the checkout, wherever the caller runs
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(CHECKOUT), env.get("PYTHONPATH")]))
    return stack.spawn(f"jack-daw-{name}", argv, env=env)


def _jack_daw(name: str, outputs: int) -> None:
    import threading

    import jack

    while True:
        gone = threading.Event()
        try:
            client = jack.Client(name, no_start_server=True)
        except jack.JackError:
            time.sleep(0.05)
            continue
        for i in range(1, outputs + 1):
            client.outports.register(f"out_{i}")
        client.set_shutdown_callback(lambda _s, _r, gone=gone: gone.set())
        client.activate()
        gone.wait()
        client.close()


def main(argv: list[str]) -> int:
    if argv[:1] == ["jack-daw"]:
        _jack_daw(argv[1], int(argv[2]))
        return 0
    print("usage: python -m testbed.sandbox jack-daw NAME OUTPUTS", file=sys.stderr)
    return 2


def with_pulse(stack: Stack, fn: Callable[[Any], Any]) -> Any:
    """Run `fn(pulsectl.Pulse)` against the stack (for assertions from the server's view)."""
    import pulsectl

    with pulsectl.Pulse("dawroute-check", server=stack.pulse_server) as p:
        return fn(p)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
