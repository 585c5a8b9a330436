/* count.h - found through the target's include directories, which
 * acx_add_sources() hands to acxc's preprocessor. */
#define COUNT_STEP 1
int count_run(void);
