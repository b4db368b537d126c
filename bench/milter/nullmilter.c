/*
 * nullmilter.c - the ceiling of bench/milter: a libmilter filter that
 * accepts everything and does nothing else.
 *
 *   nullmilter SOCKET        e.g. inet:10099@127.0.0.1 or unix:/tmp/null.sock
 *
 * It registers the same callbacks and asks for the same actions as
 * mhmilter (milter/filter.c: connect, helo, envfrom, envrcpt, header, eoh,
 * body, eom, abort, close; SMFIF_DELRCPT | SMFIF_ADDHDRS | SMFIF_CHGHDRS)
 * and negotiates the same protocol options (no reply to HELO, MAIL,
 * headers and the end of headers; no DATA, no unknown commands), so
 * Postfix speaks the same protocol to it: every other command and every
 * body chunk makes a round trip to the milter, one libmilter thread per
 * SMTP connection. Each callback answers "continue" (or nothing) and the
 * end of the message "accept". A per-connection private pointer is
 * allocated and freed as every real filter does. Runs in the foreground
 * until SIGTERM/SIGINT (libmilter's own handling).
 *
 * Built by bench/milter/run.sh: cc -O2 -o nullmilter nullmilter.c -lmilter -lpthread
 */
#include <stdio.h>
#include <stdlib.h>
#include <sysexits.h>
#include <libmilter/mfapi.h>

#define NULL_NOREPLY	(SMFIP_NR_HELO | SMFIP_NR_MAIL | SMFIP_NR_HDR | SMFIP_NR_EOH)
#define NULL_ACTIONS	(SMFIF_DELRCPT | SMFIF_ADDHDRS | SMFIF_CHGHDRS)

/* the MTA took NULL_NOREPLY (one Postfix offers the same to every session) */
static volatile int null_noreply;

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
null_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1, unsigned long f2,
	       unsigned long f3, unsigned long *pf0, unsigned long *pf1, unsigned long *pf2,
	       unsigned long *pf3)
{
	(void)ctx;
	(void)f2;
	(void)f3;
	if ((f0 & NULL_ACTIONS) != NULL_ACTIONS)
		return SMFIS_REJECT;
	*pf0 = NULL_ACTIONS;
	*pf1 = f1 & (SMFIP_NOUNKNOWN | SMFIP_NODATA);
	null_noreply = (f1 & NULL_NOREPLY) == NULL_NOREPLY;
	if (null_noreply)
		*pf1 |= NULL_NOREPLY;
	*pf2 = *pf3 = 0;
	return SMFIS_CONTINUE;
}

static sfsistat
null_helo(SMFICTX *ctx, char *helo)
{
	(void)ctx;
	(void)helo;
	return null_noreply ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

static sfsistat
null_envfrom(SMFICTX *ctx, char **argv)
{
	struct null_conn *c = smfi_getpriv(ctx);

	(void)argv;
	if (c)
		c->bytes = 0;
	return null_noreply ? SMFIS_NOREPLY : SMFIS_CONTINUE;
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
	return null_noreply ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

static sfsistat
null_eoh(SMFICTX *ctx)
{
	(void)ctx;
	return null_noreply ? SMFIS_NOREPLY : SMFIS_CONTINUE;
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
	.xxfi_flags = NULL_ACTIONS,
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
	.xxfi_negotiate = null_negotiate,
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
