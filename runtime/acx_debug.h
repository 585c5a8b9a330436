/* acx_debug.h - introspection and Unix signals: task dumps, stall reports, slow-step reports, signal handlers (issue 3).
 *
 * Included by acx.h; see it for the conventions.
 */
#ifndef ACX_DEBUG_H
#define ACX_DEBUG_H

#endif
