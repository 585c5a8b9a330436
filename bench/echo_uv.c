/* echo_uv.c - the libuv baseline of bench sections 14 and 16: an echo
 * server as a libuv user writes it when speed matters.
 *
 *   echo_uv PORT      (0: the kernel picks; the port is printed first)
 *
 * alloc_cb hands out one static 64 KiB buffer (issue 4: a fresh 64 KiB
 * buffer per read ran at half speed), read_cb echoes with uv_try_write
 * and falls back to a queued uv_write of a copy only for what did not
 * fit.  Runs until SIGTERM or SIGINT.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "bench_net.h"

static char rbuf[65536];
static uv_loop_t *loop;
static uv_tcp_t server;
static uv_signal_t sigs[2];

struct wreq {
    uv_write_t req;
    uv_buf_t buf;
};

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    (void)h, (void)hint;
    *b = uv_buf_init(rbuf, sizeof rbuf);
}

static void close_cb(uv_handle_t *h)
{
    free(h);
}

static void write_cb(uv_write_t *req, int status)
{
    struct wreq *w = (struct wreq *)req;
    if (status < 0)
        uv_close((uv_handle_t *)req->handle, close_cb);
    free(w->buf.base);
    free(w);
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    if (n < 0) {
        uv_close((uv_handle_t *)s, close_cb);
        return;
    }
    if (n == 0)
        return;
    uv_buf_t out = uv_buf_init(b->base, (unsigned)n);
    int r = uv_try_write(s, &out, 1);
    if (r == n)
        return;
    if (r < 0 && r != UV_EAGAIN) {
        uv_close((uv_handle_t *)s, close_cb);
        return;
    }
    size_t done = r > 0 ? (size_t)r : 0;
    struct wreq *w = malloc(sizeof *w);
    char *copy = malloc((size_t)n - done);
    if (w == NULL || copy == NULL) {
        free(w), free(copy);
        uv_close((uv_handle_t *)s, close_cb);
        return;
    }
    memcpy(copy, b->base + done, (size_t)n - done);
    w->buf = uv_buf_init(copy, (unsigned)((size_t)n - done));
    uv_write(&w->req, s, &w->buf, 1, write_cb);
}

static void on_conn(uv_stream_t *ls, int status)
{
    if (status < 0)
        return;
    uv_tcp_t *c = malloc(sizeof *c);
    if (c == NULL)
        return;
    uv_tcp_init(loop, c);
    if (uv_accept(ls, (uv_stream_t *)c) == 0)
        uv_read_start((uv_stream_t *)c, alloc_cb, read_cb);
    else
        uv_close((uv_handle_t *)c, close_cb);
}

static void walk_close(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, h->type == UV_TCP && h != (uv_handle_t *)&server
                        ? close_cb
                        : NULL);
}

static void on_signal(uv_signal_t *h, int signo)
{
    (void)h, (void)signo;
    uv_walk(loop, walk_close, NULL);
}

int main(int argc, char **argv)
{
    /* the listener is made as the other servers make theirs, then adopted */
    int fd = bench_listen(argc > 1 ? atoi(argv[1]) : 0);
    if (fd < 0)
        return 1;
    loop = uv_default_loop();
    uv_tcp_init(loop, &server);
    if (uv_tcp_open(&server, fd) != 0 ||
        uv_listen((uv_stream_t *)&server, SOMAXCONN, on_conn) != 0) {
        fprintf(stderr, "echo_uv: listen failed\n");
        return 1;
    }
    uv_signal_init(loop, &sigs[0]);
    uv_signal_init(loop, &sigs[1]);
    uv_signal_start(&sigs[0], on_signal, SIGINT);
    uv_signal_start(&sigs[1], on_signal, SIGTERM);
    uv_run(loop, UV_RUN_DEFAULT);
    return uv_loop_close(loop) == 0 ? 0 : 1;
}
