/*
 * io.h - small descriptor helpers shared by the roles.
 */
#ifndef REBOUND_IO_H
#define REBOUND_IO_H

#include <stddef.h>

/*
 * Write all len bytes of buf to fd, retrying on EINTR and short writes.  On
 * a socket it never raises SIGPIPE (a peer that went away is an error, not a
 * signal).  0, or -1 with errno set.
 */
int io_write_all(int fd, const void *buf, size_t len);

#endif
