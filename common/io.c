/* io.c - see io.h. */
#include "common/io.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

int
io_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	int sock = 1;

	while (len > 0) {
		ssize_t w = sock ? send(fd, p, len, MSG_NOSIGNAL) : write(fd, p, len);

		if (w == -1 && errno == ENOTSOCK && sock) {
			sock = 0;
			continue;
		}
		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w == 0)
				errno = EIO;
			return -1;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}
