/*
 * output.c - mhlist output: aligned tables for people, JSON for scripts.
 *
 * Tables are built in memory, row by row, and printed with each column
 * as wide as its widest cell (the last column is not padded). JSON goes
 * through jansson, which escapes and checks UTF-8, so text from Redis
 * cannot break the document. Both write to stdout; errors go to stderr
 * from the commands themselves.
 *
 * Public functions: output_table_new, output_table_row,
 * output_table_print, output_table_discard, output_json,
 * output_json_strings.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "output.h"

struct output_table {
	size_t	ncols;
	size_t	nrows;
	size_t	cap;
	char  **cells;			/* nrows x ncols, row 0 = headers */
	size_t	width[OUTPUT_COLUMNS_MAX];
};

/* output_table_new - a table with these column headers */
struct output_table *
output_table_new(size_t ncols, const char *const *headers)
{
	struct output_table *t;

	if (ncols == 0 || ncols > OUTPUT_COLUMNS_MAX)
		msg_panic("output_table_new: %zu columns", ncols);
	if ((t = calloc(1, sizeof(*t))) == NULL)
		msg_panic("output: out of memory");
	t->ncols = ncols;
	output_table_row(t, headers);
	return t;
}

/* output_table_row - add a row; cells are copied */
void
output_table_row(struct output_table *t, const char *const *cells)
{
	if (t->nrows == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 16;
		if ((t->cells = realloc(t->cells, t->cap * t->ncols * sizeof(char *))) == NULL)
			msg_panic("output: out of memory");
	}
	for (size_t c = 0; c < t->ncols; c++) {
		const char *cell = cells[c] ? cells[c] : "";
		size_t	len = strlen(cell);

		if ((t->cells[t->nrows * t->ncols + c] = strdup(cell)) == NULL)
			msg_panic("output: out of memory");
		if (len > t->width[c])
			t->width[c] = len;
	}
	t->nrows++;
}

/* output_table_print - print and free */
void
output_table_print(struct output_table *t)
{
	for (size_t r = 0; r < t->nrows; r++) {
		for (size_t c = 0; c < t->ncols; c++) {
			const char *cell = t->cells[r * t->ncols + c];

			if (c + 1 < t->ncols)
				printf("%-*s  ", (int) t->width[c], cell);
			else
				printf("%s\n", cell);
		}
	}
	output_table_discard(t);
}

/* output_table_discard - free, print nothing */
void
output_table_discard(struct output_table *t)
{
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}

/* output_json - print one document and free it */
void
output_json(json_t *doc)
{
	char   *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

	if (text == NULL)
		msg_panic("output: JSON encoding failed");
	printf("%s\n", text);
	free(text);
	json_decref(doc);
}

/* output_json_strings - array of strings */
json_t *
output_json_strings(char *const *items, size_t count)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < count; i++)
		json_array_append_new(arr, json_string(items[i]));
	return arr;
}
