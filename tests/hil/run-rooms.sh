#!/usr/bin/env bash
# The multi-room rig (issue 28, docs/multi-room.md): two QEMU guests, "rooms", joined by a
# point-to-point `-netdev dgram` link (UDP on 127.0.0.1; no bridge, no tap, no root), each a
# tests/hil/run-vm.sh guest with a board whose DAC is snd-aloop. Room b runs the room agent
# (tests/hil/rooms/room-agent.ts) alone; room a runs it too, and the rooms suite
# (tests/hil/rooms/*.hil.ts) drives both: chrony, snapclient, `sbc-audio serve`, captures.
# snapserver runs on this host, on 127.0.0.1 only; the guests reach it through QEMU's user network
# (a second NIC each: this host's loopback is 10.0.2.2 there). Under TCG every process in a guest
# costs many times its native CPU, and a snapserver inside room a starved that room's audio path.
#
# chronyd and chronyc run in the guests from Debian's packages unpacked on the host
# (scripts/timesync-tools.sh), never installed here: nothing on this host touches its clock.
#
# Ends with "hil-rooms: N passed, N failed[, N skipped]" (room a's suite) and a non-zero exit status
# when anything failed or a room did not report. Room b's console: $ROOMS_LOG_DIR/room-b.log.
#
# Environment: SBC_HIL_TIMEOUT (seconds, default 1200) and the rest as tests/hil/run-vm.sh;
#   SBC_HIL_ROOMS_LOG_DIR where room b's console log goes (default: a temporary folder, printed)
#   SBC_HIL_ROOMS_MEASURE 1: also the offset measurements at the ears (make hil-rooms-measure; issue 28
#                     is blocked on their bound under TCG, so `make test` leaves them out, with that reason)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
die() { echo "hil-rooms: ERROR: $*"; exit 2; }

TS=$(bash "$ROOT/scripts/timesync-tools.sh") || die "chrony's programs are not available (scripts/timesync-tools.sh)"
LOG_DIR=${SBC_HIL_ROOMS_LOG_DIR:-$(mktemp -d /tmp/sbc-hil-rooms.XXXXXX)}
mkdir -p "$LOG_DIR"

# Two free UDP ports on 127.0.0.1, one for each end of the link; three TCP ports for snapserver.
read -r PORT_A PORT_B SNAP_STREAM SNAP_CONTROL SNAP_SOURCE < <(node -e '
  const d = require("node:dgram"), net = require("node:net");
  const udp = () => new Promise((r) => { const s = d.createSocket("udp4"); s.bind(0, "127.0.0.1", () => r(s)); });
  const tcp = () => new Promise((r) => { const s = net.createServer(); s.listen(0, "127.0.0.1", () => r(s)); });
  Promise.all([udp(), udp(), tcp(), tcp(), tcp()]).then((ss) => { console.log(ss.map((s) => s.address().port).join(" ")); ss.forEach((s) => s.close()); });')
[ -n "$SNAP_SOURCE" ] || die "no free ports"

# What this script starts is stopped at exit, however it ends. QEMU runs under `timeout` in a process
# group of its own, so room b's QEMU is found by its end of the link (its local UDP port), not by group.
ROOM_B= SNAP_PID= CHRONYD_PID= SNAP_DIR= CHRONY_DIR=
stop_rooms() {
  if [ -n "$ROOM_B" ]; then
    for _ in $(seq 1 60); do kill -0 "$ROOM_B" 2>/dev/null || break; sleep 1; done
    pkill -f "local.port=$PORT_B," 2>/dev/null || true
    kill -- -"$ROOM_B" 2>/dev/null || true
  fi
  pkill -f "local.port=$PORT_A," 2>/dev/null || true
  [ -z "$SNAP_PID" ] || kill "$SNAP_PID" 2>/dev/null || true
  [ -z "$CHRONYD_PID" ] || kill "$CHRONYD_PID" 2>/dev/null || true
  rm -rf "$SNAP_DIR" "$CHRONY_DIR"
}
trap stop_rooms EXIT

# The group's time: a chronyd on this host serving this host's clock to the rooms (NTP on 127.0.0.1,
# which the guests reach as 10.0.2.2), started with -x (it never adjusts the clock) and under
# `capsh --drop=cap_sys_time` (it could not): the host's clock is not ours to touch. snapserver keeps
# time by this host's clock, so the rooms' clocks (and with them snd-aloop's jiffies, their DACs)
# follow it; free-running under TCG they drifted by thousands of ppm and the rooms' bridges cut frames.
NTP_PORT=$(node -e 'const s = require("node:dgram").createSocket("udp4"); s.bind(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });')
CHRONY_DIR=$(mktemp -d /tmp/sbc-hil-chronyd.XXXXXX)
chmod 0700 "$CHRONY_DIR"
cat > "$CHRONY_DIR/chrony.conf" <<CONF
port $NTP_PORT
bindaddress 127.0.0.1
local stratum 8
allow 127.0.0.1
cmdport 0
bindcmdaddress $CHRONY_DIR/chronyd.sock
pidfile $CHRONY_DIR/chronyd.pid
driftfile $CHRONY_DIR/drift
CONF
capsh --drop=cap_sys_time -- -c "exec '$TS/usr/sbin/chronyd' -x -u root -f '$CHRONY_DIR/chrony.conf' -l '$LOG_DIR/host-chronyd.log'" \
  || die "the host's chronyd -x did not start (log: $LOG_DIR/host-chronyd.log)"
for _ in $(seq 1 50); do [ -s "$CHRONY_DIR/chronyd.pid" ] && break; sleep 0.1; done
CHRONYD_PID=$(cat "$CHRONY_DIR/chronyd.pid" 2>/dev/null || true)
[ -n "$CHRONYD_PID" ] || die "the host's chronyd wrote no pid file"
# The check the rig stands on: CAP_SYS_TIME (bit 25) clear in the daemon's effective capabilities.
capeff=$(sed -n 's/^CapEff:[[:space:]]*//p' "/proc/$CHRONYD_PID/status")
if (( (16#$capeff >> 25) & 1 )); then kill "$CHRONYD_PID"; die "the host's chronyd (pid $CHRONYD_PID) holds CAP_SYS_TIME (CapEff $capeff)"; fi
echo "hil-rooms: the host's chronyd -x (pid $CHRONYD_PID) serves on 127.0.0.1:$NTP_PORT; CapEff $capeff: CAP_SYS_TIME (bit 25) clear"

# snapserver (Debian's, a peer we did not write): its PCM comes in over TCP from room a's agent.
command -v snapserver >/dev/null || die "snapserver is not installed (make host-tools)"
SNAP_DIR=$(mktemp -d /tmp/sbc-hil-snapserver.XXXXXX)
: > "$SNAP_DIR/snapserver.conf"
HOME=$SNAP_DIR snapserver -c "$SNAP_DIR/snapserver.conf" --server.datadir="$SNAP_DIR" --http.enabled=false \
  --tcp.enabled=true --tcp.bind_to_address=127.0.0.1 --tcp.port="$SNAP_CONTROL" \
  --stream.bind_to_address=127.0.0.1 --stream.port="$SNAP_STREAM" --stream.codec=pcm \
  --stream.source "tcp://127.0.0.1:$SNAP_SOURCE?name=rooms&mode=server&sampleformat=48000:16:2" \
  --logging.sink=stderr > "$LOG_DIR/snapserver.log" 2>&1 &
SNAP_PID=$!
export SBC_HIL_WAN=1 SBC_HIL_EXTRA_ENV="SBC_HIL_SNAP_HOST=10.0.2.2 SBC_HIL_SNAP_STREAM_PORT=$SNAP_STREAM SBC_HIL_SNAP_CONTROL_PORT=$SNAP_CONTROL SBC_HIL_SNAP_SOURCE_PORT=$SNAP_SOURCE SBC_HIL_NTP_HOST=10.0.2.2 SBC_HIL_NTP_PORT=$NTP_PORT SBC_HIL_ROOMS_MEASURE=${SBC_HIL_ROOMS_MEASURE:-0}"

export SBC_HIL_TIMESYNC_DIR=$TS SBC_HIL_ROOMS=2 SBC_HIL_TIMEOUT=${SBC_HIL_TIMEOUT:-1200}
# One vCPU each (SBC_HIL_SMP): with two each, the four vCPU threads starved one another on this
# host's two cores (snapclient's PCM underran, serve's requests timed out).
export SBC_HIL_SMP=${SBC_HIL_SMP:-1}

# Room b: the agent only; it powers off when room a's suite says so (or at the timeout).
SBC_HIL_NET_IP=10.77.0.2 SBC_HIL_HOSTNAME=room-b SBC_HIL_NET_LOCAL_PORT=$PORT_B SBC_HIL_NET_REMOTE_PORT=$PORT_A \
  SBC_HIL_GUEST_CMD='node --import tsx tests/hil/rooms/room-agent.ts' \
  setsid bash "$ROOT/tests/hil/run-vm.sh" > "$LOG_DIR/room-b.log" 2>&1 &
ROOM_B=$!


# Room a: the agent beside the rooms suite.
set +e
SBC_HIL_NET_IP=10.77.0.1 SBC_HIL_HOSTNAME=room-a SBC_HIL_NET_LOCAL_PORT=$PORT_A SBC_HIL_NET_REMOTE_PORT=$PORT_B \
  SBC_HIL_AGENT=1 SBC_HIL_SPEC='tests/hil/rooms/*.hil.ts' \
  bash "$ROOT/tests/hil/run-vm.sh" 2>&1 | tee "$LOG_DIR/room-a.log"
rc=${PIPESTATUS[0]}
set -e
# Room b powers off when told; give it a moment, then stop it (stop_rooms, at exit).
echo "hil-rooms: room b's console: $LOG_DIR/room-b.log; snapserver's log: $LOG_DIR/snapserver.log"
line=$(grep -E '^hil-vm: [0-9]+ passed, [0-9]+ failed' "$LOG_DIR/room-a.log" | tail -n1 || true)
[ -n "$line" ] || { echo "hil-rooms: 0 passed, 1 failed (room a did not report)"; exit 1; }
echo "hil-rooms: ${line#hil-vm: }"
exit "$rc"
