/*
 * conf_dump.c - every setting and its value, written back in mhkit.conf
 * syntax (libconfig): for the documentation's "every default" block, for
 * checking that what was read is what was meant, and for a future -n.
 * Groups come out in the table's order; strings are quoted with \" and \\
 * escaped; sizes and durations in their shortest exact unit.
 *
 * Public functions: conf_dump.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf_table.h"
#include "endpoint.h"
#include "log.h"
#include "sbuf.h"
#include "units.h"

#define CONF_DUMP_MAX	(CONF_LIST_MAX * (2 * CONF_STR_MAX + 4) + 256)	/* one dumped line */

/* conf_put_string - a string in libconfig syntax, "..." with \" and \\ escaped */
static void
conf_put_string(struct sbuf *sb, const char *s)
{
	sbuf_putc(sb, '"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			sbuf_putc(sb, '\\');
		sbuf_putc(sb, *s);
	}
	sbuf_putc(sb, '"');
}

/*
 * conf_put_score - fewest decimals (at least one) that read back as the
 * same double; a value so small that 17 decimals do not hold it
 * (2.3e-11, which the file may well say) in libconfig's exponent form,
 * which always does (%.17g)
 */
static void
conf_put_score(struct sbuf *sb, double v)
{
	char	buf[64];			/* |v| <= 1000: at most 4 + 1 + 17 digits */

	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*f", prec, v);
		if (strtod(buf, NULL) == v) {
			sbuf_puts(sb, buf);
			return;
		}
	}
	snprintf(buf, sizeof(buf), "%.17g", v);
	if (strpbrk(buf, ".e") == NULL)		/* libconfig would read an integer */
		snprintf(buf, sizeof(buf), "%.1f", v);
	sbuf_puts(sb, buf);
}

/* conf_put_value - one setting's value in libconfig syntax */
static void
conf_put_value(struct sbuf *sb, const struct conf *conf, const struct conf_entry *e)
{
	struct conf *c = (struct conf *) conf;
	char	buf[ENDPOINT_FORMAT_MAX];
	size_t	count;

	switch (e->type) {
	case CONF_STRING:
		conf_put_string(sb, *(char **) conf_field(c, e->offset));
		break;
	case CONF_UINT:
		sbuf_printf(sb, "%u", *(unsigned *) conf_field(c, e->offset));
		break;
	case CONF_SIZE:
		conf_put_string(sb, units_format_size(*(uint64_t *) conf_field(c, e->offset),
						      buf, sizeof(buf)));
		break;
	case CONF_DURATION:
		conf_put_string(sb, units_format_duration(*(uint64_t *) conf_field(c, e->offset),
							  buf, sizeof(buf)));
		break;
	case CONF_SCORE:
		conf_put_score(sb, *(double *) conf_field(c, e->offset));
		break;
	case CONF_ENUM:
		conf_put_string(sb, e->choices[*(unsigned *) conf_field(c, e->offset)]);
		break;
	case CONF_ENDPOINT:
		conf_put_string(sb, endpoint_format(conf_field(c, e->offset), buf, sizeof(buf)));
		break;
	case CONF_STRLIST:
	case CONF_DNSLIST:
	case CONF_HOSTPORTLIST:
		count = e->type == CONF_STRLIST ? ((struct conf_list *) conf_field(c, e->offset))->count
		    : *(size_t *) conf_field(c, e->count_offset);
		sbuf_puts(sb, count ? "[ " : "[");
		for (size_t i = 0; i < count; i++) {
			const struct hostport *hp = (const struct hostport *) conf_field(c, e->offset) + i;

			if (i)
				sbuf_puts(sb, ", ");
			if (e->type == CONF_STRLIST)
				conf_put_string(sb, ((struct conf_list *) conf_field(c, e->offset))->items[i]);
			else if (e->type == CONF_DNSLIST)
				conf_put_string(sb, dnsserver_format(hp, buf, sizeof(buf)));
			else
				conf_put_string(sb, hostport_format(hp, buf, sizeof(buf)));
		}
		sbuf_puts(sb, count ? " ]" : "]");
		break;
	}
}

/* conf_group_len - length of the group part of name[0..len) ("redis.sentinel" of "redis.sentinel.master") */
static size_t
conf_group_len(const char *name, size_t len)
{
	while (len > 0 && name[len - 1] != '.')
		len--;
	return len ? len - 1 : 0;
}

/* conf_depth - groups in a group path ("" 0, "redis" 1, "redis.sentinel" 2) */
static int
conf_depth(const char *group, size_t len)
{
	int	depth = len > 0;

	for (size_t i = 0; i < len; i++)
		depth += group[i] == '.';
	return depth;
}

/* conf_within - is group g[0..glen) the open group or inside it */
static int
conf_within(const char *g, size_t glen, const char *open, size_t openlen)
{
	return openlen == 0 || (openlen <= glen && strncmp(g, open, openlen) == 0
				&& (openlen == glen || g[openlen] == '.'));
}

/*
 * conf_emit - hand one line to the caller and start the next.  CONF_DUMP_MAX
 * holds the longest line the table allows, so appends cannot fail.
 */
static void
conf_emit(struct sbuf *sb, void (*out)(const char *, void *), void *ctx)
{
	out(sbuf_str(sb), ctx);
	sbuf_reset(sb);
}

/* conf_dump - every setting and its value, in mhkit.conf syntax */
void
conf_dump(const struct conf *conf, void (*out)(const char *line, void *ctx), void *ctx)
{
	struct sbuf sb;
	const char *open = "";		/* the group now open is open[0..openlen) */
	size_t	openlen = 0;

	sbuf_init(&sb, CONF_DUMP_MAX);
	for (size_t i = 0; i <= conf_table_count; i++) {
		const char *name = i < conf_table_count ? conf_table[i].name : "";
		size_t	glen = conf_group_len(name, strlen(name));

		while (!conf_within(name, glen, open, openlen)) {
			sbuf_printf(&sb, "%*s};", 2 * (conf_depth(open, openlen) - 1), "");
			conf_emit(&sb, out, ctx);
			openlen = conf_group_len(open, openlen);
		}
		if (i == conf_table_count)
			break;
		open = name;
		while (openlen < glen) {
			size_t	start = openlen ? openlen + 1 : 0;
			size_t	n = strcspn(name + start, ".");

			sbuf_printf(&sb, "%*s%.*s = {", 2 * conf_depth(name, openlen), "",
				    (int) n, name + start);
			conf_emit(&sb, out, ctx);
			openlen = start + n;
		}
		sbuf_printf(&sb, "%*s%s = ", 2 * conf_depth(name, glen), "", name + glen + (glen > 0));
		conf_put_value(&sb, conf, conf_table + i);
		sbuf_putc(&sb, ';');
		conf_emit(&sb, out, ctx);
	}
	sbuf_free(&sb);
}
