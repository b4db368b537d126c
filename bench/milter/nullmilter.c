/*
 * nullmilter.c - the ceiling of bench/milter: a libmilter filter that
 * accepts everything and does nothing else.
 *
 *   nullmilter SOCKET        e.g. inet:10099@127.0.0.1 or unix:/tmp/null.sock
 *
 * It registers the same callbacks and asks for the same actions as
 * mhmilter (milter/filter.c: connect, helo, envfrom, envrcpt, header, eoh,
 * body, eom, abort, close; SMFIF_DELRCPT | SMFIF_ADDHDRS | SMFIF_CHGHDRS),
 * so Postfix speaks the same protocol to it: every command and every body
 * chunk makes a round trip to the milter, one libmilter thread per SMTP
 * connection. Each callback answers "continue" and the end of the message
 * "accept". A per-connection private pointer is allocated and freed as
 * every real filter does. Runs in the foreground until SIGTERM/SIGINT
 * (libmilter's own handling).
 *
 * Built by bench/milter/run.sh: cc -O2 -o nullmilter nullmilter.c -lmilter -lpthread
 */
#include <stdio.h>
#include <stdlib.h>
#include <sysexits.h>
#include <libmilter/mfapi.h>

struct null_conn {
	unsigned long	bytes;		/* body bytes seen (kept, never used) */
};

static sfsistat
null_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *addr)
{
	struct null_conn *c = calloc(1, sizeof(*c));

	(void)host;
	(void)addr;
	if (c == NULL)
		return SMFIS_TEMPFAIL;
	smfi_setpriv(ctx, c);
	return SMFIS_CONTINUE;
}

static sfsistat
null_helo(SMFICTX *ctx, char *helo)
{
	(void)ctx;
	(void)helo;
	return SMFIS_CONTINUE;
}

static sfsistat
null_envfrom(SMFICTX *ctx, char **argv)
{
	struct null_conn *c = smfi_getpriv(ctx);

	(void)argv;
	if (c)
		c->bytes = 0;
	return SMFIS_CONTINUE;
}

static sfsistat
null_envrcpt(SMFICTX *ctx, char **argv)
{
	(void)ctx;
	(void)argv;
	return SMFIS_CONTINUE;
}

static sfsistat
null_header(SMFICTX *ctx, char *name, char *value)
{
	(void)ctx;
	(void)name;
	(void)value;
	return SMFIS_CONTINUE;
}

static sfsistat
null_eoh(SMFICTX *ctx)
{
	(void)ctx;
	return SMFIS_CONTINUE;
}

static sfsistat
null_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
	struct null_conn *c = smfi_getpriv(ctx);

	(void)chunk;
	if (c)
		c->bytes += len;
	return SMFIS_CONTINUE;
}

static sfsistat
null_eom(SMFICTX *ctx)
{
	(void)ctx;
	return SMFIS_ACCEPT;
}

static sfsistat
null_abort(SMFICTX *ctx)
{
	(void)ctx;
	return SMFIS_CONTINUE;
}

static sfsistat
null_close(SMFICTX *ctx)
{
	free(smfi_getpriv(ctx));
	smfi_setpriv(ctx, NULL);
	return SMFIS_CONTINUE;
}

static struct smfiDesc null_desc = {
	.xxfi_name = "nullmilter",
	.xxfi_version = SMFI_VERSION,
	.xxfi_flags = SMFIF_DELRCPT | SMFIF_ADDHDRS | SMFIF_CHGHDRS,
	.xxfi_connect = null_connect,
	.xxfi_helo = null_helo,
	.xxfi_envfrom = null_envfrom,
	.xxfi_envrcpt = null_envrcpt,
	.xxfi_header = null_header,
	.xxfi_eoh = null_eoh,
	.xxfi_body = null_body,
	.xxfi_eom = null_eom,
	.xxfi_abort = null_abort,
	.xxfi_close = null_close,
};

int
main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: nullmilter SOCKET (inet:PORT@127.0.0.1 or unix:PATH)\n");
		return EX_USAGE;
	}
	if (smfi_setconn(argv[1]) != MI_SUCCESS || smfi_settimeout(300) != MI_SUCCESS
	    || smfi_register(null_desc) != MI_SUCCESS) {
		fprintf(stderr, "nullmilter: libmilter refused the filter's description\n");
		return EX_SOFTWARE;
	}
	if (smfi_opensocket(1) != MI_SUCCESS) {
		fprintf(stderr, "nullmilter: cannot listen on %s\n", argv[1]);
		return EX_UNAVAILABLE;
	}
	fprintf(stderr, "nullmilter: ready on %s\n", argv[1]);
	return smfi_main() == MI_SUCCESS ? 0 : EX_OSERR;
}
