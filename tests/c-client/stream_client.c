/*
 * A small C client of the sbc-audio stream protocol, written from docs/PROTOCOL.md and
 * docs/facts/stream-protocol.md only (no code of the TypeScript implementation): it shows the
 * wire format stands on its own.
 *
 * usage: stream_client ENDPOINT_SOCKET [GAIN_DB | --ring-buffer]
 *   connects, lists the format ranges (all GET_FORMATS pages), reads the gain, and with GAIN_DB
 *   sets it (GAIN_VALID | MUTE_VALID, unmuted) and reads it back. With --ring-buffer: SET_FORMAT
 *   48000 Hz 16-bit stereo, opens the ring-buffer channel with the token, STOP and START before
 *   GET_BUFFER (both BAD_STATE, R-RB-9 / R-RB-8), GET_FIFO_DEPTH, GET_BUFFER, START, waits for a
 *   POSITION_NOTIFY, STOP. Prints one fact per line.
 * Exit status: 0 success, 1 protocol or I/O failure, 2 usage.
 *
 * Build (the documented command; tests/unit/stream-c-client.test.ts runs exactly this):
 *   gcc -std=c11 -Wall -Wextra -Werror -pedantic -O2 -o stream_client tests/c-client/stream_client.c
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* Command codes and flags (wire facts). */
#define CMD_GET_FORMATS 0x1000u
#define CMD_GET_GAIN 0x1002u
#define CMD_SET_GAIN 0x1003u
#define CMD_GET_STRING 0x1006u
#define CMD_SET_FORMAT 0x1001u
#define CMD_RB_GET_FIFO_DEPTH 0x3000u
#define CMD_RB_GET_BUFFER 0x3001u
#define CMD_RB_START 0x3002u
#define CMD_RB_STOP 0x3003u
#define CMD_RB_POSITION_NOTIFY 0x4000u
#define SAMPLE_FORMAT_16BIT (1u << 2)
#define SGF_MUTE_VALID 0x1u
#define SGF_GAIN_VALID 0x4u
#define STR_ID_MANUFACTURER 0x80000000u
#define MAX_FRAME 4096u

/* The structs as the wire facts lay them out: little-endian, natural C alignment. This client
 * assumes a little-endian host (x86-64, aarch64), as the protocol's hosts are. */
struct header {
    uint32_t transaction_id;
    uint32_t cmd;
};
_Static_assert(sizeof(struct header) == 8, "header is 8 bytes");

struct format_range {
    uint32_t sample_formats;
    uint32_t min_frames_per_second;
    uint32_t max_frames_per_second;
    uint8_t min_channels;
    uint8_t max_channels;
    uint16_t flags;
};
_Static_assert(sizeof(struct format_range) == 16, "format range is 16 bytes");

struct get_formats_resp {
    struct header hdr;
    uint32_t pad;
    uint16_t format_range_count;
    uint16_t first_format_range_ndx;
    struct format_range format_ranges[15];
};
_Static_assert(sizeof(struct get_formats_resp) == 256, "GET_FORMATS response is 256 bytes");

struct get_gain_resp {
    struct header hdr;
    uint8_t cur_mute;
    uint8_t cur_agc;
    uint8_t pad0[2];
    float cur_gain;
    uint8_t can_mute;
    uint8_t can_agc;
    uint8_t pad1[2];
    float min_gain;
    float max_gain;
    float gain_step;
};
_Static_assert(sizeof(struct get_gain_resp) == 32, "GET_GAIN response is 32 bytes");

struct set_gain_req {
    struct header hdr;
    uint32_t flags;
    float gain;
};
_Static_assert(sizeof(struct set_gain_req) == 16, "SET_GAIN request is 16 bytes");

struct set_gain_resp {
    struct header hdr;
    int32_t result;
    uint8_t cur_mute;
    uint8_t cur_agc;
    uint8_t pad[2];
    float cur_gain;
};
_Static_assert(sizeof(struct set_gain_resp) == 20, "SET_GAIN response is 20 bytes");

struct get_string_req {
    struct header hdr;
    uint32_t id;
};
_Static_assert(sizeof(struct get_string_req) == 12, "GET_STRING request is 12 bytes");

struct get_string_resp {
    struct header hdr;
    int32_t result;
    uint32_t id;
    uint32_t strlen;
    uint8_t str[236];
};
_Static_assert(sizeof(struct get_string_resp) == 256, "GET_STRING response is 256 bytes");

struct set_format_req {
    struct header hdr;
    uint32_t frames_per_second;
    uint32_t sample_format;
    uint16_t channels;
    uint8_t pad[6];
    uint64_t channels_to_use_bitmask;
};
_Static_assert(sizeof(struct set_format_req) == 32, "SET_FORMAT request is 32 bytes");

/* The response and, on success, the 16-byte ring-buffer token in the same frame (R-FRAME-3). */
struct set_format_resp {
    struct header hdr;
    int32_t result;
    uint32_t pad;
    uint64_t external_delay_nsec;
    uint8_t token[16];
};
_Static_assert(sizeof(struct set_format_resp) == 40, "SET_FORMAT response + token is 40 bytes");

struct result_u32_resp { /* GET_FIFO_DEPTH, GET_BUFFER (the path follows on success) */
    struct header hdr;
    int32_t result;
    uint32_t value;
};
_Static_assert(sizeof(struct result_u32_resp) == 16, "GET_FIFO_DEPTH / GET_BUFFER response is 16 bytes");

struct get_buffer_req {
    struct header hdr;
    uint32_t min_ring_buffer_frames;
    uint32_t notifications_per_ring;
};
_Static_assert(sizeof(struct get_buffer_req) == 16, "GET_BUFFER request is 16 bytes");

struct start_resp {
    struct header hdr;
    int32_t result;
    uint32_t pad;
    uint64_t start_time;
};
_Static_assert(sizeof(struct start_resp) == 24, "START response is 24 bytes");

struct stop_resp {
    struct header hdr;
    int32_t result;
};
_Static_assert(sizeof(struct stop_resp) == 12, "STOP response is 12 bytes");

struct position_notify {
    struct header hdr;
    int64_t monotonic_time;
    uint32_t ring_buffer_pos;
    uint32_t pad;
};
_Static_assert(sizeof(struct position_notify) == 24, "POSITION_NOTIFY is 24 bytes");

static int fd = -1;
static uint32_t next_txid = 1;

static void die(const char *what) {
    fprintf(stderr, "stream_client: %s\n", what);
    exit(1);
}

static void write_all(const void *buf, size_t len) {
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) die("write failed");
        p += n;
        len -= (size_t)n;
    }
}

static void read_all(void *buf, size_t len) {
    uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = read(fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n == 0) die("the service closed the connection");
        if (n < 0) die("read failed");
        p += n;
        len -= (size_t)n;
    }
}

/* Framing (PROTOCOL.md R-FRAME-1): u32 LE length, then exactly that payload. */
static void send_frame(const void *payload, uint32_t len) {
    write_all(&len, sizeof len);
    write_all(payload, len);
}

/* Reads the next frame that is not a notification (transaction id 0); returns its length. */
static uint32_t recv_response(void *buf, uint32_t cap) {
    for (;;) {
        uint32_t len;
        read_all(&len, sizeof len);
        if (len < sizeof(struct header) || len > MAX_FRAME) die("bad frame length from the service");
        uint8_t tmp[MAX_FRAME];
        read_all(tmp, len);
        struct header h;
        memcpy(&h, tmp, sizeof h);
        if (h.transaction_id == 0) continue; /* a notification: not what we wait for */
        if (len > cap) die("response larger than expected");
        memcpy(buf, tmp, len);
        return len;
    }
}

static void expect(const struct header *h, uint32_t txid, uint32_t cmd) {
    if (h->transaction_id != txid || h->cmd != cmd) die("response does not echo the request's transaction id and command");
}

static void list_formats(void) {
    struct header req = { next_txid++, CMD_GET_FORMATS };
    send_frame(&req, sizeof req);
    unsigned got = 0, total = 0;
    do {
        struct get_formats_resp resp;
        memset(&resp, 0, sizeof resp);
        uint32_t len = recv_response(&resp, sizeof resp);
        if (len < 16) die("GET_FORMATS response shorter than 16 bytes");
        expect(&resp.hdr, req.transaction_id, CMD_GET_FORMATS);
        if (got == 0) total = resp.format_range_count;
        if (resp.format_range_count != total) die("GET_FORMATS pages disagree on the total");
        if (resp.first_format_range_ndx != got) die("GET_FORMATS page out of order");
        unsigned in_page = total - got < 15 ? total - got : 15;
        /* A page may be cut after its last valid range (R-FMT-1). */
        if (len < 16 + 16 * in_page) die("GET_FORMATS page too short for its ranges");
        for (unsigned i = 0; i < in_page; i++) {
            const struct format_range *r = &resp.format_ranges[i];
            printf("range %u sample_formats=0x%x min_fps=%u max_fps=%u min_channels=%u max_channels=%u flags=0x%x\n", got + i,
                   r->sample_formats, r->min_frames_per_second, r->max_frames_per_second, r->min_channels, r->max_channels, r->flags);
        }
        got += in_page;
    } while (got < total);
    printf("formats %u\n", total);
}

static void get_gain(void) {
    struct header req = { next_txid++, CMD_GET_GAIN };
    send_frame(&req, sizeof req);
    struct get_gain_resp resp;
    if (recv_response(&resp, sizeof resp) != sizeof resp) die("GET_GAIN response is not 32 bytes");
    expect(&resp.hdr, req.transaction_id, CMD_GET_GAIN);
    printf("gain cur=%.3f mute=%u can_mute=%u can_agc=%u min=%.3f max=%.3f step=%.3f\n", resp.cur_gain, resp.cur_mute, resp.can_mute,
           resp.can_agc, resp.min_gain, resp.max_gain, resp.gain_step);
}

static void set_gain(float db) {
    struct set_gain_req req = { { next_txid++, CMD_SET_GAIN }, SGF_GAIN_VALID | SGF_MUTE_VALID, db };
    send_frame(&req, sizeof req);
    struct set_gain_resp resp;
    if (recv_response(&resp, sizeof resp) != sizeof resp) die("SET_GAIN response is not 20 bytes");
    expect(&resp.hdr, req.hdr.transaction_id, CMD_SET_GAIN);
    printf("set_gain result=%d cur=%.3f mute=%u\n", resp.result, resp.cur_gain, resp.cur_mute);
}

static void manufacturer(void) {
    struct get_string_req req = { { next_txid++, CMD_GET_STRING }, STR_ID_MANUFACTURER };
    send_frame(&req, sizeof req);
    struct get_string_resp resp;
    if (recv_response(&resp, sizeof resp) != sizeof resp) die("GET_STRING response is not 256 bytes");
    expect(&resp.hdr, req.hdr.transaction_id, CMD_GET_STRING);
    if (resp.strlen > sizeof resp.str) die("GET_STRING strlen over 236");
    printf("manufacturer result=%d \"%.*s\"\n", resp.result, (int)resp.strlen, (const char *)resp.str);
}

static int connect_to(const char *p) {
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    strcpy(addr.sun_path, p); /* length checked in main */
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    if (s < 0 || connect(s, (struct sockaddr *)&addr, sizeof addr) != 0) die("cannot connect");
    return s;
}

/* A header-only ring-buffer request; returns the response's length (in buf). */
static uint32_t rb_call(uint32_t cmd, void *buf, uint32_t cap) {
    struct header req = { next_txid++, cmd };
    send_frame(&req, sizeof req);
    uint32_t len = recv_response(buf, cap);
    expect(buf, req.transaction_id, cmd);
    return len;
}

static void ring_buffer(const char *endpoint) {
    struct set_format_req sf;
    memset(&sf, 0, sizeof sf);
    sf.hdr.transaction_id = next_txid++;
    sf.hdr.cmd = CMD_SET_FORMAT;
    sf.frames_per_second = 48000;
    sf.sample_format = SAMPLE_FORMAT_16BIT;
    sf.channels = 2;
    send_frame(&sf, sizeof sf);
    struct set_format_resp sfr;
    uint32_t len = recv_response(&sfr, sizeof sfr);
    expect(&sfr.hdr, sf.hdr.transaction_id, CMD_SET_FORMAT);
    printf("set_format result=%d external_delay_nsec=%llu\n", sfr.result, (unsigned long long)sfr.external_delay_nsec);
    if (sfr.result != 0 || len != sizeof sfr) die("SET_FORMAT failed or carried no token");
    int stream_fd = fd;
    fd = connect_to(endpoint); /* the ring-buffer channel: the token is its first frame (R-RB-1) */
    send_frame(sfr.token, sizeof sfr.token);
    struct stop_resp st;
    if (rb_call(CMD_RB_STOP, &st, sizeof st) != sizeof st) die("STOP response is not 12 bytes");
    printf("stop_before_buffer result=%d\n", st.result);
    struct start_resp sr;
    if (rb_call(CMD_RB_START, &sr, sizeof sr) != sizeof sr) die("START response is not 24 bytes");
    printf("start_before_buffer result=%d\n", sr.result);
    struct result_u32_resp fifo;
    if (rb_call(CMD_RB_GET_FIFO_DEPTH, &fifo, sizeof fifo) != sizeof fifo) die("GET_FIFO_DEPTH response is not 16 bytes");
    printf("fifo_depth result=%d bytes=%u\n", fifo.result, fifo.value);
    struct get_buffer_req gb = { { next_txid++, CMD_RB_GET_BUFFER }, 4800, 4 };
    send_frame(&gb, sizeof gb);
    uint8_t gbr[MAX_FRAME];
    len = recv_response(gbr, sizeof gbr);
    struct result_u32_resp gbh;
    memcpy(&gbh, gbr, sizeof gbh);
    expect(&gbh.hdr, gb.hdr.transaction_id, CMD_RB_GET_BUFFER);
    printf("get_buffer result=%d frames=%u path=%s\n", gbh.result, gbh.value, len > sizeof gbh && memcmp(gbr + sizeof gbh, "/dev/shm/", 9) == 0 ? "/dev/shm/..." : "none");
    if (rb_call(CMD_RB_START, &sr, sizeof sr) != sizeof sr) die("START response is not 24 bytes");
    printf("start result=%d start_time_nonzero=%d\n", sr.result, sr.start_time != 0);
    for (;;) { /* the next POSITION_NOTIFY (transaction id 0) */
        uint32_t n;
        read_all(&n, sizeof n);
        if (n < sizeof(struct header) || n > MAX_FRAME) die("bad frame length from the service");
        uint8_t tmp[MAX_FRAME];
        read_all(tmp, n);
        struct position_notify pn;
        if (n != sizeof pn) continue;
        memcpy(&pn, tmp, sizeof pn);
        if (pn.hdr.transaction_id != 0 || pn.hdr.cmd != CMD_RB_POSITION_NOTIFY) continue;
        printf("position pos=%u after_start=%d\n", pn.ring_buffer_pos, (uint64_t)pn.monotonic_time >= sr.start_time);
        break;
    }
    if (rb_call(CMD_RB_STOP, &st, sizeof st) != sizeof st) die("STOP response is not 12 bytes");
    printf("stop result=%d\n", st.result);
    close(fd);
    fd = stream_fd;
}

int main(int argc, char **argv) {
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: stream_client ENDPOINT_SOCKET [GAIN_DB | --ring-buffer]\n");
        return 2;
    }
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    if (strlen(argv[1]) >= sizeof addr.sun_path) {
        fprintf(stderr, "stream_client: socket path too long\n");
        return 2;
    }
    strcpy(addr.sun_path, argv[1]);
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) die("cannot connect");
    manufacturer();
    list_formats();
    get_gain();
    if (argc == 3 && strcmp(argv[2], "--ring-buffer") == 0) {
        ring_buffer(argv[1]);
    } else if (argc == 3) {
        set_gain(strtof(argv[2], NULL));
        get_gain();
    }
    close(fd);
    return 0;
}
