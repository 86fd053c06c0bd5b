"""`dawroute …`: thin front end. Heavy modules (pulsectl, pydantic, the daemon) are imported
inside the commands that need them, so `dawroute status` costs little more than Python's start."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from routing import paths
from routing.errors import ConfigInvalid, DawrouteError, ServerUnavailable, clean

if TYPE_CHECKING:  # the client is imported when a command needs the daemon
    import argparse

    from routing.client import ControlClient
    from routing.contract import Changed

T = TypeVar("T")

Handler = Callable[["argparse.Namespace"], int]


def main(argv: Sequence[str] | None = None) -> int:
    args = _quick(sys.argv[1:] if argv is None else argv)
    if args is None:
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help()
            return 2
    try:
        code: int = args.func(args)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's exit
        return code
    except DawrouteError as exc:
        print(f"dawroute: {clean(exc.message)}", file=sys.stderr)
        if getattr(args, "json", False):  # a script reading stdout gets an object too
            error = {"name": exc.name, "message": exc.message, "exit_code": exc.exit_code}
            print(json.dumps({"error": error}))
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return _output_closed()


def _quick(argv: Sequence[str]) -> argparse.Namespace | None:
    """The verbs a foot-switch script or a panel button runs, as they are typed there:
    `switch NAME`, `auto`, `next`, `previous`, `status`, without options. They go straight
    to the daemon; building the whole command line costs ~8 ms, more than the daemon's
    part of a switch (measured in bench/: `dawroute switch` against `pactl`). Anything
    else, or any option, takes the full parser."""
    if not argv or any(a.startswith("-") for a in argv):
        return None
    verb, rest = argv[0], list(argv[1:])
    if verb == "switch" and len(rest) == 1:
        return _args(func=cmd_switch, profile=rest[0])
    if verb == "status" and not rest:
        return _args(func=cmd_status, json=False)
    if verb in ("auto", "next", "previous") and not rest:
        return _args(func=cmd_simple, method=verb)
    return None


def _args(**values: Any) -> argparse.Namespace:
    """The quick verbs' arguments without argparse, whose import was 5 ms of a switch
    (measured: `python -X importtime`); the handlers read attributes only."""
    from types import SimpleNamespace

    return cast("argparse.Namespace", SimpleNamespace(**values))


BROKEN_PIPE_EXIT = 141  # 128 + SIGPIPE, what a shell reports for a command killed by it


def _output_closed() -> int:
    """stdout's reader went away (`dawroute status | head -1`): stop with a sentence."""
    # Python flushes stdout again at exit; point it at /dev/null so that is silent too
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    with contextlib.suppress(OSError):
        print("dawroute: output closed early (broken pipe); stopped", file=sys.stderr)
    return BROKEN_PIPE_EXIT


def build_parser() -> argparse.ArgumentParser:
    import argparse

    p = argparse.ArgumentParser(
        prog="dawroute", description="Keep the right audio device as your DAW's output."
    )
    p.add_argument("--version", action="version", version=_version())
    sub = p.add_subparsers(metavar="COMMAND")

    def cmd(name: str, func: Handler, help_: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help_, description=help_)
        sp.set_defaults(func=func)
        return sp

    sp = cmd("init", cmd_init, "write the example profiles, config.yaml and editor schemas")
    sp.add_argument(
        "--service",
        action="store_true",
        help="also install and enable the systemd user unit for this dawroute",
    )
    sp.add_argument(
        "--daw",
        action="append",
        choices=["ardour", "reaper"],
        help="also copy the DAW's dawroute actions into its script folder (repeatable)",
    )

    sp = cmd("devices", cmd_devices, "list outputs and inputs with ready-to-paste selectors")
    sp.add_argument("--json", action="store_true", help="machine-readable output")

    sp = cmd("daws", cmd_daws, "list DAW-like streams and JACK clients with the preset to paste")
    sp.add_argument("--json", action="store_true", help="machine-readable output")

    sp = cmd("check", cmd_check, "validate profiles and config.yaml without a daemon")
    sp.add_argument(
        "paths",
        nargs="*",
        type=Path,
        help="files or directories (default: your profiles and config.yaml)",
    )
    sp.add_argument("--json", action="store_true", help="issues as JSON (for editors and CI)")

    sp = cmd("schema", cmd_schema, "print the JSON Schema of profile files (or config.yaml)")
    sp.add_argument("--config", action="store_true", help="schema of config.yaml instead")

    sp = cmd("apply", cmd_apply, "apply a profile once, without the daemon")
    sp.add_argument("profile")
    sp.add_argument("--dry-run", action="store_true", help="print the operations, change nothing")
    sp.add_argument(
        "--profiles",
        type=Path,
        action="append",
        help="profile file or directory (default: your profiles directory)",
    )

    sp = cmd("daemon", cmd_daemon, "run the daemon in the foreground (what the systemd unit runs)")
    sp.add_argument(
        "--profiles",
        type=Path,
        action="append",
        help="profile file or directory (default: ~/.config/dawroute/profiles)",
    )
    sp.add_argument(
        "--config", type=Path, help="config.yaml (default: ~/.config/dawroute/config.yaml)"
    )
    sp.add_argument(
        "-v", "--verbose", action="store_true", help="debug logging (over config's log_level)"
    )

    sp = cmd("status", cmd_status, "active profile and why, outputs, DAW streams, recent events")
    sp.add_argument("--json", action="store_true")
    sp = cmd("list", cmd_list, "profiles and whether their devices are present")
    sp.add_argument("--json", action="store_true")
    sp = cmd("switch", cmd_switch, "switch to a profile (held until its device leaves, or `auto`)")
    sp.add_argument("profile")
    sp = cmd("toggle", cmd_toggle, "switch to B when A is active, else to A")
    sp.add_argument("a", metavar="A")
    sp.add_argument("b", metavar="B")
    cmd("auto", cmd_simple, "drop the manual choice: back to automatic").set_defaults(method="auto")
    cmd(
        "off",
        cmd_simple,
        "undo dawroute's routing and stop deciding until `auto` or `switch`",
    ).set_defaults(method="off")
    cmd(
        "next", cmd_simple, "switch to the next present profile, from the highest priority down"
    ).set_defaults(method="next")
    cmd(
        "previous", cmd_simple, "switch to the previous present profile, back up by priority"
    ).set_defaults(method="previous")
    cmd("reload", cmd_simple, "re-read profiles and config.yaml").set_defaults(method="reload")
    sp = cmd("watch", cmd_watch, "print each decision as it happens")
    sp.add_argument("--json", action="store_true")
    _add_midi_parser(sub)
    sp = cmd("completion", cmd_completion, "print shell completion (bash, zsh or fish)")
    sp.add_argument("shell", nargs="?", default="bash", choices=["bash", "zsh", "fish"])
    sp.add_argument(  # what the completion scripts run to complete a profile name
        "--profile-names", action="store_true", help=argparse.SUPPRESS
    )
    cmd("man", cmd_man, "show the manual page (printed as roff when not on a terminal)")
    return p


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _add_midi_parser(sub: Any) -> None:
    sp = sub.add_parser(
        "midi", help="MIDI ports, monitor and learn", description="MIDI ports, monitor and learn"
    )
    sp.set_defaults(func=lambda _args: _usage(sp))
    msub = sp.add_subparsers(metavar="ACTION")
    mp = msub.add_parser("ports", help="list MIDI ports (JACK and ALSA)")
    mp.add_argument("--json", action="store_true")
    mp.set_defaults(func=cmd_midi_ports)
    mp = msub.add_parser("monitor", help="print incoming messages as trigger snippets")
    mp.add_argument("--port", default="~.", help="input port, exact or ~regex (default: all)")
    mp.add_argument("--api", default="auto", choices=["auto", "jack", "alsa"])
    mp.add_argument("--count", type=int, default=0, help="stop after N messages")
    mp.add_argument("--timeout", type=float, help="stop after S seconds without a message")
    mp.set_defaults(func=cmd_midi_monitor)
    mp = msub.add_parser(
        "learn", help="wait for the next press and print (or --write) the trigger for an action"
    )
    what = mp.add_mutually_exclusive_group(required=True)
    what.add_argument("--switch", metavar="PROFILE")
    what.add_argument("--toggle", nargs=2, metavar=("A", "B"))
    what.add_argument("--action", choices=["next", "previous", "auto", "volume_up", "volume_down"])
    mp.add_argument("--port", default="~.", help="input port, exact or ~regex (default: all)")
    mp.add_argument("--api", default="auto", choices=["auto", "jack", "alsa"])
    mp.add_argument("--timeout", type=float, default=30.0, help="seconds to wait (default 30)")
    mp.add_argument("--write", action="store_true", help="add it to config.yaml (then checked)")
    mp.set_defaults(func=cmd_midi_learn)


def _version() -> str:
    from routing import __version__

    return f"dawroute {__version__}"


# ---------------------------------------------------------------- init


def cmd_init(args: argparse.Namespace) -> int:
    from routing.install import Report, init, install_service

    report = init()
    if args.service:
        service = Report()
        install_service(service)
        report.wrote += service.wrote
        report.notes += service.notes
    if args.daw:
        from routing import dawscripts

        scripts = dawscripts.install(args.daw)
        report.wrote += scripts.wrote
        report.kept += scripts.kept
        report.notes += scripts.notes
    for line in report.lines():
        print(clean(line))
    if report.wrote and not args.service:
        print("next: `dawroute check`, then `dawroute init --service` to run it at login")
    return 0


# ---------------------------------------------------------------- devices


def cmd_devices(args: argparse.Namespace) -> int:
    import asyncio

    from routing.matching import suggest_selector

    snapshot = asyncio.run(_observe())
    rows = []
    for dev in snapshot.sinks() + snapshot.sources():
        if dev.ours:
            continue
        rows.append({
            "kind": "output" if dev in snapshot.sinks() else "input",
            "name": dev.name, "description": dev.description, "bus": dev.bus,
            "usb": dev.usb_id, "serial": dev.serial, "card": dev.card_name,
            "channels": list(dev.channels), "volume": dev.volume,
            "mixer": dev.mixers[0][0] if dev.mixers else None,
            "default": dev.name in (snapshot.default_sink, snapshot.default_source),
            "selector": suggest_selector(dev, snapshot.devices),
            "ports": list(dev.ports), "port": dev.port,
        })  # fmt: skip
    cards = [
        {"name": c.name, "description": c.description, "profiles": list(c.profiles),
         "active": c.active}
        for c in snapshot.cards
    ]  # fmt: skip
    if args.json:
        print(
            json.dumps(
                {
                    "server": snapshot.server.value,
                    "version": snapshot.server_version,
                    "devices": rows,
                    "cards": cards,
                },
                indent=2,
            )
        )
        return 0
    print(f"{snapshot.server.value} {snapshot.server_version}")
    for kind, title in (("output", "Outputs"), ("input", "Inputs")):
        print(f"\n{title}:")
        for r in (r for r in rows if r["kind"] == kind):
            mark = "  (default)" if r["default"] else ""
            print(f"  {r['description']}{mark}")
            ident = [f"name {r['name']}"]
            ident += [f"usb {r['usb']}"] if r["usb"] else []
            ident += [f'card "{r["card"]}"'] if r["card"] else []
            ident += [f"channels {' '.join(r['channels'])}", f"volume {r['volume']:.0f} %"]
            ident += [f"mixer {r['mixer']}"] if r["mixer"] else []
            print("    " + "   ".join(ident))
            key = "output" if kind == "output" else "input"
            print(f"    {key}: {_flow_yaml(r['selector'])}")
            for port in r["ports"]:  # a key of the same block, ready to paste
                print(f"      port: {port}" + ("   # active" if port == r["port"] else ""))
    if cards:
        print("\nCards (`card_profile:` in an output or input):")
    for c in cards:
        print(f"  {c['description']}   name {c['name']}")
        for profile in c["profiles"]:
            mark = "   # active" if profile == c["active"] else ""
            print(f"      card_profile: {profile}{mark}")
    return 0


def cmd_daws(args: argparse.Namespace) -> int:
    """What plays (pulse streams) and which JACK clients have outputs, each with the
    `daw:` line to paste. Either server may be missing; the other is still listed."""
    import asyncio

    from routing import daws

    problems: dict[str, str] = {}
    streams: list[Any] = []
    try:
        streams = daws.streams(asyncio.run(_observe()).streams)
    except ServerUnavailable as exc:
        problems["pulse"] = exc.message
    clients: list[Any] = []
    try:
        clients = daws.jack_clients(_jack_ports())
    except Exception as exc:  # JackUnavailable, or libjack missing
        problems["jack"] = f"no JACK server reachable ({exc}); on PipeWire run under pw-jack"
    code = ServerUnavailable.exit_code if len(problems) == 2 else 0  # neither answered
    if args.json:
        print(
            json.dumps(
                {
                    "streams": [r.as_dict() for r in streams],
                    "jack": [r.as_dict() for r in clients],
                    "problems": problems,
                },
                indent=2,
            )
        )
        return code
    print("Applications playing (pulse streams):")
    for r in streams:
        binary = f" (binary {r.binary})" if r.binary else ""
        on = f" on {', '.join(r.where)}" if r.where else ""
        print(f"  {r.name}{binary}{on}\n    {r.paste}")
    if not streams:
        print(f"  none{': ' + problems['pulse'] if 'pulse' in problems else ''}")
    print("\nJACK clients with audio outputs:")
    for r in clients:
        shown = ", ".join(r.where[:4]) + (", …" if len(r.where) > 4 else "")
        print(f"  {r.name}: {shown}\n    {r.paste}")
    if not clients:
        print(f"  none{': ' + problems['jack'] if 'jack' in problems else ''}")
    return code


def _jack_ports() -> Any:
    from routing.backends.jack import JackBackend

    jack = JackBackend(lambda _why: None, lambda *_a: None)
    jack.connect()
    try:
        return jack.observe()[0]
    finally:
        jack.close()


def _flow_yaml(sel: dict[str, str]) -> str:
    return "{" + ", ".join(f"{k}: {json.dumps(v)}" for k, v in sel.items()) + "}"


async def _observe() -> Any:
    """The pulse server's view, or bare ALSA's without one (config.yaml's `backend`)."""
    from routing.backends.composite import connect_server
    from routing.backends.pulse import ServerError
    from routing.format.config import load_config

    loaded, _issues = load_config(paths.config_file())
    try:
        backend = await connect_server(loaded.config.backend, os.environ.get("PULSE_SERVER"))
    except (ServerError, TimeoutError) as exc:
        raise ServerUnavailable(
            "no sound server answers (PulseAudio or pipewire-pulse) and no bare ALSA — "
            f"start PipeWire or PulseAudio, or set PULSE_SERVER ({exc})"
        ) from exc
    try:
        return await backend.observe()
    finally:
        backend.close()


# ---------------------------------------------------------------- check / schema


def split_paths(given: Sequence[Path]) -> tuple[list[Path], Path | None]:
    """Profile files/dirs and the config file among the user's arguments."""
    if not given:
        return [paths.profiles_dir()], paths.config_file()
    config = next((p for p in given if p.name == "config.yaml" and p.is_file()), None)
    config = config or next(
        (p / "config.yaml" for p in given if p.is_dir() and (p / "config.yaml").is_file()), None
    )
    return [p for p in given if p != config], config


def cmd_check(args: argparse.Namespace) -> int:
    from routing.format.config import check_all

    profile_paths, config_path = split_paths(args.paths)
    if not args.paths and not profile_paths[0].exists():
        print(
            f"dawroute: no profiles yet: {profile_paths[0]} does not exist — "
            "`dawroute init` writes the examples there",
            file=sys.stderr,
        )
        return ConfigInvalid.exit_code
    from routing.errors import ConfigIssue
    from routing.format.profiles import profile_files

    profiles, _, issues = check_all(profile_paths, config_path)
    for p in profile_paths:
        if p.is_dir() and not profile_files([p]):
            issues.append(
                ConfigIssue(
                    str(p), 1, 1, "", "no profiles in this directory (no *.yaml or *.yml "
                    "file but config.yaml)", "`dawroute init` writes the examples to "
                    f"{paths.profiles_dir()}; a profile needs at least `name` and `output`",
                )
            )  # fmt: skip
    errors = [i for i in issues if i.severity == "error"]
    if args.json:
        print(
            json.dumps(
                {
                    "ok": not errors,
                    "profiles": list(profiles.names()),
                    "issues": [i.as_json() for i in issues],
                },
                indent=2,
            )
        )
    else:
        for issue in issues:  # file names and keys come from the files: no raw escapes
            print(
                clean(issue.format()), file=sys.stderr if issue.severity == "error" else sys.stdout
            )
        if config_path is not None and config_path.is_file():
            print(f"config: {clean(str(config_path))} (daemon settings)")
        if not errors:
            print(f"ok: {len(profiles.profiles)} profile(s): {', '.join(profiles.names())}")
    return ConfigInvalid.exit_code if errors else 0


def cmd_schema(args: argparse.Namespace) -> int:
    from routing.format.config import config_schema
    from routing.format.profiles import profile_schema

    print(json.dumps(config_schema() if args.config else profile_schema(), indent=2))
    return 0


# ---------------------------------------------------------------- apply


def cmd_apply(args: argparse.Namespace) -> int:
    import asyncio

    from routing.errors import DaemonNotRunning

    if not args.dry_run:
        # A running daemon would undo a change made behind its back ~100 ms later: go
        # through it (as `switch` does), or refuse when asked for other profiles than its.
        client = _client()
        try:
            if args.profiles:
                run(client.status())
                raise DawrouteError(
                    "the daemon is running with its own profiles and would undo this — use "
                    f"`dawroute switch {args.profile}`, or stop the daemon first"
                )
            res = run(client.switch(args.profile))
        except DaemonNotRunning:
            pass  # no daemon: apply once, directly
        else:
            print(
                "dawroute: the daemon is running: switched through it (held until its device "
                "leaves or `dawroute auto`)",
                file=sys.stderr,
            )
            _print_result(res)
            return 0

    from routing.oneshot import apply_once

    return asyncio.run(
        apply_once(args.profile, args.profiles or [paths.profiles_dir()], dry_run=args.dry_run)
    )


# ---------------------------------------------------------------- MIDI


def cmd_midi_ports(args: argparse.Namespace) -> int:
    from routing.learn import list_ports

    ports = list_ports()
    if args.json:
        print(json.dumps(ports, indent=2))
        return 0
    for api, info in ports.items():
        if not info["available"]:
            print(f"{api}: unavailable: {info['why']}")
            continue
        print(f"{api}:")
        for p in info["inputs"]:
            print(f"  in   {p}")
        for p in info["outputs"]:
            print(f"  out  {p}")
    return 0


def cmd_midi_monitor(args: argparse.Namespace) -> int:
    from routing import midi
    from routing.learn import describe, messages

    try:
        for n, msg in enumerate(messages(args.port, args.api, args.timeout), 1):
            print(describe(msg), flush=True)
            if args.count and n >= args.count:
                break
    except midi.MidiUnavailable as exc:
        print(f"dawroute: {exc}", file=sys.stderr)
        return 6
    return 0


def cmd_midi_learn(args: argparse.Namespace) -> int:
    from routing import midi
    from routing.format.config import check_all
    from routing.format.configedit import add_trigger
    from routing.learn import messages
    from routing.triggers import as_trigger_yaml

    if args.switch:
        action = f"switch: {args.switch}"
    elif args.toggle:
        action = f"toggle: [{args.toggle[0]}, {args.toggle[1]}]"
    else:
        action = f"action: {args.action}"

    def prompt() -> None:
        print(f"press the pad, key or foot switch for `{action}` …", file=sys.stderr, flush=True)

    try:
        msg = next(iter(messages(args.port, args.api, args.timeout, ready=prompt)), None)
    except midi.MidiUnavailable as exc:
        print(f"dawroute: {exc}", file=sys.stderr)
        return 6
    if msg is None:
        print(f"dawroute: no MIDI message within {args.timeout:g} s", file=sys.stderr)
        return 1
    snippet = as_trigger_yaml(msg, action)
    print(snippet)
    if not args.write:
        return 0
    config = paths.config_file()
    before = config.read_text(encoding="utf-8") if config.exists() else None
    add_trigger(config, snippet)
    _, _, issues = check_all([paths.profiles_dir()], config)
    errors = [i for i in issues if i.severity == "error"]
    if errors:
        for e in errors:
            print(e.format(), file=sys.stderr)
        if before is None:
            config.unlink()
        else:
            config.write_text(before, encoding="utf-8")
        print("dawroute: not written: config.yaml would not pass `dawroute check`", file=sys.stderr)
        return ConfigInvalid.exit_code
    print(f"added to {config}; `dawroute reload` (or save) makes the daemon use it")
    return 0


# ---------------------------------------------------------------- daemon and its client


def cmd_daemon(args: argparse.Namespace) -> int:
    _without_tls()
    from routing.daemon import Settings, run

    _setup_logging(args.verbose)
    settings = Settings(
        profile_paths=args.profiles or [paths.profiles_dir()],
        config_path=args.config or paths.config_file(),
        state_path=paths.state_dir() / "state.json",
        socket_path=paths.control_socket(),
        server=os.environ.get("PULSE_SERVER"),
        verbose=args.verbose,
    )
    return run(settings)


def _without_tls() -> None:
    """The daemon speaks no TLS (a unix socket, the sound server, OSC over UDP, D-Bus) and
    needs no OpenSSL digest, yet asyncio imports ssl to offer TLS, and pydantic's types
    import hmac (through secrets), which loads OpenSSL's hashes: libssl and libcrypto
    were 4.5 MB of the idle daemon's 43 MB resident memory (the aim is 40). Marked
    absent before either is imported, they are left out as on a Python built without
    OpenSSL: asyncio runs without ssl, and hashlib and hmac use CPython's own digests."""
    if "asyncio" not in sys.modules:
        for name in ("ssl", "_ssl", "_hashlib"):
            sys.modules.setdefault(name, None)  # type: ignore[arg-type]


def _setup_logging(verbose: bool) -> None:
    import logging

    # Under systemd the journal stamps each line; a second timestamp is noise.
    journal = bool(os.environ.get("JOURNAL_STREAM"))
    fmt = (
        "%(levelname)s %(name)s: %(message)s"
        if journal
        else "%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO, format=fmt, stream=sys.stderr
    )


def run(coro: Coroutine[Any, Any, T]) -> T:
    from routing.client import run as run_sync

    return run_sync(coro)


def _client() -> ControlClient:
    from routing.client import ControlClient

    try:
        timeout = float(os.environ.get("DAWROUTE_TIMEOUT", "30"))
    except ValueError:
        timeout = 30.0
    return ControlClient(paths.control_socket(), timeout=timeout if timeout > 0 else 30.0)


def cmd_status(args: argparse.Namespace) -> int:
    st = run(_client().status())
    if args.json:
        print(json.dumps(st, indent=2))
        return 0
    from routing.status import render_status

    print(render_status(st))
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    rows = run(_client().list())["profiles"]
    if args.json:
        print(json.dumps({"profiles": rows}, indent=2))
        return 0
    for r in rows:
        mark = "*" if r["active"] else " "
        kind = "fallback" if r["fallback"] else ("auto" if r["auto"] else "manual")
        where = "present" if r["present"] else (r["problem"] or "absent")
        print(f"{mark} {r['name']:<20} {kind:<8} priority {r['priority']:<4} {where}")
        if r.get("description"):
            print(f"    {clean(r['description'])}")
    return 0


def cmd_switch(args: argparse.Namespace) -> int:
    res = run(_client().switch(args.profile))
    _print_result(res)
    return 0


def cmd_toggle(args: argparse.Namespace) -> int:
    """What a MIDI or OSC toggle does, for scripts (REAPER's actions call it)."""
    client = _client()
    active = run(client.status()).get("active")
    res = run(client.switch(args.b if active == args.a else args.a))
    _print_result(res)
    return 0


def cmd_simple(args: argparse.Namespace) -> int:
    client = _client()
    if args.method == "reload":
        reloaded = run(client.reload())
        for w in reloaded.get("warnings", []):
            print(w)
        print(f"reloaded: {len(reloaded['profiles'])} profile(s)")
        return 0
    change = {
        "auto": client.auto, "off": client.off, "next": client.next, "previous": client.previous
    }  # fmt: skip
    _print_result(run(change[args.method]()))
    return 0


def _print_result(res: Changed) -> None:
    for line in res.get("done", []):
        print(f"done: {line}")
    for line in res.get("skipped", []):
        print(f"skipped: {line}")
    print(res["reason"])


def cmd_watch(args: argparse.Namespace) -> int:
    import time

    from routing.client import follow
    from routing.status import event_details

    for ev in follow(_client().watch()):
        if args.json:
            print(json.dumps(ev), flush=True)
        else:
            stamp = time.strftime("%H:%M:%S", time.localtime(ev["time"]))
            print(f"{stamp} {ev['kind']:<8} {ev['message']}", flush=True)
            # what it did: where the DAW now plays and records from, its levels
            for line in [f"done: {d}" for d in ev.get("done", [])] + event_details(ev):
                print(f"{'':18}{line}", flush=True)
    return 0


def cmd_completion(args: argparse.Namespace) -> int:
    from routing import completion

    if args.profile_names:
        from routing.format.profiles import profile_names

        for name in profile_names(paths.profiles_dir()):
            print(name)
        return 0
    print(completion.script(args.shell), end="")
    return 0


def cmd_man(args: argparse.Namespace) -> int:
    import shutil
    import subprocess

    from routing.install import data

    page = data() / "man" / "dawroute.1"
    text = page.read_text(encoding="utf-8")
    viewer = shutil.which("man")
    if sys.stdout.isatty() and viewer is not None:
        return subprocess.run([viewer, "-l", "-"], input=text, text=True).returncode
    print(text, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
