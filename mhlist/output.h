/* output.h - tables for people, JSON for scripts (see output.c) */
#ifndef MH_OUTPUT_H
#define MH_OUTPUT_H

#include <stddef.h>
#include <jansson.h>

#define OUTPUT_COLUMNS_MAX	8

struct output_table;

struct output_table *output_table_new(size_t ncols, const char *const *headers);
void	output_table_row(struct output_table *, const char *const *cells);
/* output_table_print - aligned columns on stdout, then frees the table */
void	output_table_print(struct output_table *);
/* output_table_discard - free without printing (a command that failed half way) */
void	output_table_discard(struct output_table *);

/* output_json - print a JSON value on stdout (one document, newline) and free it */
void	output_json(json_t *);
/* output_json_strings - a JSON array of C strings */
json_t *output_json_strings(char *const *items, size_t count);

#endif
