/*
 * smtp_tls_keys.c - the TLS key reader (see smtp_tls_keys.h).
 *
 * Wire format, on a SOCK_STREAM socketpair: the daemon writes the byte 'R';
 * the helper answers twice, certificate then key, each as a header of two
 * uint32_t in host order (errno of the read or 0, length) and that many bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <glib.h>
#include <openssl/crypto.h>

#include "common/io.h"
#include "receiver/smtp_tls_keys.h"

#define TLS_KEYS_FD	3
/* The helper reads two small local files: longer than this, it is wedged. */
#define TLS_KEYS_TIMEOUT_SEC	5

struct tls_keys {
	int fd;			/* -1 once the helper is gone */
	pid_t pid;
	char *cert;
	char *key;
};

/* 0, or -1 with errno (0 for end of file). */
static int
tls_keys_read_all(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len > 0) {
		ssize_t n = read(fd, p, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == 0)
			errno = 0;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Helper side: a regular file of at most TLS_KEYS_MAX bytes into buf (of
 * TLS_KEYS_MAX + 1 bytes, so that a file growing while read is caught too).
 * Returns 0 or an errno value.
 */
static int
tls_keys_read_file(const char *path, char *buf, uint32_t *len)
{
	struct stat st;
	size_t got = 0;
	int fd, e = 0;

	*len = 0;
	/* O_NONBLOCK: a FIFO put in the key's place must not wedge the helper. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) == -1)
		return errno;
	if (fstat(fd, &st) == -1)
		e = errno;
	else if (!S_ISREG(st.st_mode))
		e = EINVAL;
	else if (st.st_size > TLS_KEYS_MAX)
		e = EFBIG;
	while (e == 0) {
		ssize_t n = read(fd, buf + got, TLS_KEYS_MAX + 1 - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			e = errno;
		else if (n == 0)
			break;
		else if ((got += (size_t)n) > TLS_KEYS_MAX)
			e = EFBIG;
	}
	close(fd);
	if (e == 0)
		*len = (uint32_t)got;
	return e;
}

static int
tls_keys_send_file(int fd, const char *path, char *buf)
{
	uint32_t hdr[2];
	int rc;

	hdr[0] = (uint32_t)tls_keys_read_file(path, buf, &hdr[1]);
	rc = io_write_all(fd, hdr, sizeof hdr) == 0 &&
	    io_write_all(fd, buf, hdr[1]) == 0 ? 0 : -1;
	/* All of it: a read that failed half-way (EFBIG) left key bytes there too. */
	OPENSSL_cleanse(buf, TLS_KEYS_MAX + 1);
	return rc;
}

/*
 * The helper: root, one socket, nothing else.  Single-threaded here (the
 * daemon forks it before starting any thread), so malloc is safe; _exit so
 * that no atexit handler of the daemon's libraries runs in it.
 */
static void __attribute__((noreturn))
tls_keys_helper(int fd, const char *cert, const char *key)
{
	struct sigaction sa;
	sigset_t all;
	char *buf;
	int null;

	/* The daemon's process group gets SIGHUP and SIGTERM: they are not for us. */
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGHUP, &sa, NULL) == -1 || sigaction(SIGTERM, &sa, NULL) == -1 ||
	    sigaction(SIGINT, &sa, NULL) == -1 || sigaction(SIGPIPE, &sa, NULL) == -1 ||
	    sigaction(SIGUSR1, &sa, NULL) == -1 || sigaction(SIGUSR2, &sa, NULL) == -1)
		_exit(1);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	(void)prctl(PR_SET_NAME, "rebound-tlskeys", 0, 0, 0);	/* cosmetic: ps, top */

	/* Keep the socket only: not the listeners, not the log, not a terminal. */
	if (fd != TLS_KEYS_FD && dup2(fd, TLS_KEYS_FD) == -1)
		_exit(1);
	if (close_range(TLS_KEYS_FD + 1, ~0U, 0) == -1) {
		int i;
		for (i = TLS_KEYS_FD + 1; i < 65536; i++)
			close(i);
	}
	if ((null = open("/dev/null", O_RDWR)) == -1 ||
	    dup2(null, 0) == -1 || dup2(null, 1) == -1 || dup2(null, 2) == -1)
		_exit(1);
	if (null > 2)
		close(null);
	if ((buf = malloc(TLS_KEYS_MAX + 1)) == NULL)
		_exit(1);

	for (;;) {
		char c;
		ssize_t n = read(TLS_KEYS_FD, &c, 1);

		if (n == -1 && errno == EINTR)
			continue;
		if (n == 0)
			_exit(0);	/* the daemon is gone */
		if (n == -1 || c != 'R')
			_exit(1);
		if (tls_keys_send_file(TLS_KEYS_FD, cert, buf) == -1 ||
		    tls_keys_send_file(TLS_KEYS_FD, key, buf) == -1)
			_exit(1);
	}
}

struct tls_keys *
tls_keys_start(const char *cert, const char *key, char **err)
{
	struct tls_keys *k;
	struct timeval tv = { TLS_KEYS_TIMEOUT_SEC, 0 };
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
		*err = g_strdup_printf("tls key reader: socketpair: %s", g_strerror(errno));
		return NULL;
	}
	if ((pid = fork()) == -1) {
		*err = g_strdup_printf("tls key reader: fork: %s", g_strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return NULL;
	}
	if (pid == 0) {
		close(sv[0]);
		tls_keys_helper(sv[1], cert, key);
	}
	close(sv[1]);
	if (setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == -1 ||
	    setsockopt(sv[0], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) == -1) {
		*err = g_strdup_printf("tls key reader: setsockopt: %s", g_strerror(errno));
		close(sv[0]);
		while (waitpid(pid, NULL, 0) == -1 && errno == EINTR)
			;
		return NULL;
	}
	k = g_new0(struct tls_keys, 1);
	k->fd = sv[0];
	k->pid = pid;
	k->cert = g_strdup(cert);
	k->key = g_strdup(key);
	return k;
}

const char *
tls_keys_cert_path(const struct tls_keys *k)
{
	return k->cert;
}

const char *
tls_keys_key_path(const struct tls_keys *k)
{
	return k->key;
}

void
tls_keys_free_buf(char *buf, size_t len)
{
	if (buf == NULL)
		return;
	OPENSSL_cleanse(buf, len);
	g_free(buf);
}

/* Once the exchange is out of step (timeout, short read) it cannot be trusted again. */
static void
tls_keys_broken(struct tls_keys *k)
{
	if (k->fd != -1)
		close(k->fd);
	k->fd = -1;
}

static char *
tls_keys_io_error(const char *what)
{
	return g_strdup_printf("tls key reader: %s: %s", what,
	    errno == 0 ? "the helper is gone" : errno == EAGAIN ? "timed out" :
	    g_strerror(errno));
}

/* One answer: 0 with the bytes, 1 with *err (the helper could not read the file), -1 broken. */
static int
tls_keys_recv_file(struct tls_keys *k, const char *path, char **buf, size_t *len, char **err)
{
	uint32_t hdr[2];

	*buf = NULL;
	*len = 0;
	if (tls_keys_read_all(k->fd, hdr, sizeof hdr) == -1) {
		*err = tls_keys_io_error("read");
		return -1;
	}
	if (hdr[1] > TLS_KEYS_MAX || (hdr[0] != 0 && hdr[1] != 0)) {
		*err = g_strdup("tls key reader: malformed answer");
		return -1;
	}
	if (hdr[0] != 0) {
		*err = g_strdup_printf("%s: %s", path, g_strerror((int)hdr[0]));
		return 1;
	}
	*buf = g_malloc(hdr[1] + 1);
	if (tls_keys_read_all(k->fd, *buf, hdr[1]) == -1) {
		*err = tls_keys_io_error("read");
		tls_keys_free_buf(*buf, hdr[1] + 1);
		*buf = NULL;
		return -1;
	}
	(*buf)[hdr[1]] = '\0';
	*len = hdr[1];
	return 0;
}

int
tls_keys_fetch(struct tls_keys *k, char **cert, size_t *cert_len, char **key,
    size_t *key_len, char **err)
{
	char *err2 = NULL;
	int rc, rc2;

	*cert = *key = NULL;
	*cert_len = *key_len = 0;
	if (k->fd == -1) {
		*err = g_strdup("tls key reader: the helper is gone (restart to reload the key)");
		return -1;
	}
	if (io_write_all(k->fd, "R", 1) == -1) {
		*err = tls_keys_io_error("write");
		tls_keys_broken(k);
		return -1;
	}
	if ((rc = tls_keys_recv_file(k, k->cert, cert, cert_len, err)) == -1) {
		tls_keys_broken(k);
		return -1;
	}
	/* The key's answer follows whatever the certificate's was: read it to stay in step. */
	rc2 = tls_keys_recv_file(k, k->key, key, key_len, rc == 0 ? err : &err2);
	g_free(err2);
	if (rc2 == -1)
		tls_keys_broken(k);
	if (rc != 0 || rc2 != 0) {
		tls_keys_free_buf(*cert, *cert_len);
		tls_keys_free_buf(*key, *key_len);
		*cert = *key = NULL;
		*cert_len = *key_len = 0;
		return -1;
	}
	return 0;
}

void
tls_keys_free(struct tls_keys *k)
{
	if (k == NULL)
		return;
	tls_keys_broken(k);
	while (waitpid(k->pid, NULL, 0) == -1 && errno == EINTR)
		;
	g_free(k->cert);
	g_free(k->key);
	g_free(k);
}
