/*
 * bench_store_ceiling.c - what PostgreSQL takes in make bench-store, without
 * Rebound: the rows Rebound writes for one hard bounce (the message with
 * its raw bytes and hash, one event, one suppression; the schema's
 * triggers and indexes fire as usual), one connection, no parsing, no
 * spool, written two ways:
 *
 *   loop  the per-message shape Rebound used before its batches were
 *         set-based: BEGIN, set_config, BATCH messages of three statements
 *         each one round trip at a time, COMMIT;
 *   copy  the physical limit: BEGIN, set_config, one binary COPY per table
 *         of BATCH messages (ids chosen by the client, distinct
 *         recipients so every suppression is new), COMMIT.
 *
 * usage: bench_store_ceiling CONNINFO RAWFILE MESSAGES BATCH [loop|copy]
 * prints: "ceiling N messages in S s = R msg/s"
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <libpq-fe.h>

static const char SQL_MESSAGE[] =
    "INSERT INTO messages (queue_id, received_at, client_addr, helo, tls, mail_from, rcpts,"
    " size, sha256, tenant, kind, outcome, anomalies, mta, attempts, quarantined, raw)"
    " VALUES ($1, ('epoch'::timestamptz + $2::bigint * interval '1 microsecond'), '127.0.0.1',"
    " 'localhost', NULL, '', '{bounce@bounces.example.com}'::text[], $3::bigint, $4::bytea,"
    " 'default', 'dsn', 'ok', 0, 'postfix', 1, false, $5::bytea)"
    " ON CONFLICT (sha256) DO NOTHING RETURNING id";
static const char SQL_EVENT[] =
    "INSERT INTO events (message_id, tenant, occurred_at, recipient, address_key, domain, kind,"
    " class, reason, status, replycode, action, diagnostic, remote_mta, reporting_mta, mta,"
    " rule, orig_message_id, orig_subject, campaign, correlation, orig_from)"
    " VALUES ($1::bigint, 'default', ('epoch'::timestamptz + $2::bigint * interval '1 microsecond'),"
    " $3, $3, 'dest.example', 'dsn', 'hard', 'userunknown', '5.1.1', '550', 'failed',"
    " 'smtp; 550 5.1.1 User unknown', 'dns; mx2.example.org', 'dns; mx.example.org', 'postfix',"
    " 'status-5.1.1', 'orig@sender.example', 'Our news', 'spring-42',"
    " '{\"X-Campaign-Id\": \"spring-42\"}'::jsonb, 'news@sender.example') RETURNING id";
static const char SQL_SUPPRESS[] =
    "INSERT INTO suppressions AS s (tenant, address, address_key, domain, class, reason,"
    " first_seen, last_seen, event_count, expires_at, origin, event_id)"
    " VALUES ('default', $1, $1, 'dest.example', 'hard', 'userunknown',"
    " ('epoch'::timestamptz + $2::bigint * interval '1 microsecond'),"
    " ('epoch'::timestamptz + $2::bigint * interval '1 microsecond'), 1, NULL, 'automatic',"
    " $3::bigint)"
    " ON CONFLICT (tenant, address_key) DO UPDATE SET"
    " last_seen = greatest(s.last_seen, EXCLUDED.last_seen), event_count = s.event_count + 1";

static PGresult *
run(PGconn *c, const char *sql, int n, const char *const *v, const int *len, const int *fmt,
    ExecStatusType want)
{
	PGresult *r = PQexecParams(c, sql, n, NULL, v, len, fmt, 0);

	if (PQresultStatus(r) != want) {
		fprintf(stderr, "bench_store_ceiling: %s\n", PQerrorMessage(c));
		exit(1);
	}
	return r;
}

/* COPY's binary format, into a growing buffer. */
struct buf {
	unsigned char *p;
	size_t len, cap;
};

static void
put(struct buf *b, const void *v, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2;
		if ((b->p = realloc(b->p, b->cap)) == NULL) {
			perror("realloc");
			exit(1);
		}
	}
	memcpy(b->p + b->len, v, n);
	b->len += n;
}

static void
put16(struct buf *b, uint16_t v)
{
	unsigned char x[2] = { v >> 8, v };
	put(b, x, 2);
}

static void
put32(struct buf *b, uint32_t v)
{
	unsigned char x[4] = { v >> 24, v >> 16, v >> 8, v };
	put(b, x, 4);
}

static void
put64(struct buf *b, uint64_t v)
{
	put32(b, (uint32_t)(v >> 32));
	put32(b, (uint32_t)v);
}

static void
f_bytes(struct buf *b, const void *v, size_t n)
{
	put32(b, (uint32_t)n);
	put(b, v, n);
}

static void
f_text(struct buf *b, const char *s)
{
	if (s == NULL)
		put32(b, 0xffffffffu);
	else
		f_bytes(b, s, strlen(s));
}

static void
f_int8(struct buf *b, int64_t v)
{
	put32(b, 8);
	put64(b, (uint64_t)v);
}

static void
f_int4(struct buf *b, int32_t v)
{
	put32(b, 4);
	put32(b, (uint32_t)v);
}

static void
f_bool(struct buf *b, int v)
{
	unsigned char x = v != 0;
	f_bytes(b, &x, 1);
}

/* timestamptz: microseconds since 2000-01-01 UTC */
static void
f_ts(struct buf *b, int64_t unix_us)
{
	f_int8(b, unix_us - INT64_C(946684800000000));
}

static void
f_jsonb(struct buf *b, const char *json)
{
	put32(b, (uint32_t)(1 + strlen(json)));
	put(b, "\1", 1);	/* jsonb binary format version */
	put(b, json, strlen(json));
}

/* text[] of one element */
static void
f_text_array1(struct buf *b, const char *s)
{
	put32(b, (uint32_t)(20 + 4 + strlen(s)));
	put32(b, 1);		/* dimensions */
	put32(b, 0);		/* no NULLs */
	put32(b, 25);		/* text */
	put32(b, 1);		/* length */
	put32(b, 1);		/* lower bound */
	f_text(b, s);
}

static void
begin_copy(struct buf *b)
{
	static const unsigned char sig[11] = { 'P', 'G', 'C', 'O', 'P', 'Y', '\n', 0xff, '\r', '\n', 0 };

	b->len = 0;
	put(b, sig, sizeof sig);
	put32(b, 0);
	put32(b, 0);
}

static void
copy(PGconn *c, const char *sql, struct buf *b)
{
	PGresult *r;

	put16(b, 0xffff);
	r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_COPY_IN) {
		fprintf(stderr, "bench_store_ceiling: %s\n", PQerrorMessage(c));
		exit(1);
	}
	PQclear(r);
	if (PQputCopyData(c, (const char *)b->p, (int)b->len) != 1 || PQputCopyEnd(c, NULL) != 1) {
		fprintf(stderr, "bench_store_ceiling: %s\n", PQerrorMessage(c));
		exit(1);
	}
	r = PQgetResult(c);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		fprintf(stderr, "bench_store_ceiling: %s\n", PQerrorMessage(c));
		exit(1);
	}
	PQclear(r);
	while ((r = PQgetResult(c)) != NULL)
		PQclear(r);
}

/* The same rows as the loop, by COPY; ids far above what the daemon's sequences reach. */
static void
run_copy(PGconn *c, const char *raw, long rawlen, long n, long batch)
{
	struct buf m = { 0 }, e = { 0 }, s = { 0 };
	char qid[32], addr[64];
	unsigned char hash[32];
	long i, k, j;
	int64_t base = INT64_C(1000000000000) + (int64_t)(rand() % 1000000) * 1000000;

	for (i = 0; i < n; ) {
		begin_copy(&m);
		begin_copy(&e);
		begin_copy(&s);
		for (k = 0; k < batch && i < n; k++, i++) {
			struct timespec now;
			int64_t at, id = base + i;

			clock_gettime(CLOCK_REALTIME, &now);
			at = (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000;
			snprintf(qid, sizeof qid, "C%08x%07ld", (unsigned)rand(), i);
			snprintf(addr, sizeof addr, "ceiling%ld.%08x@dest.example", i, (unsigned)rand());
			for (j = 0; j < 32; j++)
				hash[j] = (unsigned char)rand();
			/* messages: id .. suppressible, as SQL_MESSAGE */
			put16(&m, 19);
			f_int8(&m, id);
			f_text(&m, qid);
			f_ts(&m, at);
			f_text(&m, "127.0.0.1");
			f_text(&m, "localhost");
			f_text(&m, NULL);
			f_text(&m, "");
			f_text_array1(&m, "bounce@bounces.example.com");
			f_int8(&m, rawlen);
			f_bytes(&m, hash, 32);
			f_text(&m, "default");
			f_text(&m, "dsn");
			f_text(&m, "ok");
			f_int4(&m, 0);
			f_text(&m, "postfix");
			f_int4(&m, 1);
			f_bool(&m, 0);
			f_bytes(&m, raw, (size_t)rawlen);
			f_bool(&m, 1);
			/* events, as SQL_EVENT */
			put16(&e, 24);
			f_int8(&e, id);
			f_int8(&e, id);
			f_text(&e, "default");
			f_ts(&e, at);
			f_text(&e, addr);
			f_text(&e, addr);
			f_text(&e, "dest.example");
			f_text(&e, "dsn");
			f_text(&e, "hard");
			f_text(&e, "userunknown");
			f_text(&e, "5.1.1");
			f_text(&e, "550");
			f_text(&e, "failed");
			f_text(&e, "smtp; 550 5.1.1 User unknown");
			f_text(&e, "dns; mx2.example.org");
			f_text(&e, "dns; mx.example.org");
			f_text(&e, "postfix");
			f_text(&e, "status-5.1.1");
			f_text(&e, "orig@sender.example");
			f_text(&e, "Our news");
			f_text(&e, "spring-42");
			f_jsonb(&e, "{\"X-Campaign-Id\": \"spring-42\"}");
			f_text(&e, "news@sender.example");
			f_bool(&e, 1);
			/* suppressions, as SQL_SUPPRESS for a new address */
			put16(&s, 11);
			f_text(&s, "default");
			f_text(&s, addr);
			f_text(&s, addr);
			f_text(&s, "dest.example");
			f_text(&s, "hard");
			f_text(&s, "userunknown");
			f_ts(&s, at);
			f_ts(&s, at);
			f_int4(&s, 1);
			f_text(&s, "automatic");
			f_int8(&s, id);
		}
		PQclear(run(c, "BEGIN", 0, NULL, NULL, NULL, PGRES_COMMAND_OK));
		{
			const char *actor[] = { "policy" };
			PQclear(run(c, "SELECT set_config('rebound.actor', $1, true)", 1, actor, NULL, NULL,
			    PGRES_TUPLES_OK));
		}
		copy(c, "COPY messages (id, queue_id, received_at, client_addr, helo, tls, mail_from,"
		    " rcpts, size, sha256, tenant, kind, outcome, anomalies, mta, attempts, quarantined,"
		    " raw, suppressible) FROM STDIN (FORMAT binary)", &m);
		copy(c, "COPY events (id, message_id, tenant, occurred_at, recipient, address_key, domain,"
		    " kind, class, reason, status, replycode, action, diagnostic, remote_mta,"
		    " reporting_mta, mta, rule, orig_message_id, orig_subject, campaign, correlation,"
		    " orig_from, suppressible) FROM STDIN (FORMAT binary)", &e);
		copy(c, "COPY suppressions (tenant, address, address_key, domain, class, reason,"
		    " first_seen, last_seen, event_count, origin, event_id) FROM STDIN (FORMAT binary)",
		    &s);
		PQclear(run(c, "COMMIT", 0, NULL, NULL, NULL, PGRES_COMMAND_OK));
	}
	free(m.p);
	free(e.p);
	free(s.p);
}

int
main(int argc, char **argv)
{
	PGconn *c;
	FILE *f;
	char *raw, qid[32], at[32], size[32], mid[32], eid[32], addr[64];
	unsigned char hash[32];
	long rawlen, n, batch, i = 0, k;
	struct timespec t0, t1;
	double el;

	if (argc != 5 && !(argc == 6 && (strcmp(argv[5], "loop") == 0 ||
	    strcmp(argv[5], "copy") == 0))) {
		fprintf(stderr, "usage: bench_store_ceiling CONNINFO RAWFILE MESSAGES BATCH [loop|copy]\n");
		return 2;
	}
	n = atol(argv[3]);
	batch = atol(argv[4]);
	if ((f = fopen(argv[2], "rb")) == NULL || fseek(f, 0, SEEK_END) != 0 ||
	    (rawlen = ftell(f)) <= 0 || fseek(f, 0, SEEK_SET) != 0)
		return perror(argv[2]), 1;
	raw = malloc(rawlen);
	if (raw == NULL || fread(raw, 1, rawlen, f) != (size_t)rawlen)
		return perror(argv[2]), 1;
	fclose(f);
	c = PQconnectdb(argv[1]);
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "bench_store_ceiling: %s\n", PQerrorMessage(c));
		return 1;
	}
	snprintf(size, sizeof size, "%ld", rawlen);
	srand((unsigned)time(NULL));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (argc == 6 && strcmp(argv[5], "copy") == 0) {
		run_copy(c, raw, rawlen, n, batch);
		i = n;
	}
	for (; i < n; ) {
		const char *actor[] = { "policy" };
		PQclear(run(c, "BEGIN", 0, NULL, NULL, NULL, PGRES_COMMAND_OK));
		PQclear(run(c, "SELECT set_config('rebound.actor', $1, true)", 1, actor, NULL, NULL,
		    PGRES_TUPLES_OK));
		for (k = 0; k < batch && i < n; k++, i++) {
			struct timespec now;
			PGresult *r;
			int j;

			clock_gettime(CLOCK_REALTIME, &now);
			snprintf(at, sizeof at, "%lld", (long long)now.tv_sec * 1000000 + now.tv_nsec / 1000);
			snprintf(qid, sizeof qid, "C%08x%07ld", (unsigned)rand(), i);
			snprintf(addr, sizeof addr, "ceiling%ld.%08x@dest.example", i, (unsigned)rand());
			for (j = 0; j < 32; j++)
				hash[j] = (unsigned char)rand();
			{
				const char *v[] = { qid, at, size, (const char *)hash, raw };
				int len[] = { 0, 0, 0, 32, (int)rawlen }, fmt[] = { 0, 0, 0, 1, 1 };
				r = run(c, SQL_MESSAGE, 5, v, len, fmt, PGRES_TUPLES_OK);
				if (PQntuples(r) != 1) {
					PQclear(r);
					continue;	/* a hash collision: as Rebound, a duplicate */
				}
				snprintf(mid, sizeof mid, "%s", PQgetvalue(r, 0, 0));
				PQclear(r);
			}
			{
				const char *v[] = { mid, at, addr };
				r = run(c, SQL_EVENT, 3, v, NULL, NULL, PGRES_TUPLES_OK);
				snprintf(eid, sizeof eid, "%s", PQgetvalue(r, 0, 0));
				PQclear(r);
			}
			{
				const char *v[] = { addr, at, eid };
				PQclear(run(c, SQL_SUPPRESS, 3, v, NULL, NULL, PGRES_COMMAND_OK));
			}
		}
		PQclear(run(c, "COMMIT", 0, NULL, NULL, NULL, PGRES_COMMAND_OK));
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	el = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("ceiling %ld messages in %.2f s = %.0f msg/s\n", n, el, n / el);
	PQfinish(c);
	free(raw);
	return 0;
}
