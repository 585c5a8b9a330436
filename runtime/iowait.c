/* iowait.c - await acx_wait_readable(fd) / acx_wait_writable(fd): asyncio's
 * add_reader/add_writer in awaitable form, on the poller's fd watches.
 *
 * The leaf's frame holds the watch, so waiting allocates nothing beyond
 * the boxed frame.  The watch lives exactly as long as the wait: the
 * first readiness report (or ERR/HUP, which the caller's read or write
 * then reveals) removes it and readies the task; an interrupt removes it
 * through the cancel method.  While parked the wait counts in the loop's
 * `external` (the kernel ends it, so it is no stall).
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>

#include "acx_internal.h"

struct fdwait_frame {
    ACX__FRAME_PREFIX;
    int acx__ret;
    acx_task *self;
    acx__io io; /* io.fd and io.events are set by the constructor */
};

static struct fdwait_frame *fdwait_of(acx__io *io)
{
    return (struct fdwait_frame *)(void *)
        ((char *)io - offsetof(struct fdwait_frame, io));
}

/* Stop waiting: the watch goes and the loop may stall again. */
static void fdwait_unpark(struct fdwait_frame *f, int ret)
{
    acx__io_remove(&acx__loop_cur->poll, &f->io);
    acx__loop_cur->external--;
    f->acx__ret = ret;
}

static void fdwait_ready(acx__io *io, uint32_t revents)
{
    struct fdwait_frame *f = fdwait_of(io);
    (void)revents; /* ERR and HUP too: the caller's I/O call says which */
    fdwait_unpark(f, 0);
    acx__ready(f->self);
}

static int fdwait_body(acx_coro *c)
{
    struct fdwait_frame *f = (struct fdwait_frame *)c;
    if (f->acx__state != 0)
        return ACX__DONE; /* the ready callback or the cancel set ret */
    if ((f->acx__ret = acx__intr_check()) != 0)
        return ACX__DONE;
    if (f->io.fd < 0) {
        f->acx__ret = -EBADF;
        return ACX__DONE;
    }
    f->io.cb = fdwait_ready;
    f->io.gen = 0;
    int err = acx__io_add(&acx__loop_cur->poll, &f->io);
    if (err) {
        f->acx__ret = err;
        return ACX__DONE;
    }
    f->self = acx__cur_task;
    acx__loop_cur->external++;
    f->acx__state = 1;
    acx__cur_task->top = c;
    return ACX__SUSPEND;
}

static int fdwait_cancel(acx_coro *c, int err)
{
    fdwait_unpark((struct fdwait_frame *)c, err);
    return 1;
}

static int fdwait_describe(const acx_coro *c, char *buf, size_t size)
{
    const struct fdwait_frame *f = (const struct fdwait_frame *)c;
    return snprintf(buf, size, "fd %d %s", f->io.fd,
                    f->io.events & ACX__IO_OUT ? "writable" : "readable");
}

static int fdwait_result(const acx_coro *c)
{
    return ((const struct fdwait_frame *)c)->acx__ret;
}

#define FDWAIT_INFO(fname)                                                 \
    {                                                                      \
        .body = fdwait_body, .name = fname, .file = "<runtime>",           \
        .size = sizeof(struct fdwait_frame),                               \
        .ret_offset = offsetof(struct fdwait_frame, acx__ret),             \
        .ret_size = sizeof(int), .result_int = fdwait_result,              \
        .align = _Alignof(struct fdwait_frame), .cancel = fdwait_cancel,   \
        .describe = fdwait_describe,                                       \
    }

static const acx__info readable_info = FDWAIT_INFO("acx_wait_readable");
static const acx__info writable_info = FDWAIT_INFO("acx_wait_writable");

static acx_coro *fdwait_new(const acx__info *info, int fd, uint32_t events)
{
    struct fdwait_frame *f =
        (struct fdwait_frame *)(void *)acx__coro_alloc(sizeof *f, info);
    if (f == NULL)
        return NULL;
    f->acx__ret = 0;
    f->io.fd = fd;
    f->io.events = events;
    f->io.gen = 0;
    return &f->acx__hdr;
}

acx_coro *acx_wait_readable(int fd)
{
    return fdwait_new(&readable_info, fd, ACX__IO_IN);
}

acx_coro *acx_wait_writable(int fd)
{
    return fdwait_new(&writable_info, fd, ACX__IO_OUT);
}
