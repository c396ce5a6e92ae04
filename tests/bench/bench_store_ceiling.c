/*
 * bench_store_ceiling.c - the PostgreSQL-only ceiling of make bench-store:
 * a bare libpq loop writing the rows Rebound writes for one hard bounce
 * (the message with its raw bytes and hash, one event, one suppression
 * upsert; the schema's triggers and indexes fire as usual) with Rebound's
 * transaction shape: BEGIN, set_config, BATCH messages, COMMIT, one
 * connection, PQexecParams with binary hash and raw.  No parsing, no spool.
 *
 * usage: bench_store_ceiling CONNINFO RAWFILE MESSAGES BATCH
 * prints: "ceiling N messages in S s = R msg/s"
 */
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

int
main(int argc, char **argv)
{
	PGconn *c;
	FILE *f;
	char *raw, qid[32], at[32], size[32], mid[32], eid[32], addr[64];
	unsigned char hash[32];
	long rawlen, n, batch, i, k;
	struct timespec t0, t1;
	double el;

	if (argc != 5) {
		fprintf(stderr, "usage: bench_store_ceiling CONNINFO RAWFILE MESSAGES BATCH\n");
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
	for (i = 0; i < n; ) {
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
