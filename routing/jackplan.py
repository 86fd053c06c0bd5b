"""Pure: the ops for a plan on jackd alone (no pulse server).

- **Levels** are the cards' ALSA mixers: routing.reconcile's levels (switching, raising,
  the caps and the standby caps) on each output's mixer control, as on bare ALSA
  (routing.alsaplan), and first.
- **A card that is not jackd's own** joins the running graph through a bridge
  (`zita-j2a` on its PCM, JACK client `dawroute-<card id>`, routing.jackgraph): started
  after its level is set, so nothing reaches the card above the cap.
- **The DAW's ports** are linked to the card's ports (`system`'s or the bridge's) by the
  plan's links — once the bridge's ports exist; its port registration is the next event.
  Until then the DAW's other links stay (`exclusive` removes them only after): no gap.
- **A bridge no plan plays on** is stopped last, after the DAW's ports left it.
"""

from __future__ import annotations

from dataclasses import replace

from routing import alsaconf, alsaplan, reconcile
from routing.jackgraph import SYSTEM
from routing.model import (
    Connect,
    Disconnect,
    Op,
    Plan,
    Snapshot,
    StartBridge,
    StopBridge,
)


def bridges_for(plan: Plan, snapshot: Snapshot) -> tuple[StartBridge, ...]:
    """The bridges the plan's outputs need: each card it plays on that jackd is not on."""
    out: dict[str, StartBridge] = {}
    for o in plan.outputs:
        dev = snapshot.device(o.device)
        if dev is None or dev.api != "alsa" or dev.jack_client in (None, SYSTEM):
            continue
        assert dev.jack_client is not None
        out.setdefault(
            dev.jack_client,
            StartBridge(
                dev.name, dev.label, dev.jack_client, dev.name, alsaconf.channel_count(dev)
            ),
        )
    return tuple(out.values())


def ops(plan: Plan, snapshot: Snapshot) -> list[Op]:
    # no default to follow on jackd: a switch is the policy's `switching`, not a default
    # that differs (which would set the profile's level on every pass)
    plan = replace(plan, set_default_sink=False)
    adjusted, controls = alsaplan.as_levels(plan, snapshot)
    generic = reconcile.ops(plan, adjusted)
    levels = alsaplan.mixer_ops(generic, controls)
    wanted = bridges_for(plan, snapshot)
    start: list[Op] = [b for b in wanted if b.client not in snapshot.bridges]
    links: list[Op] = [op for op in generic if isinstance(op, Connect | Disconnect)]
    in_graph = {p.client for p in snapshot.ports or ()}
    if any(b.client not in in_graph for b in wanted):
        # the DAW keeps playing where it is until the bridge's ports exist: no gap
        links = [op for op in links if isinstance(op, Connect)]
    names = {b.client for b in wanted}
    stop: list[Op] = [StopBridge(c) for c in snapshot.bridges if c not in names]
    return levels + start + links + stop
