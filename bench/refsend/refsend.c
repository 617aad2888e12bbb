// refsend: the machine's limit for serving BitTorrent blocks, as a measuring tool (issue 14). It does the work a
// seeder must do for a downloading peer and nothing else: accept, answer the 68-byte handshake and unchoke, read
// requests, and answer each with a piece message whose 13-byte header and block leave together in one gathered
// sendmsg straight from a read-only mapping of the content. No choking, limits, metrics, verification or policy.
// One single-file torrent; every request inside the file is served. Each worker thread has its own SO_REUSEPORT
// listening socket and epoll loop, so the kernel spreads connections across threads.
//
// usage: refsend --file PATH --piece-length N --info-hash HEX40 --listen IP:PORT [--threads N] [--seconds S]
// Prints "LISTENING port=P" once every worker listens; exits after --seconds (default 3600) or on SIGTERM/SIGINT.

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define HANDSHAKE 68
#define RECV_BUFFER (64 * 1024)
#define MAX_QUEUED 512          // requests queued per connection (clients keep at most a few hundred in flight)
#define MAX_BLOCK (128 * 1024)  // what any client asks for in one request
#define BATCH 64                // requests gathered into one sendmsg (128 iovecs)

struct request { uint32_t index, begin, length; };

struct conn {
    int fd;
    int handshaken;
    int want_out;
    size_t received;
    uint8_t in[RECV_BUFFER];
    struct request queue[MAX_QUEUED];
    int head, count;
    size_t sent_of_head;  // bytes of the head request's message (header + block) already sent
    uint8_t headers[MAX_QUEUED][13];
};

static const uint8_t *content;
static uint64_t content_length;
static uint32_t piece_length;
static uint8_t info_hash[20];
static struct sockaddr_in listen_address;
static volatile sig_atomic_t stopping;

static void fail(const char *what) { perror(what); exit(1); }

static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static void put32(uint8_t *p, uint32_t v) { p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v; }

static void drop(int epoll, struct conn *c) {
    epoll_ctl(epoll, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c);
}

static void set_out(int epoll, struct conn *c, int want) {
    if (c->want_out == want) return;
    c->want_out = want;
    struct epoll_event ev = { .events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = c };
    epoll_ctl(epoll, EPOLL_CTL_MOD, c->fd, &ev);
}

// Sends queued piece messages, up to BATCH requests per sendmsg. Returns -1 when the connection failed.
static int flush(int epoll, struct conn *c) {
    while (c->count > 0) {
        struct iovec iov[2 * BATCH];
        int n = 0;
        size_t skip = c->sent_of_head;
        for (int i = 0; i < c->count && i < BATCH; i++) {
            int slot = (c->head + i) % MAX_QUEUED;
            struct request *r = &c->queue[slot];
            uint8_t *h = c->headers[slot];
            put32(h, 9 + r->length);
            h[4] = 7;
            put32(h + 5, r->index);
            put32(h + 9, r->begin);
            const uint8_t *block = content + (uint64_t)r->index * piece_length + r->begin;
            size_t hs = 13, bs = r->length;
            if (i == 0 && skip > 0) {
                if (skip < 13) { iov[n++] = (struct iovec){ h + skip, 13 - skip }; iov[n++] = (struct iovec){ (void *)block, bs }; }
                else iov[n++] = (struct iovec){ (void *)(block + (skip - 13)), bs - (skip - 13) };
                continue;
            }
            iov[n++] = (struct iovec){ h, hs };
            iov[n++] = (struct iovec){ (void *)block, bs };
        }
        struct msghdr msg = { .msg_iov = iov, .msg_iovlen = n };
        ssize_t sent = sendmsg(c->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (sent < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) { set_out(epoll, c, 1); return 0; }
            if (errno == EINTR) continue;
            return -1;
        }
        size_t left = (size_t)sent + c->sent_of_head;
        c->sent_of_head = 0;
        while (c->count > 0) {
            size_t whole = 13 + c->queue[c->head].length;
            if (left < whole) { c->sent_of_head = left; break; }
            left -= whole;
            c->head = (c->head + 1) % MAX_QUEUED;
            c->count--;
        }
        if (c->count > 0 && c->sent_of_head > 0) { set_out(epoll, c, 1); return 0; }
    }
    set_out(epoll, c, 0);
    return 0;
}

// Parses what arrived: the handshake, then length-prefixed messages; queues requests. -1 on a protocol error.
static int parse(struct conn *c) {
    size_t at = 0;
    if (!c->handshaken) {
        if (c->received < HANDSHAKE) return 0;
        if (c->in[0] != 19 || memcmp(c->in + 1, "BitTorrent protocol", 19) != 0 || memcmp(c->in + 28, info_hash, 20) != 0) return -1;
        uint8_t reply[HANDSHAKE + 5];
        reply[0] = 19;
        memcpy(reply + 1, "BitTorrent protocol", 19);
        memset(reply + 20, 0, 8);
        memcpy(reply + 28, info_hash, 20);
        memcpy(reply + 48, "-RS0001-refsendrefse", 20);
        put32(reply + HANDSHAKE, 1);
        reply[HANDSHAKE + 4] = 1; // unchoke
        if (send(c->fd, reply, sizeof reply, MSG_NOSIGNAL) != (ssize_t)sizeof reply) return -1;
        c->handshaken = 1;
        at = HANDSHAKE;
    }
    while (c->received - at >= 4) {
        uint32_t length = be32(c->in + at);
        if (length > RECV_BUFFER - 4) return -1;
        if (c->received - at < 4 + length) break;
        const uint8_t *m = c->in + at + 4;
        if (length == 13 && m[0] == 6) {
            struct request r = { be32(m + 1), be32(m + 5), be32(m + 9) };
            uint64_t start = (uint64_t)r.index * piece_length + r.begin;
            if (r.length == 0 || r.length > MAX_BLOCK || r.begin + (uint64_t)r.length > piece_length || start + r.length > content_length) return -1;
            if (c->count == MAX_QUEUED) return -1;
            c->queue[(c->head + c->count) % MAX_QUEUED] = r;
            c->count++;
        }
        at += 4 + length;
    }
    memmove(c->in, c->in + at, c->received - at);
    c->received -= at;
    return 0;
}

static void *worker(void *arg) {
    (void)arg;
    int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(listener, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (bind(listener, (struct sockaddr *)&listen_address, sizeof listen_address) != 0) fail("bind");
    if (listen(listener, 4096) != 0) fail("listen");
    int epoll = epoll_create1(0);
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
    epoll_ctl(epoll, EPOLL_CTL_ADD, listener, &ev);
    struct epoll_event events[256];
    while (!stopping) {
        int n = epoll_wait(epoll, events, 256, 200);
        for (int i = 0; i < n; i++) {
            struct conn *c = events[i].data.ptr;
            if (c == NULL) {
                for (;;) {
                    int fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK);
                    if (fd < 0) break;
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    struct conn *fresh = calloc(1, sizeof *fresh);
                    if (fresh == NULL) { close(fd); continue; }
                    fresh->fd = fd;
                    struct epoll_event add = { .events = EPOLLIN, .data.ptr = fresh };
                    epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &add);
                }
                continue;
            }
            if (events[i].events & (EPOLLERR | EPOLLHUP)) { drop(epoll, c); continue; }
            if (events[i].events & EPOLLIN) {
                ssize_t got = recv(c->fd, c->in + c->received, RECV_BUFFER - c->received, MSG_DONTWAIT);
                if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) { drop(epoll, c); continue; }
                if (got > 0) {
                    c->received += (size_t)got;
                    if (parse(c) != 0) { drop(epoll, c); continue; }
                }
            }
            if (c->count > 0 && flush(epoll, c) != 0) { drop(epoll, c); continue; }
        }
    }
    close(listener);
    return NULL;
}

static int hex(char ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

static void on_signal(int s) { (void)s; stopping = 1; }

int main(int argc, char **argv) {
    const char *file = NULL, *hash = NULL, *listen_at = "127.0.0.1:0";
    int threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
    double seconds = 3600;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--file")) file = argv[i + 1];
        else if (!strcmp(argv[i], "--piece-length")) piece_length = (uint32_t)strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--info-hash")) hash = argv[i + 1];
        else if (!strcmp(argv[i], "--listen")) listen_at = argv[i + 1];
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--seconds")) seconds = atof(argv[i + 1]);
        else { fprintf(stderr, "unknown argument %s\n", argv[i]); return 2; }
    }
    if (file == NULL || hash == NULL || strlen(hash) != 40 || piece_length == 0 || threads < 1) {
        fprintf(stderr, "usage: refsend --file PATH --piece-length N --info-hash HEX40 --listen IP:PORT [--threads N] [--seconds S]\n");
        return 2;
    }
    for (int i = 0; i < 20; i++) {
        int hi = hex(hash[2 * i]), lo = hex(hash[2 * i + 1]);
        if (hi < 0 || lo < 0) { fprintf(stderr, "bad info-hash\n"); return 2; }
        info_hash[i] = (uint8_t)(hi << 4 | lo);
    }
    char host[64];
    const char *colon = strrchr(listen_at, ':');
    if (colon == NULL || (size_t)(colon - listen_at) >= sizeof host) { fprintf(stderr, "bad --listen\n"); return 2; }
    memcpy(host, listen_at, (size_t)(colon - listen_at));
    host[colon - listen_at] = 0;
    listen_address.sin_family = AF_INET;
    listen_address.sin_port = htons((uint16_t)atoi(colon + 1));
    if (inet_pton(AF_INET, host, &listen_address.sin_addr) != 1) { fprintf(stderr, "bad --listen address\n"); return 2; }
    if (listen_address.sin_port == 0) {
        // Workers share one port: pick it once.
        int probe = socket(AF_INET, SOCK_STREAM, 0);
        int one = 1;
        setsockopt(probe, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
        if (bind(probe, (struct sockaddr *)&listen_address, sizeof listen_address) != 0) fail("bind");
        socklen_t len = sizeof listen_address;
        getsockname(probe, (struct sockaddr *)&listen_address, &len);
        close(probe);
    }

    int fd = open(file, O_RDONLY);
    if (fd < 0) fail(file);
    struct stat st;
    if (fstat(fd, &st) != 0) fail("fstat");
    content_length = (uint64_t)st.st_size;
    content = mmap(NULL, content_length, PROT_READ, MAP_SHARED, fd, 0);
    if (content == MAP_FAILED) fail("mmap");

    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGPIPE, SIG_IGN);
    pthread_t *ids = calloc((size_t)threads, sizeof *ids);
    for (int i = 0; i < threads; i++) pthread_create(&ids[i], NULL, worker, NULL);
    usleep(100 * 1000);
    printf("LISTENING port=%d threads=%d\n", ntohs(listen_address.sin_port), threads);
    fflush(stdout);
    struct timespec begin, now;
    clock_gettime(CLOCK_MONOTONIC, &begin);
    while (!stopping) {
        usleep(100 * 1000);
        clock_gettime(CLOCK_MONOTONIC, &now);
        if ((double)(now.tv_sec - begin.tv_sec) + (now.tv_nsec - begin.tv_nsec) / 1e9 > seconds) stopping = 1;
    }
    for (int i = 0; i < threads; i++) pthread_join(ids[i], NULL);
    return 0;
}
