/*
** base/table.h -- an aligned text table, as the history commands print
** them: rows are kept until printed, each column as wide as its widest
** cell in UTF-8 characters, and cell text is escaped on the way in.
*/
#ifndef HEAPSIM_BASE_TABLE_H
#define HEAPSIM_BASE_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef struct text_table text_table_t;

/* A table with ncols columns; NULL when out of memory. */
text_table_t *text_table_new(size_t ncols);
void text_table_destroy(text_table_t **table_p);
/* Set the header of column col (copied; control characters escaped) and
** whether its cells are right-aligned (numbers). */
int text_table_header(text_table_t *table, size_t col, const char *title,
                        bool right_align);
/* Start a new row; its cells are empty until set. -1 when out of memory. */
int text_table_row(text_table_t *table);
/* Set a cell of the last row to len bytes of text (copied; control
** characters are shown as \n, \t, \xNN so a cell stays on one line).
** right_align overrides the column's default for this cell when >= 0.
** -1 when out of memory; the row is unchanged. */
int text_table_cell(text_table_t *table, size_t col, const char *text,
                      size_t len, int right_align);
/* Same, formatted. */
int text_table_cellf(text_table_t *table, size_t col, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* How many rows the table has. */
size_t text_table_rows(const text_table_t *table);
/* Print header, rule and rows, each column as wide as its widest cell
** (counted in UTF-8 characters), indented by indent spaces. */
void text_table_print(const text_table_t *table, FILE *out, int indent);

#endif
