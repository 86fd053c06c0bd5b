"""dawroute(1), generated from the CLI's own parser, so the page lists every command and
option there is. The shipped copy (routing/data/man/dawroute.1) is checked against this by
the tests: regenerate it with `python -m routing.manpage > routing/data/man/dawroute.1`."""

from __future__ import annotations

import argparse

from routing import __version__
from routing.errors import (
    AlreadyRunning,
    ConfigInvalid,
    DaemonNotResponding,
    DaemonNotRunning,
    DawrouteError,
    PermissionDenied,
    ProfileNotApplied,
    ProfileNotFound,
    ProfileNotMatched,
    ServerUnavailable,
)

EXIT = (
    (0, "success"),
    (DawrouteError.exit_code, "unexpected failure"),
    (2, "wrong arguments"),
    (ConfigInvalid.exit_code, "profiles or config.yaml have errors"),
    (DaemonNotRunning.exit_code, "no daemon on the control socket"),
    (ProfileNotFound.exit_code, "no profile by that name"),
    (ProfileNotMatched.exit_code, "its devices are not (unambiguously) connected"),
    (ProfileNotApplied.exit_code, "the server refused part of it"),
    (ServerUnavailable.exit_code, "no sound server answers"),
    (9, "malformed control request"),
    (PermissionDenied.exit_code, "the socket or runtime directory is not safely yours"),
    (DaemonNotResponding.exit_code, "the daemon did not answer within the time-out"),
    (AlreadyRunning.exit_code, "another daemon is running"),
    (130, "interrupted"),
    (141, "the output was closed early"),
)

FILES = (
    ("~/.config/dawroute/profiles/*.yaml", "profiles (`dawroute init` writes the examples)"),
    ("~/.config/dawroute/config.yaml", "daemon settings"),
    ("~/.config/dawroute/schema/", "JSON Schemas the editor hints in those files point at"),
    ("~/.local/state/dawroute/state.json", "the active profile, manual choice and off"),
    ("$XDG_RUNTIME_DIR/dawroute/control.sock", "the control socket"),
    ("~/.config/systemd/user/dawroute.service", "the user unit (`dawroute init --service`)"),
)

ENVIRONMENT = (
    ("PULSE_SERVER", "the sound server to use"),
    ("DAWROUTE_SOCKET", "the control socket's path"),
    ("DAWROUTE_TIMEOUT", "seconds the CLI waits for the daemon (30)"),
    ("XDG_CONFIG_HOME, XDG_STATE_HOME, XDG_RUNTIME_DIR", "where the files above live"),
)


def _esc(text: str) -> str:
    text = text.replace("\\", "\\e").replace("-", "\\-").replace("`", "")
    return "\n".join(("\\&" + line) if line[:1] in ".'" else line for line in text.split("\n"))


def _subcommands(parser: argparse.ArgumentParser) -> list[tuple[argparse.ArgumentParser, str]]:
    """Each sub-parser with its one-line help."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            return [(sub, helps.get(name, "")) for name, sub in action.choices.items()]
    return []


def _usage(parser: argparse.ArgumentParser) -> str:
    usage = parser.format_usage().strip()
    return " ".join(usage.removeprefix("usage: ").split())


def _options(parser: argparse.ArgumentParser) -> list[str]:
    out: list[str] = []
    for action in parser._actions:
        if action.help == argparse.SUPPRESS or isinstance(
            action, argparse._SubParsersAction | argparse._HelpAction
        ):
            continue
        if action.option_strings:
            names = ", ".join(action.option_strings)
            if action.nargs != 0:
                metavar = action.metavar or action.dest.upper()
                names += " " + (" ".join(metavar) if isinstance(metavar, tuple) else metavar)
        else:
            names = str(action.metavar or action.dest)
        out += [".TP", f"\\fB{_esc(names)}\\fR", _esc(action.help or "")]
    return out


def render() -> str:
    from routing.cli import build_parser

    parser = build_parser()
    lines = [
        f'.TH DAWROUTE 1 "" "dawroute {__version__}" "User Commands"',
        ".SH NAME",
        "dawroute \\- keep the right audio device as your DAW's output",
        ".SH SYNOPSIS",
        "\\fBdawroute\\fR \\fICOMMAND\\fR [\\fIOPTIONS\\fR]",
        ".SH DESCRIPTION",
        _esc(
            "dawroute watches PipeWire or PulseAudio and routes the DAW to the output its "
            "YAML profiles choose, at a safe level: plug in a headphone amp and the DAW "
            "plays through it within its cap; pull it out and the fallback takes over at "
            "its own level. Start with `dawroute init`, then `dawroute check`, then "
            "`dawroute init --service` to run the daemon at every login."
        ),
        ".SH COMMANDS",
    ]
    for sub, help_ in _subcommands(parser):
        lines += [".SS " + _esc(sub.prog.removeprefix("dawroute ")), ".PP"]
        lines += [f"\\fB{_esc(_usage(sub))}\\fR", ".PP", _esc(sub.description or help_)]
        lines += _options(sub)
        for action, action_help in _subcommands(sub):
            lines += [".TP", f"\\fB{_esc(_usage(action))}\\fR", _esc(action_help)]
    lines.append(".SH FILES")
    for path, what in FILES:
        lines += [".TP", f"\\fI{_esc(path)}\\fR", _esc(what)]
    lines.append(".SH ENVIRONMENT")
    for var, what in ENVIRONMENT:
        lines += [".TP", f"\\fB{_esc(var)}\\fR", _esc(what)]
    lines.append(".SH EXIT STATUS")
    for code, what in EXIT:
        lines += [".TP", str(code), _esc(what)]
    lines += [
        ".SH SEE ALSO",
        "\\fBsystemctl\\fR(1), \\fBjournalctl\\fR(1), \\fBpactl\\fR(1), \\fBpw\\-metadata\\fR(1)",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render(), end="")
