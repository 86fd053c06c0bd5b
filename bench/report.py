"""bench/results/*.json → docs/benchmarks.md (+ latency CDF plots in docs/img/)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DOC = ROOT / "docs" / "benchmarks.md"
IMG = ROOT / "docs" / "img"


def _ms(v: float | None) -> str:
    return "—" if v is None else f"{v:.2f}"


def _ratio(a: float | None, b: float | None) -> str:
    return "—" if not a or not b else f"{a / b:.2f}×"


def _load(name: str) -> dict[str, Any] | None:
    f = RESULTS / f"{name}.json"
    return json.loads(f.read_text()) if f.exists() else None


def hotplug_section(name: str, data: dict[str, Any]) -> list[str]:
    r = data["result"]
    # "pipewire" (the system's) or a generation's label ("pipewire-1.4.2")
    policy = "WirePlumber" if r["server"].startswith("pipewire") else "switch-on-connect"
    lines = [
        f"### {r['version']}: {r['rounds']} plugs per reactor, one series each (one daemon, one script, one module across its rounds)",
        "",
    ]
    for phase, title in (
        ("plug", "device appears → every DAW stream on it"),
        ("unplug", "device removed → DAW on the fallback"),
    ):
        lines += [
            f"**{title}** (ms; ratio = p50 against {policy})",
            "",
            "| reactor | p50 | p90 | p99 | n | missed | p50 ratio |",
            "|---|---|---|---|---|---|---|",
        ]
        base = r["summary"][phase].get(policy, {}).get("p50")
        # per phase since the native reactor; older results count both phases together
        missed = r["missed"].get(phase, r["missed"])
        for reactor, s in r["summary"][phase].items():
            lines.append(
                f"| {reactor} | {_ms(s['p50'])} | {_ms(s['p90'])} | {_ms(s['p99'])} | "
                f"{s['n']} | {missed.get(reactor, 0)} | {_ratio(s['p50'], base)} |"
            )
        lines.append("")
        if phase == "plug":
            lines += _native_lines(r.get("native"))
        img = _cdf(f"{name}-{phase}", r[phase], f"{r['version']}: {title}")
        if img:
            lines += [f"![{title}](img/{img})", ""]
    return lines


def _native_lines(native: dict[str, Any] | None) -> list[str]:
    """Whether the native reactor's cap showed on the amp before the DAW's link did."""
    if not native:
        return []
    if "skipped" in native:
        return [f"The native reactor did not run: {native['skipped']}.", ""]
    rounds = native["cap_before_link"]
    linked = [x for x in rounds if x["link_ms"] is not None]
    before = sum(
        1 for x in linked if x["cap_seen_ms"] is not None and x["cap_seen_ms"] < x["link_ms"]
    )
    unseen = len(rounds) - len(linked)

    def med(key: str) -> str:
        vals = sorted(x[key] for x in rounds if x[key] is not None)
        return "—" if not vals else f"{vals[len(vals) // 2]:.2f}"

    return [
        f"Native reactor, seen from its own connection: the capped level showed on the amp "
        f"before the first link from the DAW in **{before} of {len(linked)}** plugs whose "
        f"link it saw"
        + (f" (in {unseen} more it saw no link appear)" if unseen else "")
        + f"; medians after the amp appeared to it: cap sent {med('cap_sent_ms')} ms, cap "
        f"shown {med('cap_seen_ms')} ms, link {med('link_ms')} ms.",
        "",
    ]


def _cdf(stem: str, samples: dict[str, list[float]], title: str) -> str | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    IMG.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6, 3.2))
    for reactor, values in samples.items():
        if values:
            xs = sorted(values)
            ys = [(i + 1) / len(xs) for i in range(len(xs))]
            ax.step(xs, ys, where="post", label=reactor)
    ax.set_xlabel("ms")
    ax.set_ylabel("fraction of plugs")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(IMG / f"{stem}.png", dpi=100)
    plt.close(fig)
    return f"{stem}.png"


def cli_section(data: dict[str, Any]) -> list[str]:
    s = data["result"]["summary"]
    return [
        "| command | p50 ms | p90 ms | vs |",
        "|---|---|---|---|",
        f"| `dawroute switch NAME` (process start → reply after apply) | {_ms(s['switch']['p50'])} "
        f"| {_ms(s['switch']['p90'])} | {_ratio(s['switch']['p50'], s['pactl']['p50'])} of the "
        "pactl script |",
        f"| pactl script: `pactl move-sink-input` + `pactl set-default-sink` | "
        f"{_ms(s['pactl']['p50'])} | {_ms(s['pactl']['p90'])} | baseline |",
        *_bare_client_row(s),
        f"| `dawroute status` | {_ms(s['status']['p50'])} | {_ms(s['status']['p90'])} | "
        f"{_ratio(s['status']['p50'], s['python']['p50'])} of `python -c pass` |",
        f"| `dawroute check profiles/` | {_ms(s['check']['p50'])} | {_ms(s['check']['p90'])} | "
        f"{_ratio(s['check']['p50'], s['python']['p50'])} of `python -c pass` |",
        f"| `python -c pass` | {_ms(s['python']['p50'])} | {_ms(s['python']['p90'])} | "
        "interpreter start |",
        "",
    ]


def _bare_client_row(s: dict[str, Any]) -> list[str]:
    """The floor for a Python client (results from before it was measured have none)."""
    if "bare" not in s:
        return []
    return [
        f"| the same switch from a bare Python client (socket + json only) | "
        f"{_ms(s['bare']['p50'])} | {_ms(s['bare']['p90'])} | "
        f"{_ratio(s['bare']['p50'], s['pactl']['p50'])} of the pactl script |"
    ]


def midi_section(data: dict[str, Any]) -> list[str]:
    lines = [
        "| JACK period | period ms | p50 ms | p90 ms | p99 ms | n | p99 target (period + 3 ms) |",
        "|---|---|---|---|---|---|---|",
    ]
    for period, r in data["result"].items():
        s = r["summary"]
        target = r["period_ms"] + 3
        verdict = "—" if s["p99"] is None else ("met" if s["p99"] <= target else "missed")
        lines.append(
            f"| {period} | {r['period_ms']:.2f} | {_ms(s['p50'])} | {_ms(s['p90'])} | "
            f"{_ms(s['p99'])} | {s['n']} | {target:.2f}: {verdict} |"
        )
    return [*lines, ""]


def scale_section(data: dict[str, Any]) -> list[str]:
    r = data["result"]
    lines = [
        "One DAW client with that many streams; each moved to the amp by dawroute's `switch`, "
        "by a bare pulse client's pipelined moves, and (PipeWire) by WirePlumber itself when "
        'the streams follow the default and it changes. "All moved" is read in the graph '
        "on PipeWire (every DAW node linked into the amp) and from the server on PulseAudio.",
        "",
        "| server, DAW streams | `switch` replied (ms) | dawroute: all moved (ms) "
        "| bare client: all moved (ms) | WirePlumber following the default (ms) "
        "| dawroute ÷ bare client | read in |",
        "|---|---|---|---|---|---|---|",
    ]
    for n, v in r["streams"].items():
        bare = v.get("bare_client_ms")  # results from before the baseline have none
        moved = _ms(v["all_moved_ms"]) if v["all_moved_ms"] is not None else "**missed**"
        lines.append(
            f"| {n} | {_ms(v['replied_ms'])} | {moved} | {_ms(bare)} "
            f"| {_ms(v.get('policy_ms'))} | {_ratio(v['all_moved_ms'], bare)} "
            f"| {v.get('measured_in', 'pulse')} |"
        )
        if v.get("missed"):
            lines.append(f"| ↳ left behind after 10 s | {v['missed']} | | | | | |")
    lines += [
        "",
        "| devices present | who moves the DAW | hot-plug → routed p50 (ms) | p90 | n |",
        "|---|---|---|---|---|",
    ]
    for n, v in r["devices"].items():
        for who, run in v.items() if "dawroute" in v else [("dawroute", v)]:
            s = run["summary"]
            lines.append(f"| {n} | {who} | {_ms(s['p50'])} | {_ms(s['p90'])} | {s['n']} |")
    p = r["profiles"]
    st = r["storm"]
    lines += [
        "",
        f"- {p['profiles']} profiles loaded and checked: {_ms(p['in_process_ms'])} ms in "
        f"process, {_ms(p['cli_wall_ms'])} ms for `dawroute check` (process included).",
        f"- Storm of {st['events']} plug/unplug events: converged {_ms(st['converged_ms'])} ms "
        f"after the storm began; daemon CPU {st['daemon_cpu_s']:.2f} s; RSS "
        f"{st['rss_start_mb']:.1f} MB → {st['rss_after_mb']:.1f} MB.",
        "",
    ]
    return lines


def idle_section(data: dict[str, Any]) -> list[str]:
    r = data["result"]
    return [
        f"- {r['seconds']:.0f} s idle: CPU {r['cpu_s']:.3f} s, {r['context_switches']} context "
        f"switches (all threads), RSS {r['rss_mb']:.1f} MB → {r['rss_after_mb']:.1f} MB.",
        "",
    ]


def restarts_section(data: dict[str, Any]) -> list[str]:
    r = data["result"]
    out = [
        f"The sound server stopped and started {r['restarts']} times under one daemon "
        "(each time: devices back, the DAW playing, routed again).",
        "",
        "| server | descriptors before → after | RSS MB before → after | tracebacks in the log "
        "| seconds |",
        "|---|---|---|---|---|",
    ]
    for label, row in r["stacks"].items():
        out.append(
            f"| {label} | {row['fds_before']} → {row['fds_after']} | {row['rss_mb_before']} → "
            f"{row['rss_mb_after']} | {row['tracebacks']} | {row['seconds']} |"
        )
    return [*out, ""]


def safety_section(data: dict[str, Any]) -> list[str]:
    r = data["result"]
    out = [
        f"{r['replugs']} re-plugs (held 0.2 s each way) and {r['flaps']} flaps (0-30 ms apart) "
        "per stack, the daemon running throughout; a sampler polls the server every ~2 ms. "
        "A sample counts when the DAW is on a device above that device's cap.",
        "",
        "| stack | re-plug samples | on the amp | above the cap | flap samples | on the amp "
        "| above the cap | routed at the end |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label, row in r["stacks"].items():
        rp, fl = row["replugs"], row["flaps"]
        settled = "yes" if rp.get("settled", True) and fl.get("settled", True) else "**no**"
        out.append(
            f"| {label} | {rp['samples']} | {rp['on_amp']} | **{rp['above_cap']}** "
            f"| {fl['samples']} | {fl['on_amp']} | **{fl['above_cap']}** | {settled} |"
        )
    return [*out, ""]


def main() -> int:
    out = [
        "# Benchmarks",
        "",
        "Generated by `./scripts/bench` (`bench/run.py`, then `bench/report.py`) from "
        "`bench/results/*.json`. Every number comes from real servers started for the run; "
        "each comparison is against a baseline measured in the same run, on the same server.",
        "",
    ]
    any_quick = False
    sections = (
        ("hotplug-pipewire", "Hot-plug on PipeWire 0.3.65 + WirePlumber 0.4.13"),
        ("hotplug-pipewire-1.4", "Hot-plug on PipeWire 1.4.2 + WirePlumber 0.5.8"),
        ("hotplug-pulseaudio", "Hot-plug on PulseAudio"),
        ("cli", "CLI"),
        ("midi", "MIDI message → routed (jackd + PulseAudio)"),
        ("scale", "Scale"),
        ("idle", "Idle cost"),
        ("safety", "Hearing-safety soak"),
        ("restarts", "Sound-server restarts under one daemon"),
    )
    for name, title in sections:
        data = _load(name)
        if data is None:
            continue
        any_quick |= bool(data["quick"])
        m = data["machine"]
        out += [
            f"## {title}",
            "",
            f"_{m['date']}, {m['cpus']} CPUs, Python {m['python']}, kernel {m['kernel']}, "
            f"{data['seconds']} s{' — QUICK run, few samples' if data['quick'] else ''}_",
            "",
        ]
        if name.startswith("hotplug"):
            out += hotplug_section(name, data)
        else:
            out += {
                "cli": cli_section,
                "midi": midi_section,
                "scale": scale_section,
                "idle": idle_section,
                "safety": safety_section,
                "restarts": restarts_section,
            }[name](data)
    notes = ROOT / "bench" / "NOTES.md"
    if notes.exists():
        out += [notes.read_text()]
    if any_quick:
        out.insert(2, "**Some sections come from a quick (smoke) run and have few samples.**\n")
    DOC.write_text("\n".join(out) + "\n")
    print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
