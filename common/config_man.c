/*
 * config_man.c - rebound.conf(5) written from the key table, so that the
 * manual lists exactly the keys, types, defaults and ranges config_load()
 * accepts ("rebound config --man"; the build installs its output).
 */
#include "common/config.h"
#include "common/version.h"

#include <string.h>

/* What each section is for; a section missing here is listed without one. */
static const struct {
	const char *section, *text;
} man_sections[] = {
	{ "log", "Logging.  Lines go to standard error (the journal, under systemd)." },
	{ "smtp", "The SMTP receiver: listeners, the recipients accepted at RCPT, TLS, "
	    "and the limits that keep a hostile client from exhausting the daemon." },
	{ "spool", "The durable spool: every message answered 250 stays here until the "
	    "store has committed it." },
	{ "parser", "Parsing and classification of reports, and the parser worker "
	    "processes that do it under CPU and memory limits." },
	{ "store", "PostgreSQL, where messages, events and suppressions are kept.  "
	    "Without a connection string Rebound only spools." },
	{ "policy", "When events suppress an address." },
	{ "tenants", "Suppression lists are kept per tenant.  Besides default, every key in "
	    "this section is a tenant name and its value the list of return-path domains "
	    "that belong to it (.example.com: every subdomain)." },
	{ "lookup", "The Postfix socketmap and policy servers that answer relays from the "
	    "in-memory suppression index." },
	{ "http", "The HTTP JSON API, health check and Prometheus metrics." },
	{ "signing", "Signed return paths: with required_domains set, a report counts only "
	    "when it was sent to a return path Rebound signed." },
};

/* Text for a man(7) line: backslashes doubled, a leading dot or quote made inert. */
static void
man_text(FILE *fp, const char *s, int literal)
{
	if (*s == '.' || *s == '\'')
		fputs("\\&", fp);
	for (; *s != '\0'; s++) {
		if (*s == '\\')
			fputs("\\e", fp);
		else if (*s == '-' && literal)
			fputs("\\-", fp);
		else if (*s == ';' && literal)
			fputs(";\\:", fp);	/* a long list may break after each item */
		else if (*s == '\n')
			fputc(' ', fp);
		else
			fputc(*s, fp);
	}
}

static void
man_section_intro(FILE *fp, const char *section)
{
	for (size_t i = 0; i < G_N_ELEMENTS(man_sections); i++)
		if (strcmp(man_sections[i].section, section) == 0) {
			man_text(fp, man_sections[i].text, 0);
			fputc('\n', fp);
		}
}

static void
man_key(FILE *fp, const struct config_doc *d)
{
	fputs(".TP\n\\fB", fp);
	man_text(fp, d->key, 1);
	fprintf(fp, "\\fR (%s)\n", d->type);
	if (d->help != NULL && *d->help != '\0') {
		man_text(fp, d->help, 0);
		fputs(d->help[strlen(d->help) - 1] == '.' ? "\n" : ".\n", fp);
	}
	fputs(".br\nDefault: ", fp);
	if (d->def == NULL)
		fputs("unset", fp);
	else if (*d->def == '\0')
		fputs("empty", fp);
	else {
		fputs("\\fB", fp);
		man_text(fp, d->def, 1);
		fputs("\\fR", fp);
	}
	if (d->ranged)
		fprintf(fp, "; from %lld to %lld", (long long)d->min, (long long)d->max);
	if (d->choices != NULL) {
		char **ch = g_strsplit(d->choices, "|", -1);

		fputs("; one of ", fp);
		for (int i = 0; ch[i] != NULL; i++) {
			fprintf(fp, "%s\\fB", i == 0 ? "" : ch[i + 1] == NULL ? " or " : ", ");
			man_text(fp, ch[i], 1);
			fputs("\\fR", fp);
		}
		g_strfreev(ch);
	}
	fputs(".\n", fp);
}

/* The title and the description, down to the KEYS heading. */
static void
man_head(FILE *fp)
{
	fputs(".\\\" rebound.conf.5 - written by \"rebound config --man\" from the key table\n"
	    ".\\\" in common/config_params.c: edit the table (or config_man.c), not this file.\n", fp);
	fprintf(fp, ".TH REBOUND.CONF 5 \"\" \"Rebound %s\" \"File Formats Manual\"\n", REBOUND_VERSION);
	/* Left-adjusted: long defaults (charset lists) cannot be justified. */
	fputs(".ad l\n.SH NAME\n"
	    "rebound.conf \\- configuration file of the Rebound bounce and feedback-loop receiver\n"
	    ".SH SYNOPSIS\n"
	    ".I /etc/rebound/rebound.conf\n"
	    ".SH DESCRIPTION\n"
	    ".BR rebound (8)\n"
	    "reads one file in the GLib key-file syntax:\n"
	    ".B [section]\n"
	    "headers, then\n"
	    ".I key\n"
	    ".B =\n"
	    ".I value\n"
	    "lines; lines starting with\n"
	    ".B #\n"
	    "are comments.\n"
	    "Lists are separated by\n"
	    ".B ;\n"
	    "or\n"
	    ".BR , .\n"
	    "Booleans are\n"
	    ".BR true / false\n"
	    "(or\n"
	    ".BR yes / no ,\n"
	    ".BR 1 / 0 ).\n"
	    "A relative path is relative to the directory of the configuration file itself,\n"
	    "never to the current directory.\n"
	    ".PP\n"
	    "Unknown sections and keys, values of the wrong type or out of range, and\n"
	    "malformed addresses are errors, reported as\n"
	    ".IB FILE : LINE : \" message\".\n"
	    ".B rebound config\n"
	    "and\n"
	    ".B rebound serve \\-n\n"
	    "check a file and print the effective settings (secrets masked) in this syntax;\n"
	    ".B serve \\-n\n"
	    "also checks that the rules file, the spool directory and the TLS files can be used.\n"
	    "The daemon reads the file again on SIGHUP; a file that does not load is refused\n"
	    "and the running configuration stays.\n"
	    "Listen addresses, [spool] dir and [store] conninfo need a restart.\n"
	    ".SH KEYS\n", fp);
}

/* Files, an example and see-also. */
static void
man_tail(FILE *fp)
{
	fputs(".SH FILES\n"
	    ".TP\n"
	    ".I /etc/rebound/rebound.conf\n"
	    "The configuration file; the default of every\n"
	    ".B \\-c\n"
	    "option.\n"
	    ".TP\n"
	    ".I /usr/share/rebound/rules.conf\n"
	    "The classification rules; copy it and set [parser] rules to change them.\n"
	    ".TP\n"
	    ".I /var/lib/rebound/spool\n"
	    "The spool.\n"
	    ".SH EXAMPLES\n"
	    "A receiver on port 25 for one return-path domain, with a local database\n"
	    "(peer authentication as the rebound user):\n"
	    ".PP\n"
	    ".nf\n"
	    ".RS\n"
	    "[smtp]\n"
	    "listen = 0.0.0.0:25;[::]:25\n"
	    "hostname = rebound.example.com\n"
	    "domains = bounces.example.com\n"
	    "fbl_addresses = fbl@example.com\n"
	    "\n"
	    "[store]\n"
	    "conninfo = dbname=rebound\n"
	    ".RE\n"
	    ".fi\n"
	    ".SH SEE ALSO\n"
	    ".BR rebound (8)\n", fp);
}

void
config_write_man(FILE *fp)
{
	const char *last = "";
	struct config_doc d;

	man_head(fp);
	for (size_t i = 0; i < config_doc_count(); i++) {
		config_doc_get(i, &d);
		if (strcmp(d.section, last) != 0) {
			fprintf(fp, ".SS [%s]\n", d.section);
			man_section_intro(fp, d.section);
			last = d.section;
		}
		man_key(fp, &d);
	}
	man_tail(fp);
}
