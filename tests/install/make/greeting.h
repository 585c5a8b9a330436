/* greeting.h - the test rewrites this to check that the .c is
 * regenerated when a header the .acx includes changes. */
#define GREETING "hello"
