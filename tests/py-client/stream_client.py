#!/usr/bin/env python3
"""A client of the sbc-audio stream protocol in Python (standard library only), written from
docs/PROTOCOL.md and docs/facts/stream-protocol.md alone.

usage: stream_client.py RUNTIME_DIR BOARD STREAM [--json] [--gain=DB]

Negotiates with audio-output/BOARD.STREAM: sets its gain to 0 dB (or --gain=DB, a negative
control) unmuted (SET_GAIN), SET_FORMAT
48000 Hz 16-bit stereo, opens the ring-buffer channel with the token, maps the shared buffer and
writes a tone into it. Records the simulated analog output over the monitor endpoint
audio-input/BOARD.STREAM.monitor (16-bit stereo 48 kHz), then plays the tone. Frame k of the
monitor is what the output carried at monitor_start_time - external_delay + k / rate (PROTOCOL.md,
"Monitor endpoints"); frame n of the output is played at output_start_time + n / rate (R-RB-11).
So the tone is expected at monitor frame
    round((output_start - monitor_start + monitor_delay) * rate / 1e9) + n,
plus the codec's own delay (SET_FORMAT's external_delay_nsec, minus the board's analog part that
is not whole frames): the client searches a few frames around the prediction for the exact samples.

Prints one JSON object (--json) or lines: the lag found, its distance from the prediction,
whether every sample of the tone came back exactly, and the underruns the service reported while
it played (EXT_RB_ERROR: a machine too busy to run the engine in time). Exit status 0 if every
sample came back, 1 if not, 2 usage.
"""
import json
import math
import mmap
import os
import socket
import struct
import sys
import time

# Wire facts (docs/facts/stream-protocol.md)
GET_FORMATS, SET_FORMAT, GET_GAIN, SET_GAIN = 0x1000, 0x1001, 0x1002, 0x1003
RB_GET_FIFO_DEPTH, RB_GET_BUFFER, RB_START, RB_STOP, RB_POSITION_NOTIFY = 0x3000, 0x3001, 0x3002, 0x3003, 0x4000
SAMPLE_FORMAT_16BIT = 1 << 2
MUTE_VALID, GAIN_VALID = 0x1, 0x4
# Extensions (docs/PROTOCOL.md section 10): error notifications on the ring-buffer channel.
EXT_RB_NOTIFY, EXT_RB_ERROR, NOTIFY_ENABLE = 0xE100, 0xE101, 0x40000000
OK = 0
RATE, CHANNELS, FRAME_BYTES = 48000, 2, 4


class ProtocolError(Exception):
    pass


class Channel:
    """One connection: frames are a u32 LE length then the message (R-FRAME-1)."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(20.0)  # the first ring-buffer answer waits for the engine (section 3)
        self.sock.connect(path)
        self.txid = 1
        self.buf = b""
        self.rb_errors = 0  # EXT_RB_ERROR notifications seen (section 10, R-EXT-5)

    def send_frame(self, payload):
        self.sock.sendall(struct.pack("<I", len(payload)) + payload)

    def read_frame(self):
        while True:
            if len(self.buf) >= 4:
                (n,) = struct.unpack_from("<I", self.buf)
                if n < 8 or n > 4096:
                    raise ProtocolError("frame length %d from the service" % n)
                if len(self.buf) >= 4 + n:
                    f = self.buf[4:4 + n]
                    self.buf = self.buf[4 + n:]
                    return f
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ProtocolError("the service closed the channel")
            self.buf += chunk

    def call(self, cmd, body=b""):
        """Sends a request; returns the first response frame (notifications, txid 0, are skipped)."""
        txid = self.txid
        self.txid += 1
        self.send_frame(struct.pack("<II", txid, cmd) + body)
        while True:
            f = self.read_frame()
            rtx, rcmd = struct.unpack_from("<II", f)
            if rtx == 0:
                if rcmd == EXT_RB_ERROR:
                    self.rb_errors += 1
                continue
            if rtx != txid or rcmd != cmd:
                raise ProtocolError("answer txid %d cmd 0x%x to request txid %d cmd 0x%x" % (rtx, rcmd, txid, cmd))
            return f

    def close(self):
        self.sock.close()


def set_format(stream, fps, fmt, channels):
    f = stream.call(SET_FORMAT, struct.pack("<IIH6xQ", fps, fmt, channels, 0))
    result, delay = struct.unpack_from("<i4xQ", f, 8)
    if result != OK or len(f) != 40:
        raise ProtocolError("SET_FORMAT %d Hz: result %d" % (fps, result))
    return delay, f[24:40]


def open_ring_buffer(path, token, min_frames):
    rb = Channel(path)
    rb.send_frame(token)  # the token is the ring-buffer channel's first frame (R-RB-1)
    f = rb.call(RB_GET_FIFO_DEPTH)
    result, fifo = struct.unpack_from("<iI", f, 8)
    if result != OK:
        raise ProtocolError("GET_FIFO_DEPTH: result %d" % result)
    f = rb.call(RB_GET_BUFFER, struct.pack("<II", min_frames, 0))
    result, frames = struct.unpack_from("<iI", f, 8)
    if result != OK:
        raise ProtocolError("GET_BUFFER: result %d" % result)
    shm_path = f[16:].decode("utf-8")
    fd = os.open(shm_path, os.O_RDWR)
    try:
        mem = mmap.mmap(fd, frames * FRAME_BYTES, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
    finally:
        os.close(fd)
    return rb, mem, frames, fifo


def start(rb):
    f = rb.call(RB_START)
    result, start_time = struct.unpack_from("<i4xQ", f, 8)
    if result != OK:
        raise ProtocolError("START: result %d" % result)
    return start_time


def stop(rb):
    (result,) = struct.unpack_from("<i", rb.call(RB_STOP), 8)
    if result != OK:
        raise ProtocolError("STOP: result %d" % result)


def tone(frames):
    """A 997 Hz tone at -6 dBFS, left; the same an octave lower, right (S16 interleaved)."""
    out = []
    for n in range(frames):
        out.append(int(round(16384 * math.sin(2 * math.pi * 997 * n / RATE))))
        out.append(int(round(16384 * math.sin(2 * math.pi * 498.5 * n / RATE))))
    return out


def main(argv):
    args = [a for a in argv[1:] if not a.startswith("--")]
    as_json = "--json" in argv[1:]
    gain_db = 0.0
    for a in argv[1:]:
        if a.startswith("--gain="):
            gain_db = float(a[len("--gain="):])
    if len(args) != 3:
        sys.stderr.write("usage: stream_client.py RUNTIME_DIR BOARD STREAM [--json] [--gain=DB]\n")
        return 2
    runtime_dir, board, stream_id = args
    out_path = os.path.join(runtime_dir, "audio-output", "%s.%s" % (board, stream_id))
    mon_path = os.path.join(runtime_dir, "audio-input", "%s.%s.monitor" % (board, stream_id))

    out = Channel(out_path)
    # Gain 0 dB, unmuted (the gain is written before the unmute, R-GAIN-5).
    f = out.call(SET_GAIN, struct.pack("<If", GAIN_VALID | MUTE_VALID, gain_db))
    result, cur_mute, _agc, cur_gain = struct.unpack_from("<iBBxxf", f, 8)
    if result != OK or cur_mute != 0 or cur_gain != gain_db:
        raise ProtocolError("SET_GAIN 0 dB unmuted: result %d, gain %r, mute %d" % (result, cur_gain, cur_mute))
    out_delay, out_token = set_format(out, RATE, SAMPLE_FORMAT_16BIT, CHANNELS)
    tone_frames = RATE // 2
    lead = RATE // 10  # 100 ms of silence before the tone, so its start is unambiguous
    out_rb, out_mem, out_frames, _ = open_ring_buffer(out_path, out_token, lead + tone_frames + RATE // 2)
    played = tone(tone_frames)
    out_mem[lead * FRAME_BYTES:(lead + tone_frames) * FRAME_BYTES] = struct.pack("<%dh" % len(played), *played)

    mon = Channel(mon_path)
    mon.call(0x1007)  # any request first: this channel takes part in ownership (R-OWN-1)
    mon_delay, mon_token = set_format(mon, RATE, SAMPLE_FORMAT_16BIT, CHANNELS)
    record_frames = 2 * RATE
    mon_rb, mon_mem, mon_frames, _ = open_ring_buffer(mon_path, mon_token, record_frames)

    # Underruns reported (R-EXT-5): a machine too busy to run the engine in time drops frames,
    # and then the recording cannot be the samples played; the report says so.
    (result,) = struct.unpack_from("<i", out_rb.call(EXT_RB_NOTIFY, struct.pack("<I", NOTIFY_ENABLE)), 8)
    if result != OK:
        raise ProtocolError("EXT_RB_NOTIFY: result %d" % result)
    # The same on the monitor: an overrun there (its reader late) shifts what it recorded.
    (result,) = struct.unpack_from("<i", mon_rb.call(EXT_RB_NOTIFY, struct.pack("<I", NOTIFY_ENABLE)), 8)
    if result != OK:
        raise ProtocolError("EXT_RB_NOTIFY (monitor): result %d" % result)
    mon_start = start(mon_rb)
    out_start = start(out_rb)
    # Everything written before START is played once: the ring is longer than what plays before
    # STOP, so nothing wraps. Wait until the monitor holds the tone and a little more.
    need_ns = out_start + (lead + tone_frames + RATE // 10) * 1e9 / RATE - mon_start + mon_delay
    while time.monotonic_ns() - mon_start < need_ns + 50e6:
        time.sleep(0.02)
    stop(out_rb)
    stop(mon_rb)
    got = struct.unpack("<%dh" % (mon_frames * CHANNELS), mon_mem[:mon_frames * FRAME_BYTES])

    predicted = int(round((out_start - mon_start + mon_delay) * RATE / 1e9)) + lead
    n = len(played)
    found = None
    for d in range(0, 129):
        for lag in ((predicted + d,) if d == 0 else (predicted + d, predicted - d)):
            if lag < 0 or (lag * CHANNELS + n) > len(got):
                continue
            if list(got[lag * CHANNELS:lag * CHANNELS + n]) == played:
                found = lag
                break
        if found is not None:
            break
    mismatches = None
    if found is None:
        seg = got[predicted * CHANNELS:predicted * CHANNELS + n] if predicted >= 0 else ()
        mismatches = sum(1 for a, b in zip(seg, played) if a != b)
    report = {
        "outputStartTime": out_start, "monitorStartTime": mon_start,
        "outputExternalDelayNs": out_delay, "monitorExternalDelayNs": mon_delay,
        "gainDb": gain_db, "toneFrames": tone_frames, "predictedFrame": predicted,
        "foundFrame": found, "framesAfterPrediction": None if found is None else found - predicted,
        "exact": found is not None, "mismatchesAtPrediction": mismatches,
        "underrunsReported": out_rb.rb_errors,
        "monitorErrorsReported": mon_rb.rb_errors,
    }
    for m in (out_mem, mon_mem):
        m.close()
    for c in (out_rb, mon_rb, out, mon):
        c.close()
    if as_json:
        print(json.dumps(report))
    else:
        for k, v in report.items():
            print("%s %s" % (k, v))
    return 0 if found is not None else 1


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except (ProtocolError, OSError) as e:
        sys.stderr.write("stream_client.py: %s\n" % e)
        sys.exit(1)
