"""Many playback streams from one pulse client, as a DAW with many outputs opens them.

`sandbox.start_daw` runs one pacat per stream: one client each. A DAW is one client, and
on PipeWire a client is not free: pipewire-pulse keeps a copy of the graph for each, so
with 100 pacat clients it spent 0.9 s of CPU on a 100-stream move against 0.4 s with one
client (measured on 1.4.2). This plays `n` streams of silence from one connection through
libpulse (ctypes: no package to install), until SIGTERM.

    python -m testbed.daw_streams N SINK APP     (SINK "": the server's default)
"""

from __future__ import annotations

import ctypes
import ctypes.util
import signal
import sys
import time
from collections.abc import Callable

_P = ctypes.c_void_p
_READY, _FAILED, _TERMINATED = 4, 5, 6  # pa_context_state
_S16LE = 3
_RATE, _CHANNELS = 44100, 2
_LATENCY_MS = 50  # as start_daw's pacat --latency-msec


class _SampleSpec(ctypes.Structure):
    _fields_ = [("format", ctypes.c_int), ("rate", ctypes.c_uint32), ("channels", ctypes.c_uint8)]


class _BufferAttr(ctypes.Structure):
    _fields_ = [
        (k, ctypes.c_uint32) for k in ("maxlength", "tlength", "prebuf", "minreq", "fragsize")
    ]


_SIGNATURES: dict[str, tuple[object, list[object]]] = {
    "pa_threaded_mainloop_new": (_P, []),
    "pa_threaded_mainloop_get_api": (_P, [_P]),
    "pa_threaded_mainloop_start": (ctypes.c_int, [_P]),
    "pa_threaded_mainloop_lock": (None, [_P]),
    "pa_threaded_mainloop_unlock": (None, [_P]),
    "pa_proplist_new": (_P, []),
    "pa_proplist_sets": (ctypes.c_int, [_P, ctypes.c_char_p, ctypes.c_char_p]),
    "pa_context_new_with_proplist": (_P, [_P, ctypes.c_char_p, _P]),
    "pa_context_connect": (ctypes.c_int, [_P, ctypes.c_char_p, ctypes.c_int, _P]),
    "pa_context_get_state": (ctypes.c_int, [_P]),
    "pa_stream_new_with_proplist": (_P, [_P, ctypes.c_char_p, _P, _P, _P]),
    "pa_stream_connect_playback": (ctypes.c_int, [_P, ctypes.c_char_p, _P, ctypes.c_int, _P, _P]),
    "pa_stream_set_write_callback": (None, [_P, _P, _P]),
    "pa_stream_write": (ctypes.c_int, [_P, _P, ctypes.c_size_t, _P, ctypes.c_int64, ctypes.c_int]),
}
_WriteCallback = ctypes.CFUNCTYPE(None, _P, ctypes.c_size_t, _P)


def _libpulse() -> ctypes.CDLL:
    path = ctypes.util.find_library("pulse")
    if path is None:
        raise SystemExit("libpulse not found (Debian package libpulse0)")
    lib = ctypes.CDLL(path)
    for name, (restype, argtypes) in _SIGNATURES.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = restype, argtypes
    return lib


def play(n: int, sink: str, app: str) -> None:
    pa = _libpulse()
    silence = ctypes.create_string_buffer(1 << 16)

    def on_write(stream: int, nbytes: int, _userdata: int) -> None:
        while nbytes > 0:
            k = min(nbytes, len(silence))
            pa.pa_stream_write(stream, silence, k, None, 0, 0)
            nbytes -= k

    callback = _WriteCallback(on_write)  # kept alive for the process's life
    loop = pa.pa_threaded_mainloop_new()
    props = pa.pa_proplist_new()
    for key, value in (("application.name", app), ("application.process.binary", app.lower())):
        pa.pa_proplist_sets(props, key.encode(), value.encode())
    ctx = pa.pa_context_new_with_proplist(
        pa.pa_threaded_mainloop_get_api(loop), app.encode(), props
    )
    pa.pa_context_connect(ctx, None, 0, None)
    pa.pa_threaded_mainloop_start(loop)
    _until(lambda: pa.pa_context_get_state(ctx), pa, loop)
    spec = _SampleSpec(_S16LE, _RATE, _CHANNELS)
    tlength = _RATE * _CHANNELS * 2 * _LATENCY_MS // 1000
    attr = _BufferAttr(0xFFFFFFFF, tlength, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF)
    pa.pa_threaded_mainloop_lock(loop)
    for i in range(n):
        name = f"{app} out {i + 1}".encode()
        stream = pa.pa_stream_new_with_proplist(ctx, name, ctypes.byref(spec), None, props)
        pa.pa_stream_set_write_callback(stream, ctypes.cast(callback, _P), None)
        device = sink.encode() if sink else None
        pa.pa_stream_connect_playback(stream, device, ctypes.byref(attr), 0, None, None)
    pa.pa_threaded_mainloop_unlock(loop)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})


def _until(state: Callable[[], int], pa: ctypes.CDLL, loop: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pa.pa_threaded_mainloop_lock(loop)
        now = state()
        pa.pa_threaded_mainloop_unlock(loop)
        if now == _READY:
            return
        if now in (_FAILED, _TERMINATED):
            break
        time.sleep(0.01)
    raise SystemExit("could not connect to the pulse server")


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        raise SystemExit(__doc__)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    play(int(argv[0]), argv[1], argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
