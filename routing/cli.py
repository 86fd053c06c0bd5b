"""`dawroute …`: thin front end. Heavy modules (pulsectl, pydantic, the daemon) are imported
inside the commands that need them, so `dawroute status` costs little more than Python's start."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from routing import paths
from routing.errors import ConfigInvalid, DawrouteError, ServerUnavailable

Handler = Callable[[argparse.Namespace], int]


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        code: int = args.func(args)
        return code
    except DawrouteError as exc:
        print(f"dawroute: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="dawroute", description="Keep the right audio device as your DAW's output."
    )
    p.add_argument("--version", action="version", version=_version())
    sub = p.add_subparsers(metavar="COMMAND")

    def cmd(name: str, func: Handler, help_: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help_, description=help_)
        sp.set_defaults(func=func)
        return sp

    sp = cmd("devices", cmd_devices, "list outputs and inputs with ready-to-paste selectors")
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
    return p


def _version() -> str:
    from routing import __version__

    return f"dawroute {__version__}"


# ---------------------------------------------------------------- devices


def cmd_devices(args: argparse.Namespace) -> int:
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
            "default": dev.name in (snapshot.default_sink, snapshot.default_source),
            "selector": suggest_selector(dev, snapshot.devices),
        })  # fmt: skip
    if args.json:
        print(
            json.dumps(
                {
                    "server": snapshot.server.value,
                    "version": snapshot.server_version,
                    "devices": rows,
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
            print("    " + "   ".join(ident))
            key = "output" if kind == "output" else "input"
            print(f"    {key}: {_flow_yaml(r['selector'])}")
    return 0


def _flow_yaml(sel: dict[str, str]) -> str:
    return "{" + ", ".join(f"{k}: {json.dumps(v)}" for k, v in sel.items()) + "}"


async def _observe() -> Any:
    from routing.backends.pulse import PulseBackend, ServerError

    backend = PulseBackend(os.environ.get("PULSE_SERVER"))
    try:
        await backend.connect()
    except (ServerError, TimeoutError) as exc:
        raise ServerUnavailable(
            "no sound server answers (PulseAudio or pipewire-pulse) — start PipeWire or "
            "PulseAudio, or set PULSE_SERVER"
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
    from routing.config import check_all

    profile_paths, config_path = split_paths(args.paths)
    if not args.paths and not profile_paths[0].exists():
        print(
            f"dawroute: no profiles yet: {profile_paths[0]} does not exist — copy an "
            "example from the profiles/ folder there",
            file=sys.stderr,
        )
        return ConfigInvalid.exit_code
    profiles, _, issues = check_all(profile_paths, config_path)
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
        for issue in issues:
            print(issue.format(), file=sys.stderr if issue.severity == "error" else sys.stdout)
        if not errors:
            print(f"ok: {len(profiles.profiles)} profile(s): {', '.join(profiles.names())}")
    return ConfigInvalid.exit_code if errors else 0


def cmd_schema(args: argparse.Namespace) -> int:
    from routing.config import config_schema
    from routing.profiles import profile_schema

    print(json.dumps(config_schema() if args.config else profile_schema(), indent=2))
    return 0


# ---------------------------------------------------------------- apply


def cmd_apply(args: argparse.Namespace) -> int:
    from routing.oneshot import apply_once

    return asyncio.run(
        apply_once(args.profile, args.profiles or [paths.profiles_dir()], dry_run=args.dry_run)
    )


if __name__ == "__main__":
    raise SystemExit(main())
