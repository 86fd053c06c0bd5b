"""Checks across profiles: the problems no single profile shows (a profile that never
wins, two profiles driving the same channels with different caps, one card wanted in
two card profiles)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from typing import Any

from routing import profile as plain_model
from routing.errors import ConfigIssue
from routing.format.document import LoadedProfile, Unloaded
from routing.model import channel_label


def cross_check(
    profiles: Sequence[LoadedProfile], unloaded: Sequence[Unloaded] = ()
) -> list[ConfigIssue]:
    """Problems only visible across files: duplicates, dangling references, dead profiles.
    `unloaded`: the profiles with errors, reported on their own — a reference to one is not
    dangling, and the fallback may be among them."""
    issues: list[ConfigIssue] = []
    first: dict[str, LoadedProfile] = {}
    for lp in profiles:
        name = lp.profile.name
        if name in first:
            s = first[name].source
            issues.append(
                _at(
                    lp,
                    "name",
                    f"profile '{name}' is already defined at {s.file}:{s.line}",
                    "rename one of them",
                )
            )
        else:
            first[name] = lp
    names = set(first) | {u.name for u in unloaded if u.name is not None}
    for lp in profiles:
        for i, also in enumerate(lp.profile.output.also):
            if also.profile is not None and also.profile not in names:
                issues.append(
                    _at(
                        lp,
                        f"output.also[{i}].profile",
                        f"no profile named '{also.profile}'",
                        did_you_mean(also.profile, names),
                    )
                )
            if also.profile == lp.profile.name:
                issues.append(
                    _at(
                        lp,
                        f"output.also[{i}].profile",
                        "a profile cannot play on itself again",
                        "name another profile",
                    )
                )
        to = lp.profile.others.to
        if to is not None and to not in names:
            issues.append(_at(lp, "others.to", f"no profile named '{to}'", did_you_mean(to, names)))
    issues.extend(_never_winning(profiles))
    issues.extend(_shared_channels(profiles))
    issues.extend(_card_profiles(profiles))
    fallback_unknown = any(u.fallback is not False for u in unloaded)
    if profiles and not any(lp.profile.fallback for lp in profiles) and not fallback_unknown:
        lp = profiles[0]
        issues.append(
            ConfigIssue(
                lp.source.file,
                lp.source.line,
                lp.source.column,
                "",
                "no profile has `fallback: true`",
                "mark the profile to use "
                "when nothing else matches (e.g. your speakers) as fallback",
                "warning",
            )
        )
    return issues


def _never_winning(profiles: Sequence[LoadedProfile]) -> list[ConfigIssue]:
    seen: dict[tuple[Any, ...], LoadedProfile] = {}
    issues = []
    for lp in profiles:
        p = lp.profile
        if not p.auto:
            continue
        key = (p.output.keys(), p.priority)
        if key in seen and seen[key].profile.name != p.name:
            other = seen[key].profile.name
            issues.append(
                _at(
                    lp,
                    "priority",
                    f"can never be chosen automatically: '{other}' "
                    "has the same device selector and priority",
                    "give one of them a different priority, or `auto: false`",
                )
            )
        seen.setdefault(key, lp)
    return issues


def _drives(
    lp: LoadedProfile,
) -> list[tuple[str, tuple[Any, ...], frozenset[str] | None, float | None]]:
    """(key, device selector, channels or None for all, cap) of each output a profile sets
    levels on itself (`also: {profile: …}` is that profile's own output)."""
    out = lp.profile.output
    specs: list[tuple[str, plain_model.Output | plain_model.AlsoOutput]] = [("output", out)]
    specs += [(f"output.also[{i}]", a) for i, a in enumerate(out.also) if a.profile is None]
    return [
        (
            key,
            spec.keys(),
            frozenset(spec.channels) if isinstance(spec.channels, tuple) else None,
            spec.max_volume,
        )
        for key, spec in specs
    ]


def _shared_channels(profiles: Sequence[LoadedProfile]) -> list[ConfigIssue]:
    """Two profiles driving the same channels of one device with different caps: a channel
    has one level, so which cap holds there depends on which profile is active."""
    issues = []
    seen: list[tuple[LoadedProfile, tuple[Any, ...], frozenset[str] | None, float | None]] = []
    for lp in profiles:
        for key, sel, chans, cap in _drives(lp):
            for other, osel, ochans, ocap in seen:
                if other.profile.name == lp.profile.name or osel != sel or ocap == cap:
                    continue
                if chans is not None and ochans is not None and not chans & ochans:
                    continue
                shared = sorted(chans & ochans) if chans and ochans else None
                where = (
                    channel_label(tuple(sorted(shared, key=_channel_order)))
                    if shared
                    else "channels"
                )
                issues.append(
                    _at(
                        lp,
                        f"{key}.max_volume" if cap is not None else key,
                        f"drives the same {where} of this device as '{other.profile.name}' with "
                        f"another cap ({_cap(cap)} here, {_cap(ocap)} there): a channel has one "
                        "level, so its cap is the active profile's",
                        "give both the same `max_volume`, or use different `channels`",
                    )
                )
                issues[-1] = issues[-1]._replace(severity="warning")
                break
        seen += [(lp, sel, chans, cap) for _, sel, chans, cap in _drives(lp)]
    return issues


CARD_KEYS = ("usb", "serial", "card")  # what names a card (`name`, `description`: a device)


def _card_wants(lp: LoadedProfile) -> list[tuple[str, tuple[Any, ...], str]]:
    """(key, card selector, card profile) of each card this profile sets a profile on."""
    specs: list[tuple[str, plain_model.Output | plain_model.Input]] = [
        ("output", lp.profile.output)
    ]
    if lp.profile.input is not None:
        specs.append(("input", lp.profile.input))
    out = []
    for key, spec in specs:
        selector = spec.keys()  # (key, value) pairs, not a mapping
        card = tuple((k, v) for k, v in selector if k in CARD_KEYS)
        if spec.card_profile is not None and card:
            out.append((f"{key}.card_profile", card, spec.card_profile))
    return out


def _card_profiles(profiles: Sequence[LoadedProfile]) -> list[ConfigIssue]:
    """Two profiles wanting different profiles on one card: a card is in one profile at a
    time, so switching between them switches the card (its devices go and come back)."""
    issues = []
    seen: list[tuple[LoadedProfile, tuple[Any, ...], str]] = []
    for lp in profiles:
        wants = _card_wants(lp)
        for key, card, wanted in wants:
            other = next((o for o, c, w in seen if c == card and w != wanted and o is not lp), None)
            if other is None:
                continue
            theirs = next(w for o, c, w in seen if o is other and c == card)
            issues.append(
                _at(
                    lp,
                    key,
                    f"wants the card in profile '{wanted}' and '{other.profile.name}' wants "
                    f"'{theirs}': a card is in one profile at a time, so switching between "
                    "them switches the card, and its devices go and come back",
                    "give both the same `card_profile` (e.g. the one with every channel "
                    "both use), or leave it out of one",
                )._replace(severity="warning")
            )
        seen += [(lp, card, wanted) for _, card, wanted in wants]
    return issues


def _cap(cap: float | None) -> str:
    return f"{cap:g} %" if cap is not None else "the default"


def _channel_order(channel: str) -> tuple[int, str]:
    return (int(channel[3:]), "") if channel.startswith("AUX") else (-1, channel)


def _at(lp: LoadedProfile, key: str, message: str, fix: str) -> ConfigIssue:
    return lp.source.issue(key, message, fix, lp.profile.name)


def did_you_mean(name: str, names: Iterable[str]) -> str:
    guess = difflib.get_close_matches(name, sorted(names), n=1, cutoff=0.5)
    return f"did you mean `{guess[0]}`?" if guess else f"known profiles: {', '.join(sorted(names))}"
