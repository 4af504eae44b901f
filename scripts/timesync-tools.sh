#!/usr/bin/env bash
# Prints a directory holding Debian's chrony and linuxptp programs, unpacked, not installed:
#   <dir>/usr/sbin/chronyd  <dir>/usr/bin/chronyc  <dir>/usr/sbin/ptp4l  <dir>/usr/sbin/pmc  ...
#
# Why unpacked: installing the packages runs their maintainer scripts, which start a chronyd (init
# script) that would discipline this machine's own clock. The tests start chronyd -x (never touches
# the clock) or ptp4l with `free_running 1`, under `capsh --drop=cap_sys_time --`, and the QEMU
# guests of the multi-room rig (tests/hil/run-rooms.sh) run these binaries on their own clocks.
#
# Cached outside the checkout, keyed by the versions apt resolves now (Debian's archive drops old
# versions, so none is pinned):
#   ${SBC_TIMESYNC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sbc-audio/timesync}/<chrony>_<linuxptp>/root
# Exit status 2 with a line "timesync-tools: ERROR: ..." when it cannot.
set -euo pipefail
die() { echo "timesync-tools: ERROR: $*" >&2; exit 2; }
command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null || die "needs a Debian-family host with apt-get and dpkg-deb"
BASE=${SBC_TIMESYNC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sbc-audio/timesync}
PKGS=(chrony linuxptp)

candidate() { apt-cache policy "$1" 2>/dev/null | sed -n 's/^ *Candidate: //p' | head -n1; }
vers=()
for p in "${PKGS[@]}"; do
  v=$(candidate "$p")
  if [ -z "$v" ] || [ "$v" = "(none)" ]; then
    apt-get -o DPkg::Lock::Timeout=300 update -qq >/dev/null 2>&1 || die "apt-get update failed"
    v=$(candidate "$p")
  fi
  [ -n "$v" ] && [ "$v" != "(none)" ] || die "apt knows no package $p"
  vers+=("$v")
done
DIR="$BASE/${vers[0]}_${vers[1]}"
if [ ! -e "$DIR/.done" ]; then
  mkdir -p "$BASE"
  exec 9> "$BASE/.lock"
  flock 9
  if [ ! -e "$DIR/.done" ]; then
    rm -rf "$DIR" && mkdir -p "$DIR/dl"
    for i in "${!PKGS[@]}"; do
      ( cd "$DIR/dl" && apt-get download -qq "${PKGS[$i]}=${vers[$i]}" >/dev/null 2>&1 ) \
        || { apt-get -o DPkg::Lock::Timeout=300 update -qq >/dev/null 2>&1; ( cd "$DIR/dl" && apt-get download -qq "${PKGS[$i]}=${vers[$i]}" >/dev/null 2>&1 ); } \
        || die "cannot download ${PKGS[$i]}=${vers[$i]}"
    done
    for deb in "$DIR"/dl/*.deb; do dpkg-deb -x "$deb" "$DIR/root"; done
    rm -rf "$DIR/dl"
    for b in usr/sbin/chronyd usr/bin/chronyc usr/sbin/ptp4l usr/sbin/pmc; do
      [ -x "$DIR/root/$b" ] || die "$b is not in the unpacked packages"
      if ldd "$DIR/root/$b" | grep -q 'not found'; then die "$b needs libraries this host lacks: $(ldd "$DIR/root/$b" | grep 'not found' | tr -s ' \n' ' ')"; fi
    done
    touch "$DIR/.done"
  fi
fi
echo "$DIR/root"
