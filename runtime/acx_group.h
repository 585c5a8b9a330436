/* acx_group.h - combinators and task groups: gather, wait, as_completed, TaskGroup (issue 3).
 *
 * Included by acx.h; see it for the conventions.
 */
#ifndef ACX_GROUP_H
#define ACX_GROUP_H

#endif
