#!/usr/bin/env bash
# Boots Debian's own 6.1 kernel under QEMU with simulated peripherals (i2c-stub, gpio-sim,
# snd-aloop, snd-dummy, snd-seq with snd-virmidi) and runs the project's HIL suite inside it, with this checkout's
# source and node_modules mounted over 9p, and this host's /usr read-only at /host/usr (the audio
# players: mpd, mpc, snapserver, snapclient, squeezelite). See docs/hil.md.
#
# Everything it downloads or builds lives in a cache outside the checkout, keyed by the kernel
# version apt resolves now (Debian's archive drops old kernels, so none is pinned):
#   ${SBC_HIL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sbc-audio/hil}/<kernel-abi>_<package-version>/
#
# Ends with "hil-vm: N passed, N failed[, N skipped]" and a non-zero exit status when anything
# failed, when the guest did not report, or when the VM could not be built or booted (with a
# line "hil-vm: ERROR: ..." that says why). It never passes silently.
#
# Environment:
#   SBC_HIL_CACHE     cache directory (see above)
#   SBC_HIL_GREP      only run tests whose title matches (mocha --grep)
#   SBC_HIL_SPEC      space-separated spec globs, relative to the checkout (default: board + guest)
#   SBC_HIL_TIMEOUT   seconds QEMU may run in all (default 1800: the suite takes about 15 min under TCG)
#   SBC_HIL_ACCEL     'tcg' or 'kvm' (default: kvm only where kvm_intel/kvm_amd is loaded)
#   SBC_HIL_GUEST_CMD diagnostics: a shell command the guest runs instead of the suite
# The multi-room rig (tests/hil/run-rooms.sh) boots two of these guests on one link:
#   SBC_HIL_NET_IP    the guest's address on a point-to-point `-netdev dgram` link (e.g. 10.77.0.1)
#   SBC_HIL_NET_LOCAL_PORT, SBC_HIL_NET_REMOTE_PORT  the link's UDP ports on 127.0.0.1 (this end, the other)
#   SBC_HIL_HOSTNAME  the guest's hostname (room-a, room-b)
#   SBC_HIL_TIMESYNC_DIR  a host folder shared read-only at /host/timesync (chronyd, chronyc: scripts/timesync-tools.sh)
#   SBC_HIL_AGENT     1: the guest starts tests/hil/rooms/room-agent.ts in the background before the suite
#   SBC_HIL_ROOMS     passed to the suite (the rooms test runs only where it is set)
#   SBC_HIL_WAN       1: a second NIC on QEMU's user network (eth1, 10.0.2.15), through which the guest reaches
#                     this host's 127.0.0.1 as 10.0.2.2 (the rig's snapserver runs on the host)
#   SBC_HIL_EXTRA_ENV space-separated KEY=VALUE pairs added to the guest's /tmp/hil.env and environment
#   SBC_HIL_SMP, SBC_HIL_MEM  vCPUs (default 2) and MiB (default 2048) of the guest
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HIL_DIR="$ROOT/tests/hil"
CACHE_BASE=${SBC_HIL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sbc-audio/hil}
QEMU_TIMEOUT=${SBC_HIL_TIMEOUT:-1800}
# Bump when the layout of the cached root filesystem changes, so old caches are rebuilt.
BASE_FORMAT=4
T_START=$(date +%s.%N)

say() { echo "hil-vm: $*" >&2; }
die() {
  echo "hil-vm: ERROR: $*"
  exit 2
}
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

[ "$(uname -m)" = x86_64 ] || die "this harness boots Debian's amd64 kernel and needs an x86-64 host (this is $(uname -m)); on a board run the suite directly (docs/hil.md)"
command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null || die "needs a Debian-family host with apt-get and dpkg-deb"
[ -d "$ROOT/node_modules/mocha" ] && [ -d "$ROOT/node_modules/tsx" ] && [ -d "$ROOT/node_modules/koffi" ] \
  || die "node_modules is missing or incomplete in $ROOT: run 'npm ci' first"
command -v node >/dev/null || die "node is not on PATH (the guest runs this host's node binary)"

SUDO=
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO=sudo; fi
fi

apt_updated=0
apt_update_once() {
  if [ "$apt_updated" = 0 ]; then
    say "apt-get update"
    $SUDO apt-get -o DPkg::Lock::Timeout=300 update -qq >/dev/null || die "apt-get update failed"
    apt_updated=1
  fi
}

# --- host packages ------------------------------------------------------------------------
# mpd mpc snapserver snapclient squeezelite: players we did not write, for the ALSA way in (issue 27);
# they run in the guest from the /usr share (below), not from the initramfs.
HOST_PACKAGES=(qemu-system-x86 busybox-static alsa-utils gpiod i2c-tools cpio kmod xz-utils gcc make rt-tests
  mpd mpc snapserver snapclient squeezelite)
missing=()
for p in "${HOST_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
install_packages() {
  if [ "$(id -u)" != 0 ] && [ -z "$SUDO" ]; then
    die "host packages missing ($*) and not root (no password-less sudo): install them with apt-get"
  fi
  say "installing host packages: $*"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "$@" >/dev/null \
    || { apt_update_once; DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "$@" >/dev/null; } \
    || die "apt-get install $* failed"
}
if [ ${#missing[@]} -gt 0 ]; then
  install_packages "${missing[@]}"
  # Debian starts the players' services on install (mpd, snapserver, snapclient; snapserver's JSON-RPC
  # listens on every interface and takes commands from anyone). The guest runs its own from /host/usr:
  # the services of what was just installed are disabled and stopped.
  for p in "${missing[@]}"; do
    case "$p" in mpd | snapserver | snapclient | squeezelite) for u in "$p.socket" "$p"; do $SUDO systemctl disable --now "$u" >/dev/null 2>&1 || true; done ;; esac
  done
fi

# --- resolve the kernel -------------------------------------------------------------------
resolve_kernel() {
  KABI=$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/^ *Depends: linux-image-\(.*\)$/\1/p' | grep -v -- '-unsigned$' | head -n1 || true)
  [ -n "$KABI" ] && KVER=$(apt-cache show --no-all-versions "linux-image-$KABI" 2>/dev/null | sed -n 's/^Version: //p' | head -n1 || true)
}
KABI= KVER=
resolve_kernel
if [ -z "$KABI" ] || [ -z "$KVER" ]; then apt_update_once; resolve_kernel; fi
[ -n "$KABI" ] && [ -n "$KVER" ] || die "cannot resolve Debian's kernel from the linux-image-amd64 package (is the bookworm archive in apt's sources?)"
case "$KABI" in
  6.1.*-amd64) ;;
  *) die "linux-image-amd64 resolves to $KABI; this harness is made for Debian's 6.1 kernel (bookworm)" ;;
esac
CACHE="$CACHE_BASE/${KABI}_${KVER}"
mkdir -p "$CACHE"
# Several runs may share the cache (other checkouts, CI): one builds at a time.
exec 9> "$CACHE/.lock"
if ! flock -n 9; then say "waiting for another run to finish preparing $CACHE"; flock 9; fi
say "kernel $KABI (package $KVER), cache $CACHE"

fetch_deb() { # package version dest-dir
  local pkg=$1 ver=$2 dir=$3
  mkdir -p "$dir"
  ( cd "$dir" && apt-get download -qq "$pkg=$ver" 2>/dev/null ) \
    || { apt_update_once; ( cd "$dir" && apt-get download -qq "$pkg=$ver" 2>/dev/null ); } \
    || die "cannot download $pkg=$ver from Debian's archive"
  ls "$dir"/"${pkg}"_*.deb | head -n1
}

# Headers of the same version, for building gpio-sim out of tree.
if [ ! -e "/lib/modules/$KABI/build/Makefile" ]; then install_packages "linux-headers-$KABI"; fi

# --- kernel image and modules ---------------------------------------------------------------
KDIR="$CACHE/kernel"
if [ ! -e "$KDIR/.done" ]; then
  say "fetching linux-image-$KABI $KVER"
  rm -rf "$KDIR" && mkdir -p "$KDIR"
  deb=$(fetch_deb "linux-image-$KABI" "$KVER" "$CACHE/dl")
  dpkg-deb -x "$deb" "$KDIR/root"
  # Booting the uncompressed ELF saves seconds per boot under TCG: the payload of vmlinuz is xz.
  vmlinuz="$KDIR/root/boot/vmlinuz-$KABI"
  off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$vmlinuz" | head -n1 | cut -d: -f1 || true)
  if [ -n "$off" ]; then
    tail -c +$((off + 1)) "$vmlinuz" | xz -dc 2>/dev/null > "$KDIR/vmlinux" || true
  fi
  if [ "$(head -c 4 "$KDIR/vmlinux" 2>/dev/null | od -An -c | tr -d ' ')" = '177ELF' ]; then
    echo "$KDIR/vmlinux" > "$KDIR/boot-image"
  else
    say "no xz payload found in vmlinuz; booting the compressed image"
    cp "$vmlinuz" "$KDIR/vmlinuz"; echo "$KDIR/vmlinuz" > "$KDIR/boot-image"; rm -f "$KDIR/vmlinux"
  fi
  rm -f "$deb"
  touch "$KDIR/.done"
fi

# --- gpio-sim (and irq_sim), built out of tree from Debian's source of the same version ---------
GDIR="$CACHE/gpio-sim"
if [ ! -e "$GDIR/.done" ]; then
  say "building gpio-sim from linux-source-6.1 $KVER"
  rm -rf "$GDIR" && mkdir -p "$GDIR/src"
  deb=$(fetch_deb linux-source-6.1 "$KVER" "$CACHE/dl")
  dpkg-deb --fsys-tarfile "$deb" | tar -xO --wildcards '*/linux-source-6.1.tar.xz' | xz -dc -T2 \
    | tar -x -C "$GDIR/src" --strip-components=1 --wildcards \
      'linux-source-6.1/drivers/gpio/gpio-sim.c' 'linux-source-6.1/drivers/gpio/gpiolib.h' 'linux-source-6.1/kernel/irq/irq_sim.c' \
    || die "cannot unpack gpio-sim sources from $deb"
  rm -f "$deb"
  b="$GDIR/build"
  mkdir -p "$b"
  cp "$GDIR/src/drivers/gpio/gpio-sim.c" "$GDIR/src/drivers/gpio/gpiolib.h" "$GDIR/src/kernel/irq/irq_sim.c" "$b/"
  # Debian builds without CONFIG_IRQ_SIM, so irq_sim becomes a module too. irq_to_desc() is not
  # exported to modules; generic_handle_irq() does the same job from a module.
  grep -q 'handle_simple_irq(irq_to_desc(irqnum));' "$b/irq_sim.c" || die "irq_sim.c changed upstream: adjust the patch in tests/hil/run-vm.sh"
  sed -i 's/handle_simple_irq(irq_to_desc(irqnum));/generic_handle_irq(irqnum);/' "$b/irq_sim.c"
  grep -q MODULE_LICENSE "$b/irq_sim.c" || printf '\nMODULE_LICENSE("GPL");\n' >> "$b/irq_sim.c"
  echo 'obj-m := gpio-sim.o irq_sim.o' > "$b/Kbuild"
  make -s -C "/lib/modules/$KABI/build" M="$b" modules > "$GDIR/build.log" 2>&1 \
    || { tail -n 30 "$GDIR/build.log"; die "gpio-sim did not build against linux-headers-$KABI (log: $GDIR/build.log)"; }
  cp "$b/gpio-sim.ko" "$b/irq_sim.ko" "$GDIR/"
  touch "$GDIR/.done"
fi

# --- root filesystem: busybox, node, peer tools, modules (cached) -----------------------------------
# at24: doctor.hil.ts binds it (a 24c02 EEPROM) to the codec's i2c-stub address, a real kernel driver claiming it.
# snd-seq, snd-virmidi: the ALSA sequencer (/dev/snd/seq) and virtual raw MIDI cards whose sequencer
# clients are MIDI sources (alsa-seq.hil.ts); modprobe --show-depends brings snd-seq-virmidi and the rest.
# virtio_net: the multi-room rig's link between guests (tests/hil/run-rooms.sh).
GUEST_MODULES=(i2c-dev i2c-stub gpio-sim configfs snd-aloop snd-dummy snd-seq snd-virmidi 9p 9pnet_virtio virtio_pci at24 virtio_net)
NODE_BIN=$(readlink -f "$(command -v node)")
TOOLS=(
  "$NODE_BIN"
  /usr/bin/gpiodetect /usr/bin/gpioinfo /usr/bin/gpioget /usr/bin/gpioset /usr/bin/gpiomon /usr/bin/gpiofind
  /usr/sbin/i2cget /usr/sbin/i2cset /usr/sbin/i2cdump /usr/sbin/i2cdetect /usr/sbin/i2ctransfer
  /usr/bin/aplay /usr/bin/arecord /usr/bin/amixer /usr/bin/speaker-test /usr/bin/cyclictest /usr/bin/alsaloop
  /usr/bin/amidi /usr/bin/aconnect /usr/bin/aseqdump # alsa-seq.hil.ts: raw MIDI bytes into snd-virmidi, subscriptions, a dump
  /usr/bin/dtc # setup.hil.ts: `sbc-audio setup` compiles the board's overlay (Debian device-tree-compiler, `make host-tools`)
)
for t in "${TOOLS[@]}"; do [ -x "$t" ] || die "missing host tool $t"; done
base_key=$( { echo "format $BASE_FORMAT"; echo "modules ${GUEST_MODULES[*]}"; ls -lL "${TOOLS[@]}" /bin/busybox; } | sha256sum | cut -c1-16)
BASE="$CACHE/rootfs-$base_key.cpio"
if [ ! -e "$BASE" ]; then
  say "building the guest root filesystem"
  rm -f "$CACHE"/rootfs-*.cpio
  S="$CACHE/rootfs-stage"
  rm -rf "$S" && mkdir -p "$S"/{usr/bin,usr/sbin,usr/lib,usr/lib64,proc,sys,dev,tmp,run,etc,mnt,root}
  # Debian's merged /usr: the same symlinks, so library paths from ldd resolve unchanged.
  ln -s usr/bin "$S/bin"; ln -s usr/sbin "$S/sbin"; ln -s usr/lib "$S/lib"; ln -s usr/lib64 "$S/lib64"
  cp /bin/busybox "$S/usr/bin/busybox"
  for applet in $("$S/usr/bin/busybox" --list); do
    [ -e "$S/usr/bin/$applet" ] || ln -s busybox "$S/usr/bin/$applet"
  done
  copy_with_libs() { # copies a binary and the shared libraries ldd names, under their real directories
    local f=$1 lib
    install -D -m 0755 "$f" "$S$f"
    for lib in $(ldd "$f" 2>/dev/null | grep -oE '/[^ ]+' || true); do
      local dest="$S$(readlink -f "$(dirname "$lib")")/$(basename "$lib")"
      [ -e "$dest" ] || install -D -m 0755 "$(readlink -f "$lib")" "$dest"
    done
  }
  for t in "${TOOLS[@]}"; do
    # The i2c-tools and libgpiod binaries take precedence over busybox's applets of the same name.
    rm -f "$S$t"
    copy_with_libs "$t"
  done
  [ "$NODE_BIN" = /usr/bin/node ] || ln -sf "$NODE_BIN" "$S/usr/bin/node"
  # libasound, which the ALSA backend dlopens, and its configuration (hw: names are defined there).
  for lib in /usr/lib/x86_64-linux-gnu/libasound.so.2; do copy_with_libs "$lib"; done
  mkdir -p "$S/usr/share" && cp -a /usr/share/alsa "$S/usr/share/"
  echo 'root:x:0:0:root:/root:/bin/sh' > "$S/etc/passwd"
  echo 'root:x:0:' > "$S/etc/group"
  # Modules: the dependency closure of what the guest loads, with modules.dep for busybox modprobe.
  M="$CACHE/modules-full"
  rm -rf "$M" && mkdir -p "$M/lib/modules/$KABI/extra"
  cp -a "$KDIR/root/lib/modules/$KABI/." "$M/lib/modules/$KABI/"
  cp "$GDIR/gpio-sim.ko" "$GDIR/irq_sim.ko" "$M/lib/modules/$KABI/extra/"
  depmod -b "$M" "$KABI"
  for mod in "${GUEST_MODULES[@]}"; do
    modprobe -d "$M" -S "$KABI" --show-depends "$mod" | awk '$1 == "insmod" { print $2 }'
  done | sort -u | while read -r ko; do
    install -D -m 0644 "$ko" "$S${ko#"$M"}"
  done
  cp "$M/lib/modules/$KABI"/modules.builtin* "$M/lib/modules/$KABI/modules.order" "$S/lib/modules/$KABI/" 2>/dev/null || true
  depmod -b "$S" "$KABI"
  rm -rf "$M"
  ( cd "$S" && find . -mindepth 1 | cpio -o -H newc --quiet ) > "$BASE.tmp"
  mv "$BASE.tmp" "$BASE"
  rm -rf "$S"
fi
BOOT_IMAGE=$(cat "$KDIR/boot-image")

# --- the players: run in the guest from this host's /usr, shared read-only over 9p -----------------------
# mpd alone links ~290 shared libraries (217 MB): too big to copy into the initramfs. The guest mounts
# this host's /usr at /host/usr and runs them from there with the guest's own loader. ld.so.cache is
# not in the guest, so the library directories they need are named here, from ldd, as the guest sees
# them; the guest puts its own /usr/lib/x86_64-linux-gnu first (tests/hil/guest-init.sh), so the
# players use the guest's libasound and read the guest's ALSA configuration (/usr/share/alsa,
# /etc/alsa/conf.d), where tests install PCM aliases.
PLAYERS=(/usr/bin/mpd /usr/bin/mpc /usr/bin/snapserver /usr/bin/snapclient /usr/bin/squeezelite)
host_lib_dirs=()
for p in "${PLAYERS[@]}"; do
  [ -x "$p" ] || die "missing host player $p"
  for lib in $(ldd "$p" 2>/dev/null | grep -oE '=> /[^ ]+' | cut -c4- || true); do
    d=$(dirname "$(readlink -f "$lib")")
    case "$d" in /usr/*) ;; *) die "$p links $lib outside /usr ($d): the guest's /host/usr share would not have it" ;; esac
    host_lib_dirs+=("/host$d")
  done
done
HOST_LIB_PATH=$(printf '%s\n' "${host_lib_dirs[@]}" | sort -u | paste -sd:)
say "prepared in $(elapsed "$T_START") s"

# --- per-run part of the initramfs: /init and its settings ------------------------------------------
RUN=$(mktemp -d "$CACHE/run.XXXXXX")
trap 'rm -rf "$RUN"' EXIT
mkdir -p "$RUN/stage/hil"
install -m 0755 "$HIL_DIR/guest-init.sh" "$RUN/stage/init"
SPEC=${SBC_HIL_SPEC:-"tests/hil/board/**/*.hil.ts tests/hil/guest/**/*.hil.ts"}
{
  printf 'HIL_CHECKOUT=%q\n' "$ROOT"
  printf 'HIL_KABI=%q\n' "$KABI"
  printf 'HIL_SPEC=%q\n' "$SPEC"
  printf 'HIL_GREP=%q\n' "${SBC_HIL_GREP:-}"
  printf 'HIL_GUEST_CMD=%q\n' "${SBC_HIL_GUEST_CMD:-}"
  printf 'HIL_HOST_LIB_PATH=%q\n' "$HOST_LIB_PATH"
  printf 'HIL_NET_IP=%q\n' "${SBC_HIL_NET_IP:-}"
  printf 'HIL_HOSTNAME=%q\n' "${SBC_HIL_HOSTNAME:-}"
  printf 'HIL_TIMESYNC=%q\n' "${SBC_HIL_TIMESYNC_DIR:+1}"
  printf 'HIL_AGENT=%q\n' "${SBC_HIL_AGENT:-}"
  printf 'HIL_ROOMS=%q\n' "${SBC_HIL_ROOMS:-}"
  printf 'HIL_WAN=%q\n' "${SBC_HIL_WAN:-}"
  printf 'HIL_EXTRA_ENV=%q\n' "${SBC_HIL_EXTRA_ENV:-}"
} > "$RUN/stage/hil/settings"
( cd "$RUN/stage" && find . -mindepth 1 | cpio -o -H newc --quiet ) > "$RUN/init.cpio"
cat "$BASE" "$RUN/init.cpio" > "$RUN/initramfs.cpio"
flock -u 9

# --- boot ---------------------------------------------------------------------------------------------
ACCEL=${SBC_HIL_ACCEL:-}
if [ -z "$ACCEL" ]; then
  # /dev/kvm alone is not enough: a software hypervisor (kvm_pvm) offers it and then fails.
  if [ -w /dev/kvm ] && { [ -d /sys/module/kvm_intel ] || [ -d /sys/module/kvm_amd ]; }; then ACCEL=kvm; else ACCEL=tcg; fi
fi
case "$ACCEL" in
  kvm) ACCEL_ARGS=(-accel kvm -cpu host) ;;
  tcg) ACCEL_ARGS=(-accel tcg,thread=multi -cpu max) ;;
  *) die "SBC_HIL_ACCEL must be kvm or tcg" ;;
esac
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 is not installed"
EXTRA_ARGS=()
if [ -n "${SBC_HIL_NET_IP:-}" ]; then
  [ -n "${SBC_HIL_NET_LOCAL_PORT:-}" ] && [ -n "${SBC_HIL_NET_REMOTE_PORT:-}" ] || die "SBC_HIL_NET_IP needs SBC_HIL_NET_LOCAL_PORT and SBC_HIL_NET_REMOTE_PORT"
  # A point-to-point link of UDP datagrams between two QEMUs on this host: no bridge, no root, no tap.
  mac_tail=$(printf '%02x' "${SBC_HIL_NET_IP##*.}")
  EXTRA_ARGS+=(-netdev "dgram,id=link,local.type=inet,local.host=127.0.0.1,local.port=$SBC_HIL_NET_LOCAL_PORT,remote.type=inet,remote.host=127.0.0.1,remote.port=$SBC_HIL_NET_REMOTE_PORT"
    -device "virtio-net-pci,netdev=link,mac=52:54:00:77:00:$mac_tail")
fi
if [ -n "${SBC_HIL_WAN:-}" ]; then
  # QEMU's user network (slirp): the guest reaches this host's 127.0.0.1 as 10.0.2.2 (the rooms rig's snapserver and
  # chronyd listen there, on loopback only) and, through NAT, whatever this host can reach; nothing reaches the guest.
  EXTRA_ARGS+=(-netdev "user,id=wan" -device "virtio-net-pci,netdev=wan,mac=52:54:00:12:34:56")
fi
if [ -n "${SBC_HIL_TIMESYNC_DIR:-}" ]; then
  [ -x "$SBC_HIL_TIMESYNC_DIR/usr/sbin/chronyd" ] || die "SBC_HIL_TIMESYNC_DIR=$SBC_HIL_TIMESYNC_DIR holds no usr/sbin/chronyd"
  EXTRA_ARGS+=(-virtfs "local,path=$SBC_HIL_TIMESYNC_DIR,mount_tag=timesync,security_model=none,readonly=on")
fi

LOG="$RUN/console.log"
say "booting ($ACCEL)"
T_BOOT=$(date +%s.%N)
set +e
timeout --kill-after=10 "$QEMU_TIMEOUT" qemu-system-x86_64 \
  "${ACCEL_ARGS[@]}" -m "${SBC_HIL_MEM:-2048}" -smp "${SBC_HIL_SMP:-2}" "${EXTRA_ARGS[@]}" \
  -nodefaults -display none -no-reboot -serial stdio \
  -kernel "$BOOT_IMAGE" -initrd "$RUN/initramfs.cpio" \
  -append "console=ttyS0 quiet panic=-1 rdinit=/init" \
  -virtfs "local,path=$ROOT,mount_tag=checkout,security_model=none,readonly=on" \
  -virtfs "local,path=/usr,mount_tag=hostusr,security_model=none,readonly=on" \
  < /dev/null 2>&1 | sed -u 's/\r$//' | tee "$LOG"
qemu_rc=${PIPESTATUS[0]}
set -e
T_END=$(date +%s.%N)

# --- verdict --------------------------------------------------------------------------------------------
boot_line=$(grep -a '^HIL-BOOT ' "$LOG" | tail -n1 || true)
exit_line=$(grep -a '^HIL-SUITE-EXIT ' "$LOG" | tail -n1 || true)
if [ -z "$exit_line" ]; then
  if [ "$qemu_rc" = 124 ] || [ "$qemu_rc" = 137 ]; then
    cp "$LOG" "$CACHE/last-run${SBC_HIL_HOSTNAME:+-$SBC_HIL_HOSTNAME}.log"; die "the guest did not report within ${QEMU_TIMEOUT} s (QEMU killed by timeout); see $CACHE/last-run${SBC_HIL_HOSTNAME:+-$SBC_HIL_HOSTNAME}.log"
  fi
  cp "$LOG" "$CACHE/last-run${SBC_HIL_HOSTNAME:+-$SBC_HIL_HOSTNAME}.log"; die "the guest did not report (QEMU exit status $qemu_rc); see $CACHE/last-run${SBC_HIL_HOSTNAME:+-$SBC_HIL_HOSTNAME}.log"
fi
suite_rc=$(sed -n 's/^HIL-SUITE-EXIT rc=\([0-9]*\).*/\1/p' <<< "$exit_line")
count() { sed 's/\x1b\[[0-9;]*m//g' "$LOG" | grep -aoE "^ +[0-9]+ $1" | tail -n1 | grep -oE '[0-9]+' || echo 0; }
passed=$(count passing); failed=$(count failing); skipped=$(count pending)
# A suite that crashed before mocha printed its totals still fails.
if [ "$suite_rc" != 0 ] && [ "$failed" = 0 ]; then failed=1; fi
say "guest: ${boot_line#HIL-BOOT }; suite finished $(awk -v a="$T_BOOT" -v b="$T_END" 'BEGIN { printf "%.1f", b - a }') s after QEMU started; total $(elapsed "$T_START") s"
summary="hil-vm: $passed passed, $failed failed"
[ "$skipped" = 0 ] || summary="$summary, $skipped skipped"
echo "$summary"
cp "$LOG" "$CACHE/last-run${SBC_HIL_HOSTNAME:+-$SBC_HIL_HOSTNAME}.log"
[ "$failed" = 0 ] && [ "$suite_rc" = 0 ]
