"""Bare ALSA: the mixer choice, the level mapping, the generated ALSA configuration
(golden files, and alsa-lib itself parsing it), the ops for a plan, and the backend's
reading of cards and setting of levels against a scripted alsaaudio."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from pathlib import Path
from typing import ClassVar, cast

import alsaaudio
import pytest

from routing import alsaconf, alsaplan, policy
from routing.apply import Owner, owner, plan_ops, stage
from routing.backends import alsa as alsa_backend
from routing.contract import Status
from routing.format.profiles import parse_profiles
from routing.model import (
    Device,
    Direction,
    OutputPlan,
    Plan,
    ServerKind,
    SetMixer,
    Snapshot,
    Stream,
    WriteAlsaConfig,
)
from routing.profile import Profile
from routing.state import State

GOLDEN = Path(__file__).parent / "golden" / "alsa"
CONFIG = "/home/musician/.config/dawroute/asoundrc"  # as written in the golden files


# ---------------------------------------------------------------- mixer choice


@pytest.mark.parametrize(
    ("controls", "override", "chosen"),
    [
        (["Master", "PCM", "Headphone"], None, "Master"),  # HDA: Master is after PCM
        (["Headphone", "PCM"], None, "PCM"),  # the order is dawroute's, not the card's
        (["Speaker", "Headphone"], None, "Headphone"),
        (["Speaker"], None, "Speaker"),  # QEMU's USB audio, many USB speakers
        (["Front", "Line Out"], None, "Front"),
        (["Scarlett 2i2 USB"], None, "Scarlett 2i2 USB"),  # none known: the card's first
        ([], None, None),  # no playback volume at all
        (["Master", "PCM"], "PCM", "PCM"),  # output.mixer wins
        (["Master", "PCM"], "pcm", "PCM"),  # ignoring case, giving the card's spelling
        (["Master"], "Headphone", None),  # never another control in its place
    ],
)
def test_mixer_choice(controls: list[str], override: str | None, chosen: str | None) -> None:
    assert alsaconf.choose_mixer(controls, override) == chosen


def test_mixers_are_listed_with_the_choice_first() -> None:
    assert alsaconf.order_mixers(["Headphone", "Speaker", "PCM"]) == ("PCM", "Headphone", "Speaker")
    assert alsaconf.order_mixers([]) == ()


# ---------------------------------------------------------------- levels


@pytest.mark.parametrize(
    ("percent", "db"), [(100.0, 0.0), (50.0, -18.06), (40.0, -23.88), (70.0, -9.29)]
)
def test_percent_is_pulseaudio_cubic_db(percent: float, db: float) -> None:
    assert alsaconf.percent_to_db(percent) == pytest.approx(db, abs=0.01)
    assert alsaconf.db_to_percent(db) == pytest.approx(percent, abs=0.02)


def test_silence_and_raw_ranges() -> None:
    assert alsaconf.db_to_percent(float("-inf")) == 0.0
    assert alsaconf.percent_to_db(0.0) == float("-inf")
    assert alsaconf.percent_to_raw(50.0, 0, 255) == 127  # rounded down: never louder
    assert alsaconf.raw_to_percent(127, 0, 255) == pytest.approx(49.8, abs=0.01)
    # snd-dummy's Master: -45 dB…0 dB over -50…100
    assert alsaconf.db_to_raw(-18.06, (-45.0, 0.0), (-50, 100)) == 39
    assert alsaconf.db_to_raw(-60.0, (-45.0, 0.0), (-50, 100)) == -50


# ---------------------------------------------------------------- generated configuration


def card(
    card_id: str = "USB",
    label: str = "QEMU USB Audio",
    channels: int = 2,
    mixers: tuple[tuple[str, float], ...] = (("Speaker", 100.0),),
    direction: Direction = Direction.SINK,
    usb: tuple[str, str] | None = ("46f4", "0002"),
) -> Device:
    return Device(
        name=f"hw:CARD={card_id},DEV=0",
        description=label,
        direction=direction,
        vendor_id=usb[0] if usb else None,
        product_id=usb[1] if usb else None,
        card_name=label,
        channels=alsaconf.channels_for(channels),
        volume=mixers[0][1] if mixers else 100.0,
        api="alsa",
        card_id=card_id,
        mixers=mixers,
    )


AMP = card()
IFACE = card("Dummy", "Dummy", 4, (("Master", 70.0), ("PCM", 100.0)), usb=None)
MIC = card("Mic", "USB Mic", 1, (), Direction.SOURCE, ("1234", "5678"))


def plan(
    device: Device,
    channels: tuple[str, ...] | None = None,
    mono: bool = False,
    source: str | None = None,
    name: str = "usb-amp",
) -> Plan:
    return Plan(
        name,
        device.name,
        (OutputPlan(device.name, 40.0, 50.0, channels, mono),),
        default_source=source,
    )


def several(name: str, *outputs: OutputPlan) -> Plan:
    """`also:`: one profile playing on several cards at once."""
    return Plan(name, outputs[0].device, outputs)


CASES = {
    "also-two-cards": (
        several("both", OutputPlan(IFACE.name, 70.0, 85.0), OutputPlan(AMP.name, 40.0, 50.0)),
        (IFACE, AMP),
    ),
    "also-outputs-3-4-and-mono": (
        several(
            "phones-and-amp",
            OutputPlan(IFACE.name, 70.0, 85.0, ("AUX2", "AUX3")),
            OutputPlan(AMP.name, 40.0, 50.0, None, True),
        ),
        (IFACE, AMP),
    ),
    "stereo": (plan(AMP), (AMP,)),
    "outputs-3-4": (plan(IFACE, ("AUX2", "AUX3"), name="phones-3-4"), (IFACE,)),
    "mono": (plan(AMP, None, True, name="mono"), (AMP,)),
    "mono-on-output-3": (plan(IFACE, ("AUX2",), name="mono-3"), (IFACE,)),
    "with-input": (plan(AMP, source=MIC.name), (AMP, MIC)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_generated_configuration_matches_golden(case: str) -> None:
    p, devices = CASES[case]
    text = alsaconf.render(p, Snapshot(devices=devices, server=ServerKind.ALSA), CONFIG)
    golden = GOLDEN / f"{case}.asoundrc"
    if os.environ.get("DAWROUTE_UPDATE_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text)
    assert text == golden.read_text(), f"DAWROUTE_UPDATE_GOLDEN=1 pytest {__file__} to update"
    assert alsaconf.target_of(text) == p.target


def test_neutral_file_points_nowhere() -> None:
    text = alsaconf.neutral(CONFIG, "a sound server runs")
    assert alsaconf.target_of(text) is None
    assert "pcm.!default" not in text
    assert alsaconf.target_of(None) is None


def test_descriptions_cannot_break_out_of_the_string() -> None:
    evil = card("USB", 'Evil "Card"\\\n} pcm.!default { type null')
    text = alsaconf.render(plan(evil), Snapshot(devices=(evil,)), CONFIG)
    (line,) = [line for line in text.splitlines() if "description" in line]
    assert line.count('"') == 2 and "\\" not in line  # one string, nothing escapes it


def _alsa_home(tmp_path: Path, text: str) -> dict[str, str]:
    managed = tmp_path / "asoundrc"
    managed.write_text(text)
    home = tmp_path / "home"
    home.mkdir()
    (home / ".asoundrc").write_text(f"# my own settings\n{alsaconf.include_line(str(managed))}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALSA_", "XDG_CONFIG"))}
    return {**env, "HOME": str(home)}


needs_aplay = pytest.mark.skipif(shutil.which("aplay") is None, reason="aplay (alsa-utils) missing")


@needs_aplay
@pytest.mark.parametrize("case", sorted(CASES))
def test_alsa_lib_parses_the_generated_file_and_lists_the_default(
    case: str, tmp_path: Path
) -> None:
    p, devices = CASES[case]
    text = alsaconf.render(p, Snapshot(devices=devices), str(tmp_path / "asoundrc"))
    out = subprocess.run(
        ["aplay", "-L"], env=_alsa_home(tmp_path, text), capture_output=True, text=True
    )
    assert out.returncode == 0 and "ALSA lib" not in out.stderr, out.stderr
    lines = out.stdout.splitlines()
    assert "default" in lines
    cards = " + ".join(d.label for d in devices if d.direction is Direction.SINK)
    assert lines[lines.index("default") + 1].strip() == f"dawroute: {p.profile} ({cards})"


@needs_aplay
@pytest.mark.parametrize(
    ("case", "table"),
    [
        ("outputs-3-4", ["0 <- none", "1 <- none", "2 <- 0", "3 <- 1"]),
        ("mono", ["0 <- 0*0.5 + 1*0.5", "1 <- 0*0.5 + 1*0.5"]),
        ("mono-on-output-3", ["0 <- none", "1 <- none", "2 <- 0*0.5 + 1*0.5"]),
        # also: the interface's 1-2 (channels 0-1 of multi), then the amp's (2-3)
        ("also-two-cards", ["0 <- 0", "1 <- 1", "2 <- none", "3 <- none", "4 <- 0", "5 <- 1"]),
        (
            "also-outputs-3-4-and-mono",
            [
                "0 <- none",
                "1 <- none",
                "2 <- 0",
                "3 <- 1",
                "4 <- 0*0.5 + 1*0.5",
                "5 <- 0*0.5 + 1*0.5",
            ],
        ),
    ],
)
def test_the_route_plays_on_the_right_device_channels(
    case: str, table: list[str], tmp_path: Path
) -> None:
    """alsa-lib opens the generated default (the card swapped for `null`) and shows the
    channel table it will play with."""
    p, devices = CASES[case]
    text = alsaconf.render(p, Snapshot(devices=devices), str(tmp_path / "asoundrc"))
    for dev in devices:  # each card becomes a `plug` onto `null`, as plughw is onto hw
        text = text.replace(f'"plughw:CARD={dev.card_id},DEV=0"', '{ type plug slave.pcm "null" }')
    out = subprocess.run(
        [
            "aplay",
            "-v",
            "-D",
            "default",
            "-s",  # 0.1 s of frames (a duration, -d, never ends on `multi` over `null`)
            "4800",
            "-f",
            "S16_LE",
            "-r",
            "48000",
            "-c",
            "2",
            "/dev/zero",
        ],
        env=_alsa_home(tmp_path, text),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert out.returncode == 0, out.stderr
    shown = (out.stdout + out.stderr).split("Transformation table:")[1].split("Its setup is:")[0]
    assert [line.strip() for line in shown.strip().splitlines()] == table
    if len(p.outputs) > 1:  # one multi over both cards, each channel bound to its card
        bindings = (out.stdout + out.stderr).split("Channel bindings:")[1].split("Its setup")[0]
        cards = [int(line.split("slave ")[1].split(",")[0]) for line in bindings.splitlines()[1:]]
        assert cards == [0] * 4 + [1] * 2


# ---------------------------------------------------------------- policy and ops

PROFILES = """
profiles:
  - name: interface
    fallback: true
    priority: 10
    output: {card: "Dummy", volume: 70%, max_volume: 85%}
  - name: usb-amp
    priority: 90
    output: {usb: "46f4:0002", volume: 40%, max_volume: 50%}
  - name: amp-pcm
    auto: false
    output: {usb: "46f4:0002", mixer: PCM, volume: 30%}
"""


def profiles() -> tuple[Profile, ...]:
    loaded, issues = parse_profiles(PROFILES, "p.yaml")
    assert not [i for i in issues if i.severity == "error"], issues
    return tuple(lp.profile for lp in loaded)


def alsa_world(*devices: Device, config: str | None = None, streams=()) -> Snapshot:
    return Snapshot(
        devices=devices,
        streams=tuple(streams),
        default_sink=alsaconf.target_of(config),
        server=ServerKind.ALSA,
        alsa_config=config,
    )


def test_plugging_the_amp_caps_it_first_then_points_the_default_at_it() -> None:
    iface = card("Dummy", "Dummy", 4, (("Master", 100.0), ("PCM", 100.0)), usb=None)
    world = alsa_world(iface, AMP)
    d = policy.decide(profiles(), world, State(active="interface"), policy.Intent())
    assert d.profile == "usb-amp" and d.plan is not None
    assert d.plan.target == AMP.name and d.plan.virtual == () and d.plan.daw_streams == ()
    ops = alsaplan.ops(d.plan, world, CONFIG)
    assert [type(op) for op in ops] == [SetMixer, SetMixer, WriteAlsaConfig]
    amp, iface_op = ops[0], ops[1]
    assert isinstance(amp, SetMixer) and isinstance(iface_op, SetMixer)
    assert (amp.device, amp.control, amp.volume, amp.cap) == (AMP.name, "Speaker", 40.0, 50.0)
    # the interface is where a DAW would land if the amp went: held at its own cap too
    assert (iface_op.device, iface_op.volume) == (IFACE.name, 85.0)
    write = ops[2]
    assert isinstance(write, WriteAlsaConfig) and write.target == AMP.name
    assert write.text == alsaconf.render(d.plan, world, CONFIG)
    assert [owner(op) for op in ops] == [Owner.ALSA] * 3
    assert stage(amp).value == "levels"  # the stop rule covers mixer levels


def test_applied_plan_needs_nothing_more() -> None:
    world = alsa_world(IFACE, AMP)
    d = policy.decide(profiles(), world, State(active="interface"), policy.Intent())
    assert d.plan is not None
    text = alsaconf.render(d.plan, world, CONFIG)
    amp = card(mixers=(("Speaker", 40.0),))
    iface = card("Dummy", "Dummy", 4, (("Master", 70.0), ("PCM", 100.0)), usb=None)
    done = alsa_world(iface, amp, config=text)
    d2 = policy.decide(profiles(), done, State(active="usb-amp"), policy.Intent())
    assert d2.plan is not None and alsaplan.ops(d2.plan, done, CONFIG) == []


def test_a_level_raised_by_hand_above_the_cap_is_pulled_back() -> None:
    loud = card(mixers=(("Speaker", 90.0),))
    world = alsa_world(IFACE, loud, config=None)
    d = policy.decide(profiles(), world, State(active="usb-amp"), policy.Intent())
    assert d.plan is not None
    world = alsa_world(IFACE, loud, config=alsaconf.render(d.plan, world, CONFIG))
    ops = alsaplan.ops(d.plan, world, CONFIG)
    assert ops == [SetMixer(AMP.name, AMP.label, "Speaker", 50.0, 50.0, 90.0)]


def test_output_mixer_picks_the_control_and_a_missing_one_is_a_problem() -> None:
    amp = card(mixers=(("Speaker", 100.0), ("PCM", 80.0)))
    d = policy.decide(
        profiles(), alsa_world(IFACE, amp), State(), policy.Intent(policy.Cause.SWITCH, "amp-pcm")
    )
    assert d.plan is not None
    first = alsaplan.ops(d.plan, alsa_world(IFACE, amp), CONFIG)[0]
    assert isinstance(first, SetMixer) and (first.control, first.volume) == ("PCM", 30.0)
    d = policy.decide(
        profiles(), alsa_world(IFACE, AMP), State(), policy.Intent(policy.Cause.SWITCH, "amp-pcm")
    )
    assert any("has no volume control 'PCM' (it has: Speaker)" in p for p in d.problems)
    assert d.plan is not None
    first = alsaplan.ops(d.plan, alsa_world(IFACE, AMP), CONFIG)[0]
    # no control to set the level on: an op that fails, so the stop rule keeps the default
    assert isinstance(first, SetMixer) and first.control == ""


def test_a_program_still_on_the_old_card_must_reopen_and_status_says_so() -> None:
    aplay = Stream(1, "aplay", "aplay", 4242, IFACE.name)
    world = alsa_world(IFACE, AMP, streams=[aplay])
    d = policy.decide(profiles(), world, State(active="interface"), policy.Intent())
    assert d.profile == "usb-amp"
    assert any(
        "'aplay' (pid 4242) still plays on 'Dummy'" in p and "reopen" in p for p in d.problems
    )
    assert d.plan is not None and not [
        op for op in alsaplan.ops(d.plan, world, CONFIG) if "move" in op.describe()
    ]


def test_pulse_snapshots_keep_reconcile() -> None:
    from routing import reconcile

    world = Snapshot(devices=(Device("x", "X", Direction.SINK),), server=ServerKind.PIPEWIRE)
    p = Plan("p", "x", (OutputPlan("x", 40.0, 50.0),))
    assert alsaplan.ops_for(p, world, CONFIG) == reconcile.ops(p, world)


# ---------------------------------------------------------------- the backend


class FakeMixer:
    """A card's control as alsaaudio shows it: raw range, TLV dB (linear), channels."""

    controls: ClassVar[dict[tuple[int, str], FakeMixer]] = {}
    history: ClassVar[list[int]] = []

    def __init__(self, raw: int, lo: int, hi: int, db: tuple[float, float] | None) -> None:
        self.raw, self.lo, self.hi, self.db = raw, lo, hi, db
        self.caps = ["Playback Volume", "Playback Mute"]

    def volumecap(self) -> list[str]:
        return self.caps

    def getrange(self, pcmtype: int = 0, units: int = 0) -> tuple[int, int]:
        if units == alsaaudio.VOLUME_UNITS_DB:
            return (0, 0) if self.db is None else (int(self.db[0] * 100), int(self.db[1] * 100))
        return (self.lo, self.hi)

    def _db(self) -> float:
        assert self.db is not None
        lo, hi = self.db
        return lo + (hi - lo) * (self.raw - self.lo) / (self.hi - self.lo)

    def getvolume(self, pcmtype: int = 0, units: int = 0) -> list[int]:
        if units == alsaaudio.VOLUME_UNITS_DB:
            return [round(self._db() * 100)] * 2
        return [self.raw] * 2

    def setvolume(self, volume: int, pcmtype: int = 0, units: int = 0, channel=None) -> None:
        assert units == alsaaudio.VOLUME_UNITS_RAW
        self.raw = volume
        FakeMixer.history.append(volume)

    def close(self) -> None:
        pass


@pytest.fixture
def fake_alsa(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Card 0 "Dummy" (Master -45…0 dB over -50…100, PCM raw only) and card 1 "USB"
    (Speaker, 1 dB steps), with /proc/asound as files."""
    FakeMixer.controls = {
        (0, "PCM"): FakeMixer(255, 0, 255, None),
        (0, "Master"): FakeMixer(100, -50, 100, (-45.0, 0.0)),
        (1, "Speaker"): FakeMixer(0, 0, 60, (-60.0, 0.0)),
    }
    FakeMixer.history = []
    proc = tmp_path / "proc"
    for index, card_id, stream in ((0, "Dummy", None), (1, "USB", "Playback:\n  Channels: 2\n")):
        base = proc / f"card{index}"
        (base / "pcm0p" / "sub0").mkdir(parents=True)
        (base / "pcm0p" / "info").write_text("card: 0\nname: PCM\n")
        (base / "pcm0p" / "sub0" / "status").write_text("closed\n")
        (base / "id").write_text(card_id + "\n")
        if stream:
            (base / "stream0").write_text(stream)
    (proc / "card0" / "pcm0p" / "sub0" / "status").write_text(
        f"state: RUNNING\nowner_pid   : {os.getpid()}\n"
    )
    (proc / "version").write_text("Advanced Linux Sound Architecture Driver Version k6.1.0.\n")
    fake = alsaaudio
    names = {0: ("Dummy", "Dummy 1"), 1: ("QEMU USB Audio", "QEMU USB Audio at usb-1")}
    monkeypatch.setattr(fake, "card_indexes", lambda: [0, 1])
    monkeypatch.setattr(fake, "card_name", lambda i: names[i])
    monkeypatch.setattr(
        fake, "mixers", lambda cardindex: [n for (i, n) in FakeMixer.controls if i == cardindex]
    )
    monkeypatch.setattr(
        fake, "Mixer", lambda control, cardindex: FakeMixer.controls[(cardindex, control)]
    )
    monkeypatch.setattr(
        alsa_backend,
        "_identity",
        lambda ctx, i: {"bus": "usb", "vendor": "46f4", "product": "0002"} if i else {},
    )
    return proc


def test_backend_reads_cards_levels_and_open_pcms(fake_alsa: Path, tmp_path: Path) -> None:
    backend = alsa_backend.AlsaBackend(tmp_path / "asoundrc", home=tmp_path, proc=fake_alsa)
    snap = asyncio.run(backend.observe(sources=False))
    dummy, usb = snap.sinks()
    assert snap.server is ServerKind.ALSA and snap.server_version == "k6.1.0"
    assert (dummy.name, dummy.card_name, dummy.mixers) == (
        "hw:CARD=Dummy,DEV=0",
        "Dummy",
        (("Master", 100.0), ("PCM", 100.0)),
    )
    assert (usb.usb_id, usb.mixers, usb.volume) == ("46f4:0002", (("Speaker", 10.0),), 10.0)
    assert usb.channels == ("FL", "FR", "AUX0", "AUX1")
    (stream,) = snap.streams
    assert (stream.pid, stream.sink) == (os.getpid(), dummy.name)
    assert snap.default_sink is None and snap.notes == ()


def test_backend_sets_a_level_without_ever_passing_above_it(
    fake_alsa: Path, tmp_path: Path
) -> None:
    backend = alsa_backend.AlsaBackend(tmp_path / "asoundrc", home=tmp_path, proc=fake_alsa)
    asyncio.run(backend.observe())
    name = "hw:CARD=Dummy,DEV=0"
    result = backend.apply([SetMixer(name, "Dummy", "Master", 50.0, 50.0, 100.0)])
    assert result.ok
    master = FakeMixer.controls[(0, "Master")]
    assert master._db() <= alsaconf.percent_to_db(50.0)  # -18.0 dB: the step at or below
    assert all(alsaconf.db_to_percent(-45 + 0.3 * (r + 50)) <= 50.0 for r in FakeMixer.history)
    # the level the card landed on reads as the level asked for (no endless re-setting)
    snap = asyncio.run(backend.observe())
    assert dict(snap.sinks()[0].mixers)["Master"] == 50.0
    # a raw-only control: linear in its range
    assert backend.apply([SetMixer(name, "Dummy", "PCM", 50.0, 50.0, 100.0)]).ok
    assert FakeMixer.controls[(0, "PCM")].raw == 127


def test_backend_fails_a_level_it_cannot_set(fake_alsa: Path, tmp_path: Path) -> None:
    backend = alsa_backend.AlsaBackend(tmp_path / "asoundrc", home=tmp_path, proc=fake_alsa)
    asyncio.run(backend.observe())
    result = backend.apply([SetMixer("hw:CARD=USB,DEV=0", "USB", "", 40.0, 50.0, 100.0)])
    assert not result.ok and "no playback volume control" in result.failed[0][1]
    gone = backend.apply([SetMixer("hw:CARD=Gone,DEV=0", "Gone", "PCM", 40.0, 50.0, 100.0)])
    assert not gone.ok


def test_backend_writes_the_file_and_asks_for_the_include_line(
    fake_alsa: Path, tmp_path: Path
) -> None:
    managed = tmp_path / ".config" / "dawroute" / "asoundrc"
    backend = alsa_backend.AlsaBackend(managed, home=tmp_path, proc=fake_alsa)
    text = alsaconf.render(plan(AMP), Snapshot(devices=(AMP,)), str(managed))
    assert backend.apply([WriteAlsaConfig(AMP.name, AMP.label, text)]).ok
    assert managed.read_text() == text and not list(managed.parent.glob(".*tmp"))
    snap = asyncio.run(backend.observe())
    assert snap.alsa_config == text and snap.default_sink == AMP.name
    (note,) = snap.notes
    assert f"<{managed}>" in note
    (tmp_path / ".asoundrc").write_text("<~/.config/dawroute/asoundrc>\n")
    assert asyncio.run(backend.observe()).notes == ()


def test_ops_type_union_has_an_owner_for_every_op() -> None:
    # mypy enforces it (assert_never); this is the runtime side for the two ALSA ops
    assert owner(SetMixer("d", "l", "c", 1.0, 1.0, 1.0)) is Owner.ALSA
    assert owner(WriteAlsaConfig(None, "", "")) is Owner.ALSA


# ---------------------------------------------------------------- backend choice


@pytest.mark.parametrize(
    ("choice", "pulse", "alsa"),
    [
        ("auto", True, True),
        ("pulse", True, False),
        ("pipewire", True, False),
        ("alsa", False, True),
    ],
)
def test_backend_choice(choice: str, pulse: bool, alsa: bool) -> None:
    from routing.backends.composite import uses_alsa, uses_pulse

    assert (uses_pulse(choice), uses_alsa(choice)) == (pulse, alsa)


def test_status_names_bare_alsa() -> None:
    from routing.status import render_status

    st = {
        "active": "usb-amp", "active_since": 0, "manual": None, "manual_since": None,
        "reason": "usb-amp: auto", "outputs": [], "streams": [], "events": [],
        "problems": ["'aplay' (pid 7) still plays on 'Dummy': … reopen …"],
        "server": {"available": True, "backend": "alsa", "kind": "alsa", "version": "k6.1"},
        "config": {"errors": []},
    }  # fmt: skip
    text = render_status(cast(Status, st))
    assert "server:   none — bare ALSA (driver k6.1)" in text
    assert "backend:  alsa" in text and "problem:  'aplay' (pid 7)" in text


def test_backends_without_a_pulse_server_use_bare_alsa(tmp_path: Path) -> None:
    from routing.backends.composite import for_profiles

    alsa = alsa_backend.AlsaBackend(tmp_path / "asoundrc", home=tmp_path)
    chosen = for_profiles(profiles(), None, None, alsa)
    assert chosen.alsa is alsa and chosen.pulse is None and chosen.name == "alsa"
    p = Plan("p", AMP.name, (OutputPlan(AMP.name, 40.0, 50.0),))
    ops = plan_ops(chosen, p, alsa_world(AMP))
    assert ops and isinstance(ops[-1], WriteAlsaConfig)
    assert f"<{tmp_path / 'asoundrc'}>" in ops[-1].text


def test_a_program_reopening_its_output_is_noticed_without_polling(tmp_path: Path) -> None:
    """Who plays where on bare ALSA is read from /proc, and opening a device makes no
    kernel or mixer event: a DAW that re-opened on the new card stayed listed as playing
    on the old one. Opening or closing a playback device now pokes a pass; capture
    devices and control devices (the daemon's own mixers) do not."""
    dev = tmp_path / "snd"
    dev.mkdir()
    for name in ("pcmC1D0p", "pcmC1D0c", "controlC1"):
        (dev / name).write_bytes(b"")
    pokes: list[str] = []

    async def scenario() -> None:
        backend = alsa_backend.AlsaBackend(tmp_path / "asound.conf", proc=tmp_path, dev=dev)
        backend.watch(asyncio.get_running_loop(), pokes.append)
        try:
            for name in ("controlC1", "pcmC1D0c"):
                (dev / name).open("rb").close()
            await asyncio.sleep(0.1)
            assert not [p for p in pokes if "playback device" in p]
            with (dev / "pcmC1D0p").open("rb"):
                await asyncio.sleep(0.1)
            await asyncio.sleep(0.1)
        finally:
            backend.close()

    asyncio.run(scenario())
    playback = [p for p in pokes if "playback device" in p]
    assert playback == [
        "playback device pcmC1D0p opened or closed",
        "playback device pcmC1D0p opened or closed",
    ]
