"""Daemon settings and MIDI triggers (`~/.config/dawroute/config.yaml`), same error style as profiles."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, WithJsonSchema, model_validator
from pydantic.dataclasses import dataclass as pdataclass

from routing import settings
from routing.errors import ConfigIssue
from routing.format import plain, yamlsource
from routing.format.crosscheck import did_you_mean
from routing.format.document import ProfileSet
from routing.format.invalid import Invalid
from routing.format.profiles import read_text
from routing.format.validation import adapter, validate_document
from routing.format.values import STRICT, Pattern, ProfileName, Volume
from routing.settings import SimpleAction

MidiNumber = Annotated[int, Field(ge=0, le=127)]
MidiChannel = Annotated[int, Field(ge=1, le=16)]


@pdataclass(frozen=True, config=STRICT)
class Safety:
    max_volume: Volume = 100.0  # cap for outputs whose profile sets none
    volume_step: Annotated[float, Field(gt=0, le=25)] = 3.0  # percent, for MIDI volume actions
    # PulseAudio without module-device-restore brings a re-plugged device back at 100 %
    # and moves the DAW to it inside the server: load the module so it returns at the
    # level dawroute left it (within its cap). See docs/safety.md.
    level_memory: bool = True


@pdataclass(frozen=True, config=STRICT)
class Trigger:
    """One MIDI message → one action. Exactly one of note / cc / program."""

    port: Pattern = "~."  # port name, exact or `~regex`
    channel: MidiChannel | None = None  # 1-16; any channel when omitted
    note: MidiNumber | None = None
    cc: MidiNumber | None = None
    program: MidiNumber | None = None
    threshold: MidiNumber = 64  # cc: value >= threshold is "pressed"
    mode: Literal["press", "momentary"] = "press"  # momentary: release switches back
    switch: ProfileName | None = None
    toggle: tuple[ProfileName, ProfileName] | None = None
    action: SimpleAction | None = None

    @model_validator(mode="after")
    def _one_of_each(self) -> Trigger:
        messages = [k for k in ("note", "cc", "program") if getattr(self, k) is not None]
        if len(messages) != 1:
            raise Invalid(
                "a trigger needs exactly one of `note`, `cc` or `program`",
                "e.g. `cc: 64` for a sustain-pedal foot switch",
            )
        actions = [k for k in ("switch", "toggle", "action") if getattr(self, k) is not None]
        if len(actions) != 1:
            raise Invalid(
                "a trigger needs exactly one of `switch: NAME`, `toggle: [A, B]` "
                "or `action: next|previous|auto|volume_up|volume_down`"
            )
        return self


@pdataclass(frozen=True, config=STRICT)
class Led:
    note: MidiNumber | None = None
    cc: MidiNumber | None = None
    channel: MidiChannel = 1
    value_on: MidiNumber = 127  # velocity / CC value for the active profile
    value_off: MidiNumber = 0

    @model_validator(mode="after")
    def _one(self) -> Led:
        if (self.note is None) == (self.cc is None):
            raise Invalid("an LED needs exactly one of `note` or `cc`")
        return self


@pdataclass(frozen=True, config=STRICT)
class Feedback:
    port: Pattern  # output port to the controller, exact or `~regex`
    profiles: dict[str, Led] = Field(default_factory=dict)


@pdataclass(frozen=True, config=STRICT)
class Midi:
    api: Literal["auto", "jack", "alsa"] = "auto"
    triggers: tuple[Trigger, ...] = ()
    feedback: Feedback | None = None
    debounce_ms: Annotated[int, Field(ge=0, le=2000)] = 40


def _parse_endpoint(value: Any) -> str:
    """'127.0.0.1:9000', 'localhost:9000', '[::1]:9000' → normalised 'host:port' (IP literals
    only: the daemon never waits on a name lookup)."""
    from routing.format.endpoint import parse_endpoint

    if not isinstance(value, str):
        raise Invalid('expected `host:port` in quotes, e.g. `"127.0.0.1:9000"`')
    return parse_endpoint(value).text


Endpoint = Annotated[
    str,
    BeforeValidator(_parse_endpoint),
    WithJsonSchema({
        "type": "string",
        "pattern": r"^(\[[0-9a-fA-F:.]+\]|[0-9.]+|localhost):[0-9]{1,5}$",
        "description": "host:port with an IP address (127.0.0.1:9000, [::1]:9000)",
    }),
]  # fmt: skip


@pdataclass(frozen=True, config=STRICT)
class Osc:
    """Open Sound Control: commands in on `listen`, the state out to `feedback`. There is no
    authentication, so both are loopback-only unless `allow_remote: true`."""

    listen: Endpoint | None = None
    feedback: tuple[Endpoint, ...] = ()
    allow_remote: bool = False

    @model_validator(mode="after")
    def _loopback(self) -> Osc:
        from routing.format.endpoint import parse_endpoint

        if self.listen is None and not self.feedback:
            raise Invalid(
                "`osc` needs `listen` (commands in) or `feedback` (state out)",
                'e.g. `listen: "127.0.0.1:9000"`',
            )
        if self.allow_remote:
            return self
        if self.listen is not None and not parse_endpoint(self.listen).loopback:
            raise Invalid(
                f"{self.listen} is not a loopback address and OSC has no authentication",
                "use 127.0.0.1, or add `allow_remote: true` to accept commands from the network",
                key="listen",
            )
        for target in self.feedback:
            if not parse_endpoint(target).loopback:
                raise Invalid(
                    f"{target} is not a loopback address",
                    "use 127.0.0.1, or add `allow_remote: true` to send the state to the network",
                    key="feedback",
                )
        return self


@pdataclass(frozen=True, config=STRICT)
class Config:
    backend: Literal["auto", "pulse", "pipewire", "jack", "alsa"] = "auto"
    safety: Safety = Field(default_factory=Safety)
    midi: Midi = Field(default_factory=Midi)
    osc: Osc | None = None
    notifications: bool = False
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    # what the daemon leaves when it stops: `keep` the routing (the DAW stays where it
    # plays), or `restore` what dawroute changed, as `dawroute off` does (not remembered:
    # the next start routes again). Not `off`: YAML reads a bare off as false
    on_stop: Literal["keep", "restore"] = "keep"


@dataclass(frozen=True, slots=True)
class LoadedConfig:
    config: settings.Config  # converted from the format's Config once validated
    file: str | None
    doc: yamlsource.Located | None  # kept to locate cross-checks against profiles


def parse_config(text: str, file: str) -> tuple[LoadedConfig, list[ConfigIssue]]:
    doc = yamlsource.load(text, file)
    if doc.syntax_error:
        return LoadedConfig(settings.Config(), file, doc), doc.issues
    if doc.data is None:
        return LoadedConfig(settings.Config(), file, doc), []
    if not isinstance(doc.data, dict):
        return LoadedConfig(settings.Config(), file, doc), [
            doc.issue((), "expected settings as `key: value` lines", "see docs/config.md")
        ]
    parsed = validate_document(doc, adapter(Config), Config)
    issues = sorted(doc.issues, key=lambda i: (i.line, i.column))
    return LoadedConfig(to_plain(parsed or Config()), file, doc), issues


def to_plain(config: Config) -> settings.Config:
    return plain.convert(config, settings, settings.Config)


def load_config(path: Path | None) -> tuple[LoadedConfig, list[ConfigIssue]]:
    if path is None or not path.exists():
        return LoadedConfig(settings.Config(), None, None), []
    text, problem = read_text(path)
    if problem:
        return LoadedConfig(settings.Config(), str(path), None), [problem]
    return parse_config(text, str(path))


def cross_check(loaded: LoadedConfig, profiles: ProfileSet) -> list[ConfigIssue]:
    """Triggers and LEDs naming profiles that do not exist; two triggers on one message."""
    doc = loaded.doc
    if doc is None:
        return []
    names = profiles.declared_names()  # one with errors is reported in its own file
    issues: list[ConfigIssue] = []
    seen: dict[tuple[str, int | None, str, int], int] = {}
    for i, trig in enumerate(loaded.config.midi.triggers):
        base: yamlsource.Path_ = ("midi", "triggers", i)
        key = "switch" if trig.switch else "toggle"
        for j, name in enumerate(trig.profiles()):
            if name not in names:
                where = (*base, key) if trig.switch else (*base, key, j)
                issues.append(
                    doc.issue(where, f"no profile named '{name}'", did_you_mean(name, names))
                )
        mkey = trig.message_key()
        if mkey in seen:
            issues.append(
                doc.issue(
                    base,
                    f"the same MIDI message as trigger {seen[mkey] + 1}",
                    "use another note/cc/program or channel, or remove one",
                )
            )
        seen.setdefault(mkey, i)
    fb = loaded.config.midi.feedback
    for name in fb.profiles if fb else {}:
        if name not in names:
            issues.append(
                doc.issue(
                    ("midi", "feedback", "profiles", name),
                    f"no profile named '{name}'",
                    did_you_mean(name, names),
                    key=True,
                )
            )
    return issues


def stray_configs(profile_paths: Sequence[Path], config_path: Path | None) -> list[ConfigIssue]:
    """A config.yaml inside a profiles directory that is not the config file in use: its
    settings are not read, which is worth a warning rather than silence."""
    from routing.format.profiles import CONFIG_NAME

    issues = []
    for p in profile_paths:
        stray = p / CONFIG_NAME
        if not p.is_dir() or not stray.is_file():
            continue
        if config_path is not None and stray.resolve() == config_path.resolve():
            continue
        where = f" ({config_path})" if config_path is not None else ""
        issues.append(
            ConfigIssue(
                str(stray), 1, 1, "",
                "daemon settings inside the profiles directory are not read, and it is "
                "not a profile",
                f"move it next to the profiles directory, to the config.yaml the daemon "
                f"reads{where}",
                "warning",
            )
        )  # fmt: skip
    return issues


def check_all(
    profile_paths: Sequence[Path], config_path: Path | None
) -> tuple[ProfileSet, LoadedConfig, list[ConfigIssue]]:
    """Everything `dawroute check` and a daemon reload validate, in one place."""
    from routing.format.profiles import load_profiles

    profiles, issues = load_profiles(profile_paths)
    loaded, config_issues = load_config(config_path)
    issues = stray_configs(profile_paths, config_path) + issues + config_issues
    if not config_issues:
        issues += cross_check(loaded, profiles)
    return profiles, loaded, issues


def config_schema() -> dict[str, Any]:
    schema = adapter(Config).json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "dawroute config.yaml"
    return schema
