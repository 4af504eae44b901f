#!/usr/bin/env bash
# The multi-room rig (issue 28, docs/multi-room.md): two QEMU guests, "rooms", joined by a
# point-to-point `-netdev dgram` link (UDP on 127.0.0.1; no bridge, no tap, no root), each a
# tests/hil/run-vm.sh guest with a board whose DAC is snd-aloop. Room b runs the room agent
# (tests/hil/rooms/room-agent.ts) alone; room a runs it too, and the rooms suite
# (tests/hil/rooms/*.hil.ts) drives both: chrony, snapserver, snapclient, `sbc-audio serve`, captures.
#
# chronyd and chronyc run in the guests from Debian's packages unpacked on the host
# (scripts/timesync-tools.sh), never installed here: nothing on this host touches its clock.
#
# Ends with "hil-rooms: N passed, N failed[, N skipped]" (room a's suite) and a non-zero exit status
# when anything failed or a room did not report. Room b's console: $ROOMS_LOG_DIR/room-b.log.
#
# Environment: SBC_HIL_TIMEOUT (seconds, default 1200) and the rest as tests/hil/run-vm.sh;
#   SBC_HIL_ROOMS_LOG_DIR where room b's console log goes (default: a temporary folder, printed)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
die() { echo "hil-rooms: ERROR: $*"; exit 2; }

TS=$(bash "$ROOT/scripts/timesync-tools.sh") || die "chrony's programs are not available (scripts/timesync-tools.sh)"
LOG_DIR=${SBC_HIL_ROOMS_LOG_DIR:-$(mktemp -d /tmp/sbc-hil-rooms.XXXXXX)}
mkdir -p "$LOG_DIR"

# Two free UDP ports on 127.0.0.1, one for each end of the link.
read -r PORT_A PORT_B < <(node -e '
  const d = require("node:dgram"); const a = d.createSocket("udp4"), b = d.createSocket("udp4");
  a.bind(0, "127.0.0.1", () => b.bind(0, "127.0.0.1", () => { console.log(a.address().port, b.address().port); a.close(); b.close(); }));')
[ -n "$PORT_A" ] && [ -n "$PORT_B" ] || die "no free UDP ports"

export SBC_HIL_TIMESYNC_DIR=$TS SBC_HIL_ROOMS=2 SBC_HIL_TIMEOUT=${SBC_HIL_TIMEOUT:-1200}
# Two vCPUs each (SBC_HIL_SMP): with one, room a's snapserver, snapclient, serve and capture queued behind each
# other and its bridge cut frames; the host's two cores are shared by both guests either way.
export SBC_HIL_SMP=${SBC_HIL_SMP:-2}

# Room b: the agent only; it powers off when room a's suite says so (or at the timeout).
SBC_HIL_NET_IP=10.77.0.2 SBC_HIL_HOSTNAME=room-b SBC_HIL_NET_LOCAL_PORT=$PORT_B SBC_HIL_NET_REMOTE_PORT=$PORT_A \
  SBC_HIL_GUEST_CMD='node --import tsx tests/hil/rooms/room-agent.ts' \
  setsid bash "$ROOT/tests/hil/run-vm.sh" > "$LOG_DIR/room-b.log" 2>&1 &
ROOM_B=$!
trap 'kill -- -$ROOM_B 2>/dev/null || true' EXIT

# Room a: the agent beside the rooms suite.
set +e
SBC_HIL_NET_IP=10.77.0.1 SBC_HIL_HOSTNAME=room-a SBC_HIL_NET_LOCAL_PORT=$PORT_A SBC_HIL_NET_REMOTE_PORT=$PORT_B \
  SBC_HIL_AGENT=1 SBC_HIL_SPEC='tests/hil/rooms/*.hil.ts' \
  bash "$ROOT/tests/hil/run-vm.sh" 2>&1 | tee "$LOG_DIR/room-a.log"
rc=${PIPESTATUS[0]}
set -e
# Room b powers off when told; give it a moment, then stop it.
for _ in $(seq 1 60); do kill -0 "$ROOM_B" 2>/dev/null || break; sleep 1; done
kill -- -"$ROOM_B" 2>/dev/null || true
echo "hil-rooms: room b's console: $LOG_DIR/room-b.log"
line=$(grep -E '^hil-vm: [0-9]+ passed, [0-9]+ failed' "$LOG_DIR/room-a.log" | tail -n1 || true)
[ -n "$line" ] || { echo "hil-rooms: 0 passed, 1 failed (room a did not report)"; exit 1; }
echo "hil-rooms: ${line#hil-vm: }"
exit "$rc"
