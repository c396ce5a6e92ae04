/*
 * bench_lookup_client.c - the socketmap load generator of make bench-lookup.
 *
 * CONNS connections to a socketmap server, each with one request in flight
 * as Postfix's socketmap client does (netstring "NAME KEY", wait for the
 * answer, next).  One epoll thread drives them all, so the client costs
 * little CPU on a shared 2-core machine.  Keys are user<i>@d<i%1000>.example
 * with i uniform in [0, 2*NADDR): about half are suppressed (loaded as
 * i < NADDR), half not.  Any answer other than OK/NOTFOUND is an error.
 *
 * usage: bench_lookup_client HOST PORT CONNS SECONDS NADDR
 * prints one line: lookups, seconds, rate, p50/p99/max latency, hits, errors.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct conn {
	int fd;
	double t0;
	char in[1024];
	size_t inlen;
};

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static unsigned long long rng = 88172645463325252ULL;

static unsigned long long
xorshift(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static int
send_request(struct conn *c, long naddr)
{
	char key[128], buf[160];
	long i = (long)(xorshift() % (unsigned long long)(2 * naddr));
	int k, n;

	k = snprintf(key, sizeof key, "suppressed user%ld@d%ld.example", i, i % 1000);
	n = snprintf(buf, sizeof buf, "%d:%s,", k, key);
	c->t0 = now();
	c->inlen = 0;
	return write(c->fd, buf, n) == n ? 0 : -1;
}

/* 1: a whole netstring is in c->in; 0: need more; -1: malformed. */
static int
have_reply(struct conn *c, const char **data, size_t *len)
{
	char *colon = memchr(c->in, ':', c->inlen);
	size_t n;

	if (colon == NULL)
		return c->inlen > 10 ? -1 : 0;
	n = strtoul(c->in, NULL, 10);
	if ((size_t)(colon - c->in) + 1 + n + 1 > c->inlen)
		return (size_t)(colon - c->in) + 1 + n + 1 > sizeof c->in ? -1 : 0;
	if (colon[1 + n] != ',')
		return -1;
	*data = colon + 1;
	*len = n;
	return 1;
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sa;
	struct epoll_event ev, evs[256];
	struct conn *conns;
	double *lat, start, end, el;
	size_t nlat = 0, cap = 1 << 20;
	long hits = 0, errors = 0, naddr, inwin = 0;
	int conns_n, secs, ep, i;

	if (argc != 6) {
		fprintf(stderr, "usage: bench_lookup_client HOST PORT CONNS SECONDS NADDR\n");
		return 2;
	}
	conns_n = atoi(argv[3]);
	secs = atoi(argv[4]);
	naddr = atol(argv[5]);
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)atoi(argv[2]));
	if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1 || conns_n < 1 || secs < 1 || naddr < 1) {
		fprintf(stderr, "bench_lookup_client: bad arguments\n");
		return 2;
	}
	rng ^= (unsigned long long)getpid() << 16;
	lat = malloc(cap * sizeof *lat);
	conns = calloc(conns_n, sizeof *conns);
	if ((ep = epoll_create1(0)) == -1 || lat == NULL || conns == NULL)
		return perror("bench_lookup_client"), 1;
	for (i = 0; i < conns_n; i++) {
		int one = 1;
		struct conn *c = &conns[i];
		if ((c->fd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
		    connect(c->fd, (struct sockaddr *)&sa, sizeof sa) == -1)
			return perror("connect"), 1;
		setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		ev.events = EPOLLIN;
		ev.data.ptr = c;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) == -1)
			return perror("epoll_ctl"), 1;
	}
	start = now();
	end = start + secs;
	for (i = 0; i < conns_n; i++)
		if (send_request(&conns[i], naddr) == -1)
			return perror("write"), 1;
	for (;;) {
		int n = epoll_wait(ep, evs, 256, 100), k;
		double t = now();

		if (n == -1 && errno != EINTR)
			return perror("epoll_wait"), 1;
		for (k = 0; k < n; k++) {
			struct conn *c = evs[k].data.ptr;
			const char *data;
			size_t len;
			ssize_t r = read(c->fd, c->in + c->inlen, sizeof c->in - c->inlen);
			int st;

			if (r <= 0) {
				fprintf(stderr, "bench_lookup_client: connection closed by server\n");
				return 1;
			}
			c->inlen += r;
			if ((st = have_reply(c, &data, &len)) == 0)
				continue;
			if (st < 0) {
				fprintf(stderr, "bench_lookup_client: malformed reply\n");
				return 1;
			}
			if (len >= 3 && memcmp(data, "OK ", 3) == 0)
				hits++;
			else if (!(len >= 8 && memcmp(data, "NOTFOUND", 8) == 0)) {
				if (errors++ == 0)
					fprintf(stderr, "bench_lookup_client: unexpected reply %.*s\n",
					    (int)len, data);
			}
			if (nlat == cap) {
				cap *= 2;
				if ((lat = realloc(lat, cap * sizeof *lat)) == NULL)
					return perror("realloc"), 1;
			}
			lat[nlat++] = t - c->t0;
			if (t < end)
				inwin++;
			if (t < end && send_request(c, naddr) == -1)
				return perror("write"), 1;
		}
		if (t >= end) {
			/* let the answers in flight arrive, then stop */
			static double drain;
			if (drain == 0)
				drain = t + 1;
			if (t >= drain)
				break;
		}
	}
	el = end - start;
	if (nlat == 0) {
		fprintf(stderr, "bench_lookup_client: no answers\n");
		return 1;
	}
	qsort(lat, nlat, sizeof *lat, cmp_double);
	printf("socketmap %zu lookups in %.2f s = %.0f lookups/s over %d connections, "
	    "p50 %.0f us, p99 %.0f us, max %.0f us, hits %ld, errors %ld\n",
	    nlat, el, inwin / el, conns_n, lat[nlat / 2] * 1e6, lat[(size_t)(nlat * 0.99)] * 1e6,
	    lat[nlat - 1] * 1e6, hits, errors);
	for (i = 0; i < conns_n; i++)
		close(conns[i].fd);
	free(conns);
	free(lat);
	return errors ? 1 : 0;
}
