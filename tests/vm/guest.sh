#!/bin/bash
# PID 1 in the guest: the real stack (kernel, udev, ALSA, PipeWire + WirePlumber +
# pipewire-pulse, or PulseAudio, or no sound server at all: bare ALSA, or jackd alone on
# snd-dummy) plus the dawroute daemon and a DAW-like stream (an `aplay` on ALSA's default
# on bare ALSA, a JACK client on jackd). The host plugs the
# emulated USB audio device when we print "@@ READY_FOR_ADD" on the second serial port,
# and pulls it on "@@ READY_FOR_DEL". Waits are on conditions, never fixed sleeps.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C.UTF-8
for a in $(cat /proc/cmdline); do
    case "$a" in
        vm.work=*) WORK=${a#vm.work=} ;;
        vm.checkout=*) CHECKOUT=${a#vm.checkout=} ;;
        vm.server=*) SERVER=${a#vm.server=} ;;
        vm.pwgen=*) PWGEN=${a#vm.pwgen=} ;;
    esac
done
OUT=$WORK/out
PY=$WORK/venv/bin/python
exec >"$OUT/guest.log" 2>&1
up() { cut -d' ' -f1 /proc/uptime; }
mark() { echo "@@ $* t=$(up)" >/dev/ttyS1; echo "=== [$(up)] $*"; }
wait_for() {  # wait_for SECONDS CMD...: poll every 50 ms
    local end=$(( $(date +%s) + $1 )); shift
    until "$@" >/dev/null 2>&1; do [ "$(date +%s)" -gt "$end" ] && return 1; sleep 0.05; done
}
FAILS=""
fail() { FAILS="$FAILS $1"; mark "FAIL_$1"; }
finish() { mark DONE "$@"; sync; echo o >/proc/sysrq-trigger; sleep 10; }

mount -t devpts devpts /dev/pts 2>/dev/null || { mkdir -p /dev/pts; mount -t devpts devpts /dev/pts; }
mkdir -p /dev/shm && mount -t tmpfs -o mode=1777 shm /dev/shm
mount -t tmpfs -o mode=0755 run /run
mark BOOTED kernel=$(uname -r)

# udev: coldplug, then module autoload on hot-plug (snd-usb-audio)
mkdir -p /run/udev
/lib/systemd/systemd-udevd --daemon --resolve-names=never
udevadm trigger --type=subsystems --action=add
udevadm trigger --type=devices --action=add
udevadm settle --timeout=60
# "the interface": snd-dummy (plus snd-aloop, as on a real studio box)
modprobe snd-dummy && modprobe snd-aloop
udevadm settle --timeout=30
grep -q '\[Dummy' /proc/asound/cards || fail NO_DUMMY_CARD
if [ "$SERVER" = alsa ] || [ "$SERVER" = jack ]; then
    modprobe snd-seq  # the ALSA sequencer, no MIDI device yet: one comes in the MIDI phase
    test -e /dev/snd/seq || fail NO_SEQ
fi
# a pad on any MIDI controller: note 60 switches to `both` (the MIDI phase loads snd-virmidi)
MIDI_CONFIG='midi:
  triggers:
    - {port: "~VirMIDI", note: 60, switch: both}'
cat /proc/asound/cards

export XDG_RUNTIME_DIR=/run/user/0 XDG_CONFIG_HOME=/root/.config XDG_STATE_HOME=/root/.local/state
mkdir -p -m 0700 $XDG_RUNTIME_DIR
if [ "${SERVER:-pipewire}" = alsa ]; then
    # no sound server: dawroute drives the cards itself (backend: auto finds no server).
    # The user's ~/.asoundrc includes dawroute's ALSA configuration with one line.
    mkdir -p $XDG_CONFIG_HOME/dawroute
    printf 'backend: auto\n%s\n' "$MIDI_CONFIG" >$XDG_CONFIG_HOME/dawroute/config.yaml
    ALSA_CONF=$XDG_CONFIG_HOME/dawroute/asoundrc
    printf '# my own ALSA settings\n<%s>\n' "$ALSA_CONF" >/root/.asoundrc
elif [ "$SERVER" = jack ]; then
    # jackd alone on the interface, no pulse server: backend: auto must find jackd
    mkdir -p $XDG_CONFIG_HOME/dawroute
    # JACK MIDI sees no ALSA-sequencer controller without a2jmidid: read them on ALSA
    printf 'backend: auto\n%s\n  api: alsa\n' "$MIDI_CONFIG" >$XDG_CONFIG_HOME/dawroute/config.yaml
    export JACK_NO_START_SERVER=1 JACK_NO_AUDIO_RESERVATION=1  # no session bus here
    jackd --no-realtime -d alsa -d hw:Dummy -r 48000 -p 1024 -n 3 -P -s \
        >"$OUT/jackd.log" 2>&1 &
    wait_for 60 bash -c 'jack_lsp | grep -q system:playback_1' || fail JACKD
    jack_lsp
elif [ "${SERVER:-pipewire}" = pulseaudio ]; then
    # PulseAudio finds the ALSA cards itself (module-udev-detect), USB ones on hot-plug
    printf '%s\n' "load-module module-udev-detect" \
        "load-module module-native-protocol-unix auth-anonymous=1" \
        "load-module module-always-sink" >/root/default.pa
    pulseaudio --system=no -n -F /root/default.pa --daemonize=no --exit-idle-time=-1 \
        --realtime=no --high-priority=no --log-target=stderr >"$OUT/pulseaudio.log" 2>&1 &
else
    if [ -n "$PWGEN" ]; then
        # a newer PipeWire + WirePlumber 0.5 from its own root (scripts/fetch-pipewire),
        # as testbed/sandbox.py's Generation sets it up, with the ALSA monitor on, and
        # dawroute's cap guard installed as `dawroute init` installs it
        lib=$PWGEN/usr/lib/x86_64-linux-gnu
        export PATH=$PWGEN/usr/bin:$PATH LD_LIBRARY_PATH=$lib SPA_PLUGIN_DIR=$lib/spa-0.2 \
            PIPEWIRE_MODULE_DIR=$lib/pipewire-0.3 WIREPLUMBER_MODULE_DIR=$lib/wireplumber-0.5 \
            WIREPLUMBER_DATA_DIR=$PWGEN/usr/share/wireplumber XDG_DATA_DIRS=$PWGEN/usr/share \
            XDG_DATA_HOME=/root/.local/share
        mkdir -p $XDG_CONFIG_HOME/pipewire
        for c in "$PWGEN"/usr/share/pipewire/*.conf; do ln -sf "$c" $XDG_CONFIG_HOME/pipewire/; done
        "$PY" -c 'from routing.backends import capguard; print(capguard.install({}))' \
            || fail GUARD_INSTALL
    fi
    dbus-daemon --session --address=unix:path=$XDG_RUNTIME_DIR/bus --fork
    export DBUS_SESSION_BUS_ADDRESS=unix:path=$XDG_RUNTIME_DIR/bus
    # WirePlumber 0.4 exits without these (it watches logind's runtime dirs; no logind here)
    mkdir -p /run/systemd/seats /run/systemd/sessions /run/systemd/users /run/systemd/machines
    pipewire >"$OUT/pipewire.log" 2>&1 &
    wait_for 60 test -S $XDG_RUNTIME_DIR/pipewire-0 || fail PIPEWIRE
    wireplumber >"$OUT/wireplumber.log" 2>&1 &
    pipewire-pulse >"$OUT/pipewire-pulse.log" 2>&1 &
fi
if [ "${SERVER:-pipewire}" != alsa ] && [ "$SERVER" != jack ]; then
    wait_for 60 bash -c 'pactl list short sinks | grep -q snd_dummy' || fail NO_DUMMY_SINK
    pactl info | grep -E 'Server Name|Server Version'
    # the interface's card "off", as a Pro Audio profile after a re-plug: the profile's
    # card_profile must bring it back before anything plays there
    DUMMY_CARD=$(pactl list short cards | awk '/snd_dummy/ {print $2; exit}')
    pactl set-card-profile "$DUMMY_CARD" off || fail CARD_OFF
    wait_for 30 bash -c '! pactl list short sinks | grep -q snd_dummy' || fail CARD_STILL_ON
fi
mark SERVER_READY server=${SERVER:-pipewire}

# the real Ardour, headless (the host's ardourN-lua through the shared /usr), on jackd or
# on bare ALSA; its session in the guest's tmpfs, created by this, its one start
ARDOUR_EXE=$(command -v ardour8-lua ardour7-lua ardour6-lua | head -1)
ARDOUR_DIR=/tmp/ardour-session
start_ardour() {  # start_ardour BACKEND [DEVICE HOOK]: in the background (then ardour_up)
    ARDOUR_T0=$(up)
    "$ARDOUR_EXE" "$CHECKOUT/tests/vm/guest_ardour.lua" "$1" "$ARDOUR_DIR" dawroute-vm \
        "${@:2}" >"$OUT/ardour.log" 2>&1 &
    ARDOUR_PID=$!
}
ardour_up() {  # Ardour's session is up (its driver says when: the guest's uptime), or FAIL
    # (or Ardour ended: its log says why)
    wait_for 240 bash -c "grep -q '^DAWROUTE-READY' '$OUT/ardour.log' || ! kill -0 $ARDOUR_PID"
    if grep -q '^DAWROUTE-READY' "$OUT/ardour.log"; then
        local ready; ready=$(sed -n 's/^DAWROUTE-READY .* up=//p' "$OUT/ardour.log")
        mark "ARDOUR_READY secs=$(awk "BEGIN {print $ready - $ARDOUR_T0}")"
        grep -E '^(VmHWM|VmRSS)' /proc/$ARDOUR_PID/status | tr -s ' \t' ' ' | tee "$OUT/ardour-mem.txt"
    else
        fail ARDOUR
        tail -30 "$OUT/ardour.log"
    fi
}

mkdir -p $XDG_CONFIG_HOME/dawroute/profiles
if [ "$SERVER" = jack ]; then
    cp "$CHECKOUT/tests/vm/profiles-jack.yaml" $XDG_CONFIG_HOME/dawroute/profiles/
    # the DAW: a JACK client with two outputs (the test bed's FakeDAW)
    PYTHONPATH="$CHECKOUT" "$PY" -m testbed.sandbox jack-daw FakeDAW 2 &
    wait_for 60 bash -c 'jack_lsp | grep -q FakeDAW:out_2' || fail JACK_DAW
    # and Ardour on jackd: `preset: ardour` in the profiles moves its master outputs. Its
    # start overlaps the daemon's; the phases wait for it
    [ -n "$ARDOUR_EXE" ] && start_ardour JACK
else
    cp "$CHECKOUT/tests/vm/profiles.yaml" $XDG_CONFIG_HOME/dawroute/profiles/
    [ "$SERVER" = alsa ] && cp "$CHECKOUT/tests/vm/profiles-both.yaml" $XDG_CONFIG_HOME/dawroute/profiles/
fi
"$PY" -m routing check || fail PROFILES
if [ "${SERVER:-pipewire}" != alsa ] && [ "$SERVER" != jack ]; then
    pacat -p --raw --client-name=REAPER --property=application.name=REAPER \
        --property=application.process.binary=reaper /dev/zero &
fi
"$PY" -m routing daemon >"$OUT/dawroute.log" 2>&1 &
wait_for 60 bash -c "'$PY' -m routing status --json | grep -q '\"active\": \"interface\"'" || fail DAEMON
"$PY" -m routing status
"$PY" -m routing devices
mark DAEMON_READY

midi_phase() {  # midi_phase WATCH-ARGS…: no host action; the guest plugs the controller
    rm -f "$OUT/watching"
    if "$PY" "$CHECKOUT/tests/vm/guest_midi_watch.py" "$@" --ready "$OUT/watching" \
        >"$OUT/phase-MIDI.json"; then
        mark PHASE_OK_MIDI
    else
        fail PHASE_MIDI
    fi
    cat "$OUT/phase-MIDI.json"
    "$PY" -m routing status | tee "$OUT/status-MIDI.txt"
}

if [ "${SERVER:-pipewire}" = alsa ]; then
    cat "$ALSA_CONF"
    aplay -L | grep -A1 '^default'
    alsa_phase() {  # alsa_phase NAME WATCH-ARGS…: as phase, with ALSA's own tools
        local name=$1; shift
        rm -f "$OUT/watching"
        "$PY" "$CHECKOUT/tests/vm/guest_alsa_watch.py" "$@" --config "$ALSA_CONF" \
            --ready "$OUT/watching" >"$OUT/phase-$name.json" &
        local watcher=$!
        wait_for 60 test -e "$OUT/watching" || fail "WATCHER_$name"
        mark "READY_FOR_$name"
        if wait "$watcher"; then mark "PHASE_OK_$name"; else fail "PHASE_$name"; fi
        cat "$OUT/phase-$name.json"
        "$PY" -m routing status | tee "$OUT/status-$name.txt"
    }
    # a program that opened the default before the amp came: it keeps the interface
    # until it reopens its device, and `status` says so
    aplay -q -D default -f S16_LE -r 48000 -c 2 /dev/zero &
    EARLY=$!
    alsa_phase ADD plug --cap 50
    kill $EARLY; wait $EARLY 2>/dev/null
    alsa_phase DEL unplug --fallback-volume 70
    alsa_phase ADD2 plug --cap 50
    midi_phase --server alsa --interface-volume 60 --amp-cap 50
    if [ -n "$ARDOUR_EXE" ]; then
        # Ardour on its ALSA backend with dawroute's editor hook: back to automatic (the
        # amp's profile), Ardour started on the interface's card — the hook's first look
        # moves it to the amp — then the amp pulled (back to the interface) and plugged
        # again (to the amp): each time Ardour's engine re-opened on the profile's card
        ardour_phase() {  # ardour_phase NAME MARKER WATCH-ARGS…
            local name=$1 marker=$2; shift 2
            rm -f "$OUT/watching"
            "$PY" "$CHECKOUT/tests/vm/guest_ardour_watch.py" "$@" --log "$OUT/ardour.log" \
                --ready "$OUT/watching" >"$OUT/phase-$name.json" &
            local watcher=$!
            wait_for 60 test -e "$OUT/watching" || fail "WATCHER_$name"
            [ -n "$marker" ] && mark "READY_FOR_$marker"
            if wait "$watcher"; then
                mark "PHASE_OK_$name"
            else
                fail "PHASE_$name"
                # (wait works here, in the shell that started Ardour, not in the pipe below)
                local alive="Ardour runs"
                kill -0 $ARDOUR_PID 2>/dev/null \
                    || { wait $ARDOUR_PID; alive="Ardour exited with status $?"; }
                {   # where Ardour is: its log, its threads' states, what it runs
                    echo "--- $name at $(up)"
                    echo "$alive"
                    dmesg | grep -iE 'segfault|ardour|killed process' | tail -5
                    # its own lines, without the per-start MIDI and device-reservation noise
                    grep -vE 'new MIDI buffer|ardour-request-device|Reservation|AlsaSeqMidiIO|AlsaMidiIn|^ *$' \
                        "$OUT/ardour.log" | tail -25
                    for t in /proc/$ARDOUR_PID/task/*; do
                        echo "$(cat $t/comm) $(cut -d' ' -f3 $t/stat) $(cat $t/wchan)"
                    done
                    ps -o pid,ppid,stat,etime,args --ppid $ARDOUR_PID
                    cat $XDG_STATE_HOME/dawroute/state.json; echo
                } 2>&1 | tee -a "$OUT/ardour-failure.txt"
            fi
            cat "$OUT/phase-$name.json"
        }
        "$PY" -m routing auto || fail AUTO  # answered once the switch is done
        # the hook runs `dawroute status --json`: the command on Ardour's PATH
        PATH=$WORK/venv/bin:$PATH start_ardour ALSA Dummy \
            "$CHECKOUT/routing/daw/ardour/dawroute_follow_alsa.lua"
        ardour_up
        ardour_phase ARDOUR_START "" start
        ardour_phase ARDOUR_DEL DEL2 unplug
        ardour_phase ARDOUR_ADD ADD3 plug
        "$PY" -m routing status | tee "$OUT/status-ARDOUR.txt"
        grep -E '^(dawroute|ENGINE)|rror|arning' "$OUT/ardour.log" | tail -30
    fi
    cat "$ALSA_CONF"
    cat /proc/asound/cards
    dmesg | grep -iE 'usb|snd' | tail -20
    if [ -z "$FAILS" ]; then finish OK; else finish "FAIL$FAILS"; fi
fi

if [ "$SERVER" = jack ]; then
    [ -n "$ARDOUR_EXE" ] && ardour_up
    jack_lsp -c
    jack_phase() {  # jack_phase NAME WATCH-ARGS…: as phase, with JACK's and ALSA's tools
        local name=$1; shift
        rm -f "$OUT/watching"
        "$PY" "$CHECKOUT/tests/vm/guest_jack_watch.py" "$@" --ready "$OUT/watching" \
            >"$OUT/phase-$name.json" &
        local watcher=$!
        wait_for 60 test -e "$OUT/watching" || fail "WATCHER_$name"
        mark "READY_FOR_$name"
        if wait "$watcher"; then mark "PHASE_OK_$name"; else fail "PHASE_$name"; fi
        cat "$OUT/phase-$name.json"
        "$PY" -m routing status | tee "$OUT/status-$name.txt"
    }
    # with Ardour running, each phase wants its master outputs where FakeDAW's go
    WITH_ARDOUR=${ARDOUR_EXE:+--ardour}
    jack_phase ADD plug --cap 50 $WITH_ARDOUR
    jack_phase DEL unplug --fallback-volume 70 $WITH_ARDOUR
    jack_phase ADD2 plug --cap 50 $WITH_ARDOUR
    midi_phase --server jack --interface-volume 60 --amp-cap 50
    jack_lsp -c
    cat /proc/asound/cards
    dmesg | grep -iE 'usb|snd' | tail -20
    if [ -z "$FAILS" ]; then finish OK; else finish "FAIL$FAILS"; fi
fi

phase() {  # phase NAME WATCH-ARGS…: let the host act, record the timings, check the result
    local name=$1; shift
    rm -f "$OUT/watching"
    # the watcher starts first (Python takes ~1 s to start under TCG) so it sees every step
    "$PY" "$CHECKOUT/tests/vm/guest_watch.py" "$@" --ready "$OUT/watching" \
        >"$OUT/phase-$name.json" &
    local watcher=$!
    wait_for 60 test -e "$OUT/watching" || fail "WATCHER_$name"
    mark "READY_FOR_$name"
    if wait "$watcher"; then
        mark "PHASE_OK_$name"
    else
        fail "PHASE_$name"
    fi
    cat "$OUT/phase-$name.json"
    "$PY" -m routing status | tee "$OUT/status-$name.txt"
}
phase ADD plug --cap 50
phase DEL unplug --fallback-volume 70
phase ADD2 plug --cap 50
if [ -n "$PWGEN" ]; then
    # with the cap guard running and a real card re-plugged on the same port (the sink
    # name the guard knows): a card's level is its route, which WirePlumber restores and
    # dawroute sets; the guard leaves cards alone, so the DAW must reach it at its cap
    phase DEL2 unplug --fallback-volume 70
    phase ADD3 plug --cap 50
    "$PY" -m routing status | grep -E '^guard:' | tee "$OUT/guard.txt"
    grep -q 'WirePlumber holds links' "$OUT/guard.txt" || fail GUARD_NOT_RUNNING
    grep 'dawroute' "$OUT/wireplumber.log" | tail -5
fi
dmesg | grep -iE 'usb|snd' | tail -20
if [ -z "$FAILS" ]; then finish OK; else finish "FAIL$FAILS"; fi
