"""Hostile configuration files: `dawroute check` and the loaders stay fast and bounded,
and every limit is a located `file:line:col: what — fix` issue (docs/config.md)."""

from __future__ import annotations

import resource
import subprocess
import sys
import time
from pathlib import Path

from routing.format import yamlsource
from routing.format.config import check_all

ROOT = Path(__file__).resolve().parent.parent


def alias_bomb(levels: int = 7, fanout: int = 10) -> str:
    """~400 bytes that naive alias expansion turns into fanout**levels values."""
    lines = ['a0: &a0 ["lol"]']
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * fanout) + "]")
    return "\n".join(lines) + "\n"


def run_check(*paths: Path, timeout: float = 30) -> tuple[subprocess.CompletedProcess[str], float]:
    t0 = time.monotonic()
    out = subprocess.run(
        [sys.executable, "-m", "routing", "check", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )
    return out, time.monotonic() - t0


def test_alias_bomb_is_refused_quickly_with_a_located_issue(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(alias_bomb())
    assert len(bomb.read_bytes()) < 500
    t0 = time.monotonic()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    _, _, issues = check_all([bomb], None)
    took = time.monotonic() - t0
    grew_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert took < 2.0 and grew_kib < 50_000  # was 32 s and 284 MB
    assert [i.format() for i in issues] == [
        f"{bomb}:5:1: too many values: more than {yamlsource.MAX_NODES} (each `*alias` "
        "counts everything it repeats) — use fewer aliases, or split the file"
    ]


def test_alias_bomb_via_the_cli_exits_3_in_seconds(tmp_path: Path) -> None:
    (tmp_path / "bomb.yaml").write_text(alias_bomb())
    out, took = run_check(tmp_path / "bomb.yaml")
    assert out.returncode == 3 and "too many values" in out.stderr and took < 10


def test_100000_keys_stop_at_the_node_limit(tmp_path: Path) -> None:
    many = tmp_path / "many.yaml"
    many.write_text("".join(f"k{i}: {i}\n" for i in range(100_000)))  # ~1 MB
    many.write_text(many.read_text()[: 200 * 1024].rsplit("\n", 1)[0] + "\n")  # under 256 KiB
    t0 = time.monotonic()
    _, _, issues = check_all([many], None)
    assert time.monotonic() - t0 < 3.0
    assert len(issues) == 1 and "too many values" in issues[0].message
    assert issues[0].line == yamlsource.MAX_NODES // 2  # a key and a value per line


def test_deep_nesting_is_a_located_issue(tmp_path: Path) -> None:
    deep = tmp_path / "deep.yaml"
    deep.write_text("name: x\noutput: " + "[" * 500 + "]" * 500 + "\n")
    _, _, issues = check_all([deep], None)
    assert [(i.line, i.message) for i in issues] == [
        (2, f"nested more than {yamlsource.MAX_DEPTH} levels deep")
    ]


def test_time_limit_stops_a_slow_parse_with_an_issue() -> None:
    text = "".join(f"k{i}: {i}\n" for i in range(9_000))
    with yamlsource.time_limit(0.0):
        doc = yamlsource.load(text, "slow.yaml")
    assert doc.syntax_error and "took longer than 0 s" in doc.issues[0].message
    assert not yamlsource.load(text, "slow.yaml").issues  # the limit ends with its block


NOT_REGULAR = "not a regular file — profiles and config.yaml must be ordinary files"


def test_fifo_devices_and_huge_files_are_refused_without_reading(tmp_path: Path) -> None:
    import os

    d = tmp_path / "profiles"
    d.mkdir()
    os.mkfifo(d / "p.yaml")  # nobody ever writes to it: reading would block forever
    (d / "zero.yaml").symlink_to("/dev/zero")
    (d / "big.yaml").write_bytes(b"a" * 20_000_000)
    out, took = run_check(d)
    assert out.returncode == 3 and took < 10
    lines = out.stderr.strip().splitlines()
    assert lines == [
        f"{d}/big.yaml:1:1: file too large: 20000000 bytes, the limit is 262144 (256 KiB)"
        " — profiles are a few KiB; split it or remove what is not needed",
        f"{d}/p.yaml:1:1: a named pipe (FIFO), {NOT_REGULAR}; move it out of the way",
        f"{d}/zero.yaml:1:1: a character device, {NOT_REGULAR}; move it out of the way",
    ]


def test_fifo_as_config_yaml_is_refused(tmp_path: Path) -> None:
    import os

    os.mkfifo(tmp_path / "config.yaml")
    _, _, issues = check_all([], tmp_path / "config.yaml")
    assert [i.message for i in issues] == ["a named pipe (FIFO), not a regular file"]


def test_a_symlink_to_a_regular_profile_still_works(tmp_path: Path) -> None:
    (tmp_path / "real.yml").write_text((ROOT / "profiles" / "speakers.yaml").read_text())
    (tmp_path / "link.yaml").symlink_to(tmp_path / "real.yml")
    profiles, _, issues = check_all([tmp_path / "link.yaml"], None)
    assert profiles.names() == ("speakers",) and not [i for i in issues if i.severity == "error"]


def test_a_tag_pyyaml_cannot_construct_is_an_issue_not_an_exception(tmp_path: Path) -> None:
    # found by tests/test_fuzz.py: PyYAML raises AttributeError for `!!timestamp x`, which
    # escaped the loader and ended the daemon's reload task (every later reload hung)
    f = tmp_path / "t.yaml"
    f.write_text("name: !!timestamp x\noutput: {name: !!timestamp y}\n")
    _, _, issues = check_all([f], None)
    assert (issues[0].line, issues[0].column, issues[0].message) == (
        1, 7, "cannot read value with tag tag:yaml.org,2002:timestamp"
    )  # fmt: skip
