/* acx_executor.h - executors: the thread pool executor, waiting on many futures, run_in_executor (issue 5).
 *
 * Included by acx.h; see it for the conventions.
 */
#ifndef ACX_EXECUTOR_H
#define ACX_EXECUTOR_H

#endif
