#!/bin/sh
# /init of the HIL guest (busybox sh): mounts the checkout, loads the simulated peripherals,
# describes them in /tmp/hil.env (read by tests/hil/env.ts), runs the HIL suite with mocha, prints
# "HIL-SUITE-EXIT rc=N" on the console and powers off. Written for tests/hil/run-vm.sh.
export PATH=/usr/sbin:/usr/bin
export HOME=/root
# Debian's libraries live in the multiarch directories, which only ld.so.cache would name.
export LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
mkdir -p /dev/shm && mount -t tmpfs -o mode=1777 tmpfs /dev/shm
echo "HIL-BOOT init started at $(cut -d' ' -f1 /proc/uptime) s of guest uptime"

finish() {
  [ ! -s /tmp/room-agent.log ] || { echo "--- room agent's log (last 60 lines)"; tail -n 60 /tmp/room-agent.log; }
  echo "HIL-SUITE-EXIT rc=$1 at $(cut -d' ' -f1 /proc/uptime) s of guest uptime"
  sync
  poweroff -f
}
fail_setup() {
  echo "HIL-SETUP-FAILED: $*"
  finish 99
}

. /hil/settings

modprobe configfs && mount -t configfs configfs /sys/kernel/config || fail_setup "configfs"
modprobe virtio_pci && modprobe 9pnet_virtio && modprobe 9p || fail_setup "9p modules"
mkdir -p "$HIL_CHECKOUT"
mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=512000 checkout "$HIL_CHECKOUT" \
  || fail_setup "cannot mount the checkout over 9p"
# The host's /usr, read-only: the players (mpd, mpc, snapserver, snapclient, squeezelite) run from
# /host/usr/bin with LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu:$HIL_HOST_LIB_PATH (the guest's own
# libraries first: its libasound reads the guest's /usr/share/alsa and /etc/alsa/conf.d).
mkdir -p /host/usr
mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=512000 hostusr /host/usr \
  || fail_setup "cannot mount the host's /usr over 9p"
# The loopback interface: snapclient reaches snapserver and mpc reaches mpd over 127.0.0.1.
ifconfig lo 127.0.0.1 up || fail_setup "lo"
# The multi-room rig (tests/hil/run-rooms.sh): a link to the other guest, a hostname, chrony's programs.
if [ -n "$HIL_NET_IP" ]; then
  modprobe virtio_net || fail_setup "virtio_net"
  ifconfig eth0 "$HIL_NET_IP" netmask 255.255.255.0 up || fail_setup "eth0 $HIL_NET_IP"
fi
if [ -n "$HIL_WAN" ]; then
  # QEMU's user network: its fixed addresses (the guest 10.0.2.15, the host's loopback seen as 10.0.2.2).
  modprobe virtio_net || fail_setup "virtio_net"
  wan=eth0; [ -z "$HIL_NET_IP" ] || wan=eth1
  ifconfig "$wan" 10.0.2.15 netmask 255.255.255.0 up || fail_setup "$wan 10.0.2.15"
fi
[ -z "$HIL_HOSTNAME" ] || hostname "$HIL_HOSTNAME"
if [ -n "$HIL_TIMESYNC" ]; then
  mkdir -p /host/timesync
  mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=512000 timesync /host/timesync || fail_setup "cannot mount the timesync share"
fi

# I2C: i2c-stub simulates register files at these addresses. 0x4c and 0x4d: PCM5122 (page select
# in register 0, pages banked over registers 1..0x7f); 0x18: TLV320AIC3104 (page select in
# register 0, one extra page); 0x50: a plain 256-register file for the contract suite; 0x1a: WM8960
# (a plain file: its two-byte writes [A6..A0 D8] [D7..D0] land at byte register A<<1 | D8).
modprobe i2c-dev || fail_setup "i2c-dev"
modprobe i2c-stub chip_addr=0x4c,0x4d,0x18,0x50,0x1a \
  bank_reg=0,0,0,0,0 bank_mask=0xff,0xff,0x01,0,0 bank_start=1,1,1,0,0 bank_end=0x7f,0x7f,0x7f,0,0 \
  || fail_setup "i2c-stub"
I2C_BUS=
for d in /sys/bus/i2c/devices/i2c-*; do
  [ "$(cat "$d/name" 2>/dev/null)" = "SMBus stub driver" ] && I2C_BUS=${d##*/i2c-}
done
[ -n "$I2C_BUS" ] && [ -c "/dev/i2c-$I2C_BUS" ] || fail_setup "no /dev/i2c-N for i2c-stub"

# GPIO: one gpio-sim chip with 8 lines, some named (for lookup by name).
modprobe gpio-sim || fail_setup "gpio-sim"
G=/sys/kernel/config/gpio-sim/hil
mkdir "$G" "$G/bank0" || fail_setup "gpio-sim configfs"
echo 8 > "$G/bank0/num_lines"
echo hil-gpio > "$G/bank0/label"
for spec in 0:hil-in 1:hil-out 2:hil-in2 3:hil-out2; do
  mkdir "$G/bank0/line${spec%%:*}"
  echo "${spec#*:}" > "$G/bank0/line${spec%%:*}/name"
done
echo 1 > "$G/live" || fail_setup "gpio-sim did not go live"
GPIO_DEV=$(cat "$G/dev_name")
GPIO_CHIP=$(cat "$G/bank0/chip_name")
[ -c "/dev/$GPIO_CHIP" ] || fail_setup "no /dev/$GPIO_CHIP"

# ALSA: two snd-aloop cards (jiffies-paced, bit-exact) and Dummy (hrtimer-paced). Loopback (8
# subdevices) is the one the tests and players write to; SimDac (2 subdevices) stands in for the
# board's DAC of the ALSA way in: the board plays to hw:SimDac,0,0 and tests capture hw:SimDac,1,0,
# so players' cables never share a card with it. The module's parameters are arrays, one entry per card.
modprobe snd-aloop enable=1,1 id=Loopback,SimDac pcm_substreams=8,2 && modprobe snd-dummy || fail_setup "snd-aloop / snd-dummy"
grep -q '\[SimDac *\]' /proc/asound/cards || fail_setup "no SimDac card after modprobe snd-aloop"
# MIDI: the sequencer (/dev/snd/seq) and snd-virmidi's card (id VirMIDI, 4 raw MIDI devices, each a
# sequencer client "Virtual Raw MIDI <card>-<device>" that amidi -p hw:VirMIDI,N feeds).
modprobe snd-seq && modprobe snd-virmidi || fail_setup "snd-seq / snd-virmidi"
[ -c /dev/snd/seq ] || fail_setup "no /dev/snd/seq after modprobe snd-seq"

cat > /tmp/hil.env <<EOF
SBC_HIL_TIER=guest
SBC_HIL_I2C_BUS=$I2C_BUS
SBC_HIL_I2C_REGFILE_ADDR=0x50
SBC_HIL_I2C_EMPTY_ADDR=0x30
SBC_HIL_I2C_SMBUS_ONLY=1
SBC_HIL_I2C_PCM5122_ADDRS=0x4c,0x4d
SBC_HIL_I2C_TLV320AIC3104_ADDR=0x18
SBC_HIL_I2C_WM8960_ADDR=0x1a
SBC_HIL_GPIO_CHIP=$GPIO_CHIP
SBC_HIL_GPIO_LABEL=hil-gpio
SBC_HIL_GPIO_LINES=8
SBC_HIL_GPIO_INPUT=0
SBC_HIL_GPIO_OUTPUT=1
SBC_HIL_GPIO_INPUT2=2
SBC_HIL_GPIO_OUTPUT2=3
SBC_HIL_GPIO_NAMES=hil-in:0,hil-out:1,hil-in2:2,hil-out2:3
SBC_HIL_GPIO_SIM_DIR=/sys/devices/platform/$GPIO_DEV/$GPIO_CHIP
SBC_HIL_ALSA_LOOPBACK_PLAYBACK=hw:Loopback,0,0
SBC_HIL_ALSA_LOOPBACK_CAPTURE=hw:Loopback,1,0
SBC_HIL_ALSA_DUMMY=hw:Dummy
SBC_HIL_DAC_CARD=SimDac
SBC_HIL_DAC_PLAYBACK=hw:SimDac,0,0
SBC_HIL_DAC_CAPTURE=hw:SimDac,1,0
SBC_HIL_HOST_USR=/host/usr
SBC_HIL_HOST_LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu:$HIL_HOST_LIB_PATH
SBC_HIL_NET_IP=$HIL_NET_IP
SBC_HIL_HOSTNAME=$HIL_HOSTNAME
SBC_HIL_TIMESYNC_DIR=${HIL_TIMESYNC:+/host/timesync}
SBC_HIL_ROOMS=$HIL_ROOMS
EOF
for kv in $HIL_EXTRA_ENV; do echo "$kv" >> /tmp/hil.env; done
export SBC_HIL_ENV=/tmp/hil.env
echo "HIL-READY at $(cut -d' ' -f1 /proc/uptime) s: /dev/i2c-$I2C_BUS, /dev/$GPIO_CHIP ($GPIO_DEV), cards: $(sed -n 's/^ *[0-9]* \[\([^ ]*\) *\].*/\1/p' /proc/asound/cards | tr '\n' ' ')"

cd "$HIL_CHECKOUT" || fail_setup "checkout"
if [ -n "$HIL_NET_IP" ]; then
  # What the rooms test and agent read from their environment (only in the multi-room rig).
  export SBC_HIL_ROOMS="$HIL_ROOMS" SBC_HIL_HOSTNAME="$HIL_HOSTNAME" SBC_HIL_NET_IP="$HIL_NET_IP" SBC_HIL_TIMESYNC_DIR=${HIL_TIMESYNC:+/host/timesync}
  export SBC_HIL_HOST_LD_LIBRARY_PATH="/usr/lib/x86_64-linux-gnu:$HIL_HOST_LIB_PATH"
  for kv in $HIL_EXTRA_ENV; do export "$kv"; done
fi
if [ -n "$HIL_AGENT" ]; then
  # The room agent of the multi-room rig, beside the suite (its log goes to the console at the end).
  node --import tsx tests/hil/rooms/room-agent.ts > /tmp/room-agent.log 2>&1 &
fi
if [ -n "$HIL_GUEST_CMD" ]; then
  # Diagnostics (SBC_HIL_GUEST_CMD): run this command instead of the suite.
  sh -c "$HIL_GUEST_CMD"
  finish $?
fi
set -f # the spec globs are for mocha, not for this shell
grep_args=
[ -n "$HIL_GREP" ] && grep_args="--grep"
# mocha.js runs the suite in this process (it only re-spawns node for --node-option), so tsx is
# loaded with --import here.
if [ -n "$grep_args" ]; then
  node --import tsx node_modules/mocha/bin/mocha.js --no-config --no-package --require ./tests/support/isolate-state.cjs --timeout 60000 --reporter spec --no-color \
    --grep "$HIL_GREP" $HIL_SPEC
else
  node --import tsx node_modules/mocha/bin/mocha.js --no-config --no-package --require ./tests/support/isolate-state.cjs --timeout 60000 --reporter spec --no-color $HIL_SPEC
fi
finish $?
