"""Pure: the ops for a plan on bare ALSA, and `ops_for`, which picks them by the snapshot.

The levels come from routing.reconcile (one set of rules for switching, raising and caps,
the standby caps included), computed on the level of the control each output uses and
turned into `SetMixer`; the default becomes one `WriteAlsaConfig` when the managed file
differs from what the plan needs. No streams are moved: an ALSA client that opened the
old device must reopen it, which the policy reports as a problem. The order is
reconcile's: levels first, then the default, then JACK links.
"""

from __future__ import annotations

from dataclasses import replace

from routing import alsaconf, reconcile
from routing.model import (
    Connect,
    Device,
    Disconnect,
    Op,
    OutputPlan,
    Plan,
    ServerKind,
    SetClock,
    SetMixer,
    SetVolume,
    Snapshot,
    WriteAlsaConfig,
)


def ops_for(plan: Plan, snapshot: Snapshot, alsa_config: str) -> list[Op]:
    """The ops for this plan on the backend the snapshot came from."""
    if snapshot.server is ServerKind.ALSA:
        return ops(plan, snapshot, alsa_config)
    return reconcile.ops(plan, snapshot)


def nudge_for(plan: Plan, snapshot: Snapshot, delta: float) -> list[Op]:
    if snapshot.server in (ServerKind.ALSA, ServerKind.JACK):  # levels on the mixers
        adjusted, controls = as_levels(plan, snapshot)
        return mixer_ops(reconcile.nudge(plan, adjusted, delta), controls)
    return reconcile.nudge(plan, snapshot, delta)


def ops(plan: Plan, snapshot: Snapshot, alsa_config: str) -> list[Op]:
    adjusted, controls = as_levels(plan, snapshot)
    generic = reconcile.ops(plan, adjusted)
    levels = mixer_ops(generic, controls)
    if plan.set_default_sink:
        text = alsaconf.render(plan, snapshot, alsa_config)
    else:
        text = alsaconf.neutral(alsa_config, f"profile '{plan.profile}' has daw.set_default: false")
    default: list[Op] = []
    if text != snapshot.alsa_config:
        target = alsaconf.target_of(text)
        dev = snapshot.device(plan.outputs[0].device) if plan.outputs else None
        label = dev.label if dev is not None else (target or "")
        default.append(WriteAlsaConfig(target, label, text))
    rest = [op for op in generic if isinstance(op, Connect | Disconnect | SetClock)]
    return levels + default + rest


def control_of(o: OutputPlan, dev: Device) -> str | None:
    """The control an output's level is on: the profile's `mixer`, else the card's choice."""
    names = [name for name, _ in dev.mixers]
    return alsaconf.choose_mixer(names, o.mixer)


def as_levels(plan: Plan, snapshot: Snapshot) -> tuple[Snapshot, dict[str, str]]:
    """The snapshot as reconcile should see it: each output's level is the one of the
    control it uses, and no streams (nothing can be moved on ALSA)."""
    controls: dict[str, str] = {}
    devices: list[Device] = []
    wanted = {o.device: o for o in plan.standby + plan.outputs}  # outputs win
    for dev in snapshot.devices:
        o = wanted.get(dev.name)
        control = control_of(o, dev) if o is not None and dev.api == "alsa" else None
        if control is None:
            devices.append(dev)
            continue
        controls[dev.name] = control
        devices.append(replace(dev, volume=dict(dev.mixers)[control]))
    return replace(snapshot, devices=tuple(devices), streams=()), controls


def mixer_ops(generic: list[Op], controls: dict[str, str]) -> list[Op]:
    """reconcile's levels as mixer settings; a device with no usable control gets an op
    with no control, which fails — and the stop rule keeps the default where it is."""
    return [
        SetMixer(op.device, op.label, controls.get(op.device, ""), op.volume, op.cap, op.before)
        for op in generic
        if isinstance(op, SetVolume)
    ]
