/* A system header that uses acxc's keywords as ordinary names. */
struct oldlib_handle { int async; int await; };
static inline int oldlib_poll(struct oldlib_handle *h, int async)
{
    return h->async + h->await + async;
}
