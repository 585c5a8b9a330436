/* acx_net.h - sockets: TCP, UDP and Unix domain sockets for coroutines (issue 4).
 *
 * Included by acx.h; see it for the conventions.
 */
#ifndef ACX_NET_H
#define ACX_NET_H

#endif
