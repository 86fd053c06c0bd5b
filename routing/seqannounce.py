"""The ALSA sequencer's announcements on the daemon's event loop: a controller plugged in
(a USB MIDI device, `snd-virmidi` loaded) or unplugged is noticed as it happens.

python-rtmidi has no API for port changes and skips the sequencer's own client, so this
talks to alsa-lib directly (ctypes; libasound is already there for pyalsaaudio): a client
`dawroute-announce` with one hidden port subscribed to System:Announce (0:1), whose file
descriptor the loop watches. No timer: an idle sequencer wakes nothing. On each batch of
announcements the ports are listed through the same client (no new client, so no
announcement of its own) and `on_change` runs when routing.midiplan says the other
clients' ports changed.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import errno
import logging
from collections.abc import Callable

from routing import midiplan
from routing.midiplan import SeqPort

log = logging.getLogger(__name__)

CLIENT_NAME = "dawroute-announce"
_OPEN_INPUT = 2  # SND_SEQ_OPEN_INPUT
_NONBLOCK = 1  # SND_SEQ_NONBLOCK
_CAP_WRITE = 1 << 1  # SND_SEQ_PORT_CAP_WRITE
_CAP_SUBS_WRITE = 1 << 6  # SND_SEQ_PORT_CAP_SUBS_WRITE
_CAP_NO_EXPORT = 1 << 7  # SND_SEQ_PORT_CAP_NO_EXPORT: others do not see the port
_TYPE_APPLICATION = 1 << 20  # SND_SEQ_PORT_TYPE_APPLICATION
_ANNOUNCE = (0, 1)  # SND_SEQ_CLIENT_SYSTEM, SND_SEQ_PORT_SYSTEM_ANNOUNCE
_POLLIN = 1


class SeqUnavailable(Exception):
    pass


class _PollFd(ctypes.Structure):
    _fields_ = (("fd", ctypes.c_int), ("events", ctypes.c_short), ("revents", ctypes.c_short))


def _lib() -> ctypes.CDLL:
    name = ctypes.util.find_library("asound") or "libasound.so.2"
    try:
        lib = ctypes.CDLL(name)
    except OSError as exc:
        raise SeqUnavailable(f"cannot load alsa-lib: {exc}") from exc
    vp = ctypes.c_void_p
    for fn, args, res in (
        ("snd_seq_open", [ctypes.POINTER(vp), ctypes.c_char_p, ctypes.c_int, ctypes.c_int], int),
        ("snd_seq_close", [vp], int),
        ("snd_seq_set_client_name", [vp, ctypes.c_char_p], int),
        ("snd_seq_create_simple_port", [vp, ctypes.c_char_p, ctypes.c_uint, ctypes.c_uint], int),
        ("snd_seq_connect_from", [vp, ctypes.c_int, ctypes.c_int, ctypes.c_int], int),
        ("snd_seq_poll_descriptors_count", [vp, ctypes.c_short], int),
        ("snd_seq_poll_descriptors", [vp, ctypes.POINTER(_PollFd), ctypes.c_uint, ctypes.c_short], int),
        ("snd_seq_event_input", [vp, ctypes.POINTER(vp)], int),
        ("snd_seq_client_info_malloc", [ctypes.POINTER(vp)], int),
        ("snd_seq_client_info_free", [vp], None),
        ("snd_seq_client_info_set_client", [vp, ctypes.c_int], None),
        ("snd_seq_client_info_get_client", [vp], int),
        ("snd_seq_client_info_get_name", [vp], bytes),
        ("snd_seq_query_next_client", [vp, vp], int),
        ("snd_seq_port_info_malloc", [ctypes.POINTER(vp)], int),
        ("snd_seq_port_info_free", [vp], None),
        ("snd_seq_port_info_set_client", [vp, ctypes.c_int], None),
        ("snd_seq_port_info_set_port", [vp, ctypes.c_int], None),
        ("snd_seq_port_info_get_port", [vp], int),
        ("snd_seq_port_info_get_name", [vp], bytes),
        ("snd_seq_query_next_port", [vp, vp], int),
    ):  # fmt: skip
        f = getattr(lib, fn)
        f.argtypes = args
        f.restype = {int: ctypes.c_int, bytes: ctypes.c_char_p, None: None}[res]
    return lib


def _text(raw: bytes | None) -> str:
    return (raw or b"").decode("utf-8", "replace")


class SeqAnnounce:
    """Subscribed to System:Announce while open; `close()` ends it."""

    def __init__(self, loop: asyncio.AbstractEventLoop, on_change: Callable[[], None]) -> None:
        self._loop = loop
        self._on_change = on_change
        self._lib = _lib()
        self._seq = ctypes.c_void_p()
        rc = self._lib.snd_seq_open(ctypes.byref(self._seq), b"default", _OPEN_INPUT, _NONBLOCK)
        if rc < 0:
            raise SeqUnavailable(f"cannot open the ALSA sequencer: {errno.errorcode.get(-rc, rc)}")
        self._fds: list[int] = []
        try:
            self._subscribe()
        except SeqUnavailable:
            self._lib.snd_seq_close(self._seq)
            raise
        self._ports = self.ports()

    def _subscribe(self) -> None:
        lib, seq = self._lib, self._seq
        lib.snd_seq_set_client_name(seq, CLIENT_NAME.encode())
        port = lib.snd_seq_create_simple_port(
            seq,
            b"announce",
            _CAP_WRITE | _CAP_SUBS_WRITE | _CAP_NO_EXPORT,
            _TYPE_APPLICATION,
        )
        if port < 0 or lib.snd_seq_connect_from(seq, port, *_ANNOUNCE) < 0:
            raise SeqUnavailable("cannot subscribe to the sequencer's announcements")
        count = lib.snd_seq_poll_descriptors_count(seq, _POLLIN)
        pfds = (_PollFd * max(count, 1))()
        filled = lib.snd_seq_poll_descriptors(seq, pfds, count, _POLLIN)
        self._fds = [pfds[i].fd for i in range(max(filled, 0))]
        if not self._fds:
            raise SeqUnavailable("the ALSA sequencer gave no file descriptor to watch")
        for fd in self._fds:
            self._loop.add_reader(fd, self._readable)

    def ports(self) -> frozenset[SeqPort]:
        """Every client's ports, listed through this client (announces nothing)."""
        lib, seq = self._lib, self._seq
        cinfo, pinfo = ctypes.c_void_p(), ctypes.c_void_p()
        lib.snd_seq_client_info_malloc(ctypes.byref(cinfo))
        lib.snd_seq_port_info_malloc(ctypes.byref(pinfo))
        out: list[SeqPort] = []
        try:
            lib.snd_seq_client_info_set_client(cinfo, -1)
            while lib.snd_seq_query_next_client(seq, cinfo) >= 0:
                client = lib.snd_seq_client_info_get_client(cinfo)
                client_name = _text(lib.snd_seq_client_info_get_name(cinfo))
                lib.snd_seq_port_info_set_client(pinfo, client)
                lib.snd_seq_port_info_set_port(pinfo, -1)
                while lib.snd_seq_query_next_port(seq, pinfo) >= 0:
                    out.append(
                        SeqPort(
                            client,
                            lib.snd_seq_port_info_get_port(pinfo),
                            client_name,
                            _text(lib.snd_seq_port_info_get_name(pinfo)),
                        )
                    )
        finally:
            lib.snd_seq_client_info_free(cinfo)
            lib.snd_seq_port_info_free(pinfo)
        return frozenset(out)

    def _readable(self) -> None:
        event = ctypes.c_void_p()
        while True:  # drain: the announcements themselves do not matter, the ports do
            rc = self._lib.snd_seq_event_input(self._seq, ctypes.byref(event))
            if rc == -errno.ENOSPC:  # overrun: some were lost, the listing still tells
                continue
            if rc < 0:
                break
        now = self.ports()
        if midiplan.worth_a_rescan(self._ports, now):
            self._ports = now
            log.debug("ALSA sequencer ports changed")
            self._on_change()

    def close(self) -> None:
        for fd in self._fds:
            self._loop.remove_reader(fd)
        self._fds = []
        if self._seq:
            self._lib.snd_seq_close(self._seq)
            self._seq = ctypes.c_void_p()
