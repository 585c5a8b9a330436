/* acx_signal.h - Blinker-style signals: one sender, many receivers, called
 * in the order they connected (async receivers awaited by an async send).
 * Included by acx.h.
 *
 * A signal is named (acx_signal_named: one per name in the process, never
 * freed), anonymous (acx_signal_new / acx_signal_free), or belongs to a
 * namespace (a registry of its own, freed with it).  A receiver is a
 * function and a context pointer, connected for any sender (sender NULL)
 * or for one sender pointer only; connecting twice makes two connections.
 *
 * A send called with SENDER calls the receivers connected for any sender
 * and those connected for exactly SENDER (a NULL sender reaches only the
 * any-sender receivers), in connection order, each with its own context.
 *
 * Concurrency.  Every call may be made from any thread, concurrently,
 * unless it says otherwise.  Each signal has a mutex that guards a
 * copy-on-write, reference-counted array of its connections; a send holds
 * the mutex only long enough to take a reference to the current array, and
 * calls the receivers with no lock held, so a receiver may connect,
 * disconnect (itself or others), send, or mute, on any signal.  The
 * guarantees:
 *   - a send calls the receivers of the snapshot taken when it started: a
 *     receiver connected during a send is not called by that send;
 *   - a connection disconnected before a send reaches it is skipped: on
 *     the same thread (a receiver disconnecting itself or a later one)
 *     always; from another thread, a send already past its check may still
 *     make that one call, concurrently with or just after the disconnect;
 *   - no send that starts after acx_signal_disconnect returned calls it;
 *   - a connection's memory lives until it is disconnected and no send
 *     holds a snapshot containing it, so disconnecting during sends is
 *     memory-safe.  What the receiver's CTX points to is the caller's: free
 *     it only when no send can still be calling the receiver.
 */
#include "acx.h" /* alone, this part brings all of acx.h, in its order */

#ifndef ACX_SIGNAL_H
#define ACX_SIGNAL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct acx_signal acx_signal;
typedef struct acx_connection acx_connection;
typedef struct acx_namespace acx_namespace;

/* A receiver: called with the context given at connect, the sender and
 * the payload given to the send; what it returns is handed back to the
 * sender in acx_signal_result. */
typedef intptr_t (*acx_receiver_fn)(void *ctx, const void *sender,
                                    void *payload);

/* One receiver's answer to a send. */
typedef struct acx_signal_result {
    acx_connection *connection; /* valid while it stays connected */
    intptr_t result;
} acx_signal_result;

/* ---- signals ---------------------------------------------------------- */

/* The process-wide signal called NAME, created on first use: every call
 * with an equal name, from any thread, returns the same signal.  It lives
 * until the process exits (acx_signal_free ignores it).  The names
 * "acx.receiver_connected" and "acx.receiver_disconnected" are the
 * meta-signals below.  Returns NULL with errno EINVAL (NAME NULL or empty)
 * or ENOMEM. */
acx_signal *acx_signal_named(const char *name);

/* A new anonymous signal, with documentation DOC (copied; may be NULL).
 * Returns NULL with errno ENOMEM. */
acx_signal *acx_signal_new(const char *doc);

/* Free an anonymous signal S and its connections (the acx_connection
 * handles become invalid).  No thread may be using S, or use it after.
 * NULL, named and namespace signals are ignored. */
void acx_signal_free(acx_signal *s);

/* The name of S (NULL for an anonymous signal) and its documentation (NULL
 * when none).  The strings live as long as S. */
const char *acx_signal_name(const acx_signal *s);
const char *acx_signal_doc(const acx_signal *s);

/* ---- namespaces: registries of their own ------------------------------ */

/* A new, empty namespace.  Returns NULL with errno ENOMEM. */
acx_namespace *acx_namespace_new(void);

/* The signal called NAME in NS, created on first use; as acx_signal_named
 * but separate from the process-wide registry and from other namespaces.
 * Returns NULL with errno EINVAL (NS or NAME NULL, NAME empty) or ENOMEM. */
acx_signal *acx_namespace_signal(acx_namespace *ns, const char *name);

/* Free NS and every signal in it.  No thread may be using NS or any of its
 * signals, or use them after.  NULL is ignored. */
void acx_namespace_free(acx_namespace *ns);

/* ---- connections ------------------------------------------------------ */

/* Connect FN with context CTX to S, for sends by SENDER only, or by any
 * sender when SENDER is NULL.  The connection is called after those made
 * before it.  When OUT is not NULL it receives the handle, which stays
 * valid until the connection is disconnected (or S freed).  Then sends
 * acx_signal_receiver_connected() with S as the sender and the connection
 * as the payload (not for connections to the two meta-signals).  Returns
 * 0, -EINVAL (S or FN NULL), -ENOMEM. */
int acx_signal_connect(acx_signal *s, acx_receiver_fn fn, void *ctx,
                       const void *sender, acx_connection **out);

/* Disconnect C from S; C is invalid after this returns.  Then sends
 * acx_signal_receiver_disconnected() with S as the sender and C (still
 * readable during that send) as the payload.  Returns 0, -EINVAL (S or C
 * NULL), -ENOENT (C is not connected to S: never was, or already
 * disconnected; C is only compared, never read, so that is safe unless
 * its memory has been reused by a new connection), -ENOMEM (the smaller
 * array could not be allocated; C stays connected). */
int acx_signal_disconnect(acx_signal *s, acx_connection *c);

/* Disconnect every connection of FN with context CTX from S, whatever its
 * sender; each one sends the disconnected meta-signal.  Returns the number
 * disconnected (0 when none), -EINVAL (S or FN NULL), -ENOMEM (as
 * acx_signal_disconnect, when none could be removed; after some were, the
 * number removed so far). */
int acx_signal_disconnect_fn(acx_signal *s, acx_receiver_fn fn, void *ctx);

/* What a connection was made with, for meta-signal receivers; C must be
 * valid.  NULL for a NULL C. */
acx_signal *acx_connection_signal(const acx_connection *c);
acx_receiver_fn acx_connection_fn(const acx_connection *c);
void *acx_connection_ctx(const acx_connection *c);
const void *acx_connection_sender(const acx_connection *c);

/* A scoped connection (Blinker's connected_to): declares a variable that
 * connects FN/CTX to SIG for SENDER and disconnects when the variable goes
 * out of scope, however the scope is left (GCC/clang cleanup attribute).
 * ACX_SIGNAL_SCOPE names the variable so the caller can check VAR.rc, the
 * acx_signal_connect result (on an error nothing is disconnected).  The
 * disconnect runs on the thread that leaves the scope. */
typedef struct acx_signal_scope {
    acx_signal *signal;
    acx_connection *connection; /* NULL when the connect failed */
    int rc;
} acx_signal_scope;

acx_signal_scope acx__signal_scope_begin(acx_signal *s, acx_receiver_fn fn,
                                         void *ctx, const void *sender);
void acx__signal_scope_end(acx_signal_scope *sc);

#define ACX_SIGNAL_SCOPE(var, sig, fn, ctx, sender)                          \
    acx_signal_scope var                                                     \
        __attribute__((cleanup(acx__signal_scope_end), unused)) =            \
            acx__signal_scope_begin((sig), (fn), (ctx), (sender))
#define ACX__SIG_CAT2(a, b) a##b
#define ACX__SIG_CAT(a, b) ACX__SIG_CAT2(a, b)
#define ACX_SIGNAL_CONNECTED_TO(sig, fn, ctx, sender)                        \
    ACX_SIGNAL_SCOPE(ACX__SIG_CAT(acx__sigscope_, __COUNTER__), sig, fn,     \
                     ctx, sender)

/* Mute S (ON non-zero) or unmute it (ON zero): a send to a muted signal
 * calls no receiver and reports a count of 0.  Not nested: one unmute
 * undoes any number of mutes.  A send already running is not stopped.
 * Returns the previous state (0 or 1), -EINVAL (S NULL). */
int acx_signal_mute(acx_signal *s, int on);

/* An async receiver (Blinker's coroutine receivers): called as a plain
 * receiver is, it returns a coroutine object (the constructor of an async
 * function, e.g. `async int on_event(void *ctx, const void *sender,
 * void *payload)`) whose int result is the receiver's result.  NULL means
 * out of memory (its result is then -ENOMEM). */
typedef acx_coro *(*acx_async_receiver_fn)(void *ctx, const void *sender,
                                           void *payload);

/* Connect an async receiver; as acx_signal_connect otherwise (sender
 * filter, order, meta-signal, disconnect with acx_signal_disconnect).  A
 * synchronous acx_signal_send skips it and reports -EWOULDBLOCK as its
 * result: only acx_signal_send_async awaits it. */
int acx_signal_connect_async(acx_signal *s, acx_async_receiver_fn fn,
                             void *ctx, const void *sender,
                             acx_connection **out);

/* ---- sending ---------------------------------------------------------- */

/* Call every receiver of S matching SENDER, in connection order, with
 * SENDER and PAYLOAD.  The first MAX answers go to RESULTS (each with its
 * connection); *COUNT (when COUNT is not NULL) receives the number of
 * receivers called, which may exceed MAX.  Returns 0, -EINVAL (S NULL, or
 * RESULTS NULL with MAX > 0).  See the top of this file for what a send
 * sees when receivers connect or disconnect meanwhile. */
int acx_signal_send(acx_signal *s, const void *sender, void *payload,
                    acx_signal_result *results, size_t max, size_t *count);

/* await acx_signal_send_async(s, sender, payload, results, max, &count)
 * (Blinker's send_async): as acx_signal_send, from a coroutine, and each
 * async receiver's coroutine is awaited to its end, in connection order,
 * before the next receiver is called (plain receivers are called as by a
 * send).  Returns 0, -EINVAL, or the interrupt (-ECANCELED, -ETIMEDOUT)
 * that stopped it after the receiver it had reached (*COUNT says how many
 * were called).  Loop thread. */
ACX_ASYNC_DECL(int, acx_signal_send_async,
               (acx_signal * s, const void *sender, void *payload,
                acx_signal_result *results, size_t max, size_t *count));

/* Whether a send by SENDER would call at least one receiver now (muting
 * aside): 1 or 0, -EINVAL (S NULL). */
int acx_signal_has_receivers_for(acx_signal *s, const void *sender);

/* The connections a send by SENDER would call now, in order: the first
 * MAX go to OUT (valid while they stay connected); returns how many there
 * are, which may exceed MAX.  0 for a NULL S, or OUT NULL with MAX > 0. */
size_t acx_signal_receivers_for(acx_signal *s, const void *sender,
                                acx_connection **out, size_t max);

/* ---- meta-signals ----------------------------------------------------- */

/* Process-wide signals sent after every connect and disconnect on any
 * other signal, with that signal as the sender and the connection as the
 * payload (an acx_connection *), on the thread that connected or
 * disconnected, with no lock held.  Never NULL; never freed. */
acx_signal *acx_signal_receiver_connected(void);
acx_signal *acx_signal_receiver_disconnected(void);

#ifdef __cplusplus
}
#endif
#endif
