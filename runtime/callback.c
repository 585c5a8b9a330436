/* callback.c - plain callbacks on the loop: call_soon, call_later,
 * call_at, each a callback timer on the loop's heap (call_soon's deadline
 * is 0, so those run first, in the order they were made).
 */
#include <errno.h>
#include <stdlib.h>

#include "acx_internal.h"

struct acx_handle {
    acx__cbtimer timer; /* first: the timer is the handle */
    void (*fn)(void *);
    void *arg;
};

static void handle_fire(acx__cbtimer *c)
{
    acx_handle *h = (acx_handle *)c;
    void (*fn)(void *) = h->fn;
    void *arg = h->arg;
    free(h); /* before the call, which may make new handles */
    fn(arg);
}

acx_handle *acx_call_at(int64_t when_ns, void (*fn)(void *), void *arg)
{
    if (acx__loop_cur == NULL || fn == NULL) {
        errno = EINVAL;
        return NULL;
    }
    acx_handle *h = malloc(sizeof *h);
    if (h == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    h->timer.tm.heap_idx = ACX__NO_SLOT;
    h->timer.fire = handle_fire;
    h->fn = fn;
    h->arg = arg;
    if (acx__cbtimer_arm(&h->timer, when_ns) < 0) {
        free(h);
        errno = ENOMEM;
        return NULL;
    }
    return h;
}

acx_handle *acx_call_later(int64_t ms, void (*fn)(void *), void *arg)
{
    return acx_call_at(ms <= 0 ? 0 : acx__deadline_after_ms(ms), fn, arg);
}

acx_handle *acx_call_soon(void (*fn)(void *), void *arg)
{
    return acx_call_at(0, fn, arg);
}

void acx__calls_drop(acx_loop *l)
{
    /* Backwards: a removal moves the last timer, already seen, into I. */
    for (uint32_t i = l->timers.n; i-- > 0;) {
        acx__timer *tm = l->timers.v[i];
        if (tm->task == NULL && ((acx__cbtimer *)tm)->fire == handle_fire) {
            acx__heap_remove(&l->timers, tm);
            free(tm); /* the handle: its timer comes first */
        }
    }
}

int acx_handle_cancel(acx_handle *h)
{
    if (h == NULL)
        return -EINVAL;
    acx__cbtimer_disarm(&h->timer);
    free(h);
    return 0;
}
