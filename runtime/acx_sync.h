/* acx_sync.h - locks, semaphores, events, conditions, barriers and async queues (issue 3).
 *
 * Included by acx.h; see it for the conventions.
 */
#ifndef ACX_SYNC_H
#define ACX_SYNC_H

#endif
