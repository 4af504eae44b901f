/*
 * A small C client of the sbc-audio stream protocol, written from docs/PROTOCOL.md and
 * docs/facts/stream-protocol.md only (no code of the TypeScript implementation): it shows the
 * wire format stands on its own.
 *
 * usage: stream_client ENDPOINT_SOCKET [GAIN_DB]
 *   connects, lists the format ranges (all GET_FORMATS pages), reads the gain, and with GAIN_DB
 *   sets it (GAIN_VALID | MUTE_VALID, unmuted) and reads it back. Prints one fact per line.
 * Exit status: 0 success, 1 protocol or I/O failure, 2 usage.
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

int main(int argc, char **argv) {
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: stream_client ENDPOINT_SOCKET [GAIN_DB]\n");
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
    if (argc == 3) {
        set_gain(strtof(argv[2], NULL));
        get_gain();
    }
    close(fd);
    return 0;
}
