/*
** base/table.c -- an aligned text table for the history commands.
**
** Rows are kept until the table is printed, since a column is as wide as
** its widest cell. Width is counted in UTF-8 characters (a byte that is not
** a continuation byte), so "µs" is two columns wide, not three. Cell text
** is escaped on the way in: a newline or a terminal escape in a name read
** from the file stays one harmless line.
*/
#include "base/table.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct cell {
    char *text;                 /* escaped; NULL is an empty cell */
    signed char right_align;    /* -1: the column's default */
} cell_t;

struct text_table {
    size_t ncols;
    char **titles;              /* [ncols], escaped */
    bool *right_align;          /* [ncols], the columns' defaults */
    cell_t *cells;              /* [nrows * ncols] */
    size_t nrows, cap_rows;
};

text_table_t *text_table_new(size_t ncols)
{
    text_table_t *table = calloc(1, sizeof *table);

    if (!table)
        return NULL;
    table->ncols = ncols;
    table->titles = calloc(ncols ? ncols : 1, sizeof *table->titles);
    table->right_align = calloc(ncols ? ncols : 1, sizeof *table->right_align);
    if (!table->titles || !table->right_align)
        goto out_free_table;
    return table;

out_free_table:
    free(table->right_align);
    free(table->titles);
    free(table);
    return NULL;
}

void text_table_destroy(text_table_t **table_p)
{
    text_table_t *table;

    if (!table_p || !*table_p)
        return;
    table = *table_p;
    for (size_t i = 0; i < table->nrows * table->ncols; i++)
        free(table->cells[i].text);
    for (size_t col = 0; col < table->ncols; col++)
        free(table->titles[col]);
    free(table->cells);
    free(table->right_align);
    free(table->titles);
    free(table);
    *table_p = NULL;
}

/* len bytes of text, with control characters (and DEL) written as C-style
** escapes. NULL when out of memory. */
static char *escape(const char *text, size_t len)
{
    char *copy = malloc(len * 4 + 1), *p = copy;

    if (!copy)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];

        if (c == '\n') {
            *p++ = '\\';
            *p++ = 'n';
        } else if (c == '\t') {
            *p++ = '\\';
            *p++ = 't';
        } else if (c == '\r') {
            *p++ = '\\';
            *p++ = 'r';
        } else if (c < 0x20 || c == 0x7f) {
            p += sprintf(p, "\\x%02x", c);
        } else {
            *p++ = (char)c;
        }
    }
    *p = '\0';
    return copy;
}

/* Display width of s: its UTF-8 characters. */
static size_t width_of(const char *s)
{
    size_t width = 0;

    for (; s && *s; s++)
        if (((unsigned char)*s & 0xc0) != 0x80)
            width++;
    return width;
}

int text_table_header(text_table_t *table, size_t col, const char *title,
                        bool right_align)
{
    char *copy;

    if (col >= table->ncols)
        return -1;
    copy = escape(title ? title : "", title ? strlen(title) : 0);
    if (!copy)
        return -1;
    free(table->titles[col]);
    table->titles[col] = copy;
    table->right_align[col] = right_align;
    return 0;
}

int text_table_row(text_table_t *table)
{
    if (table->nrows == table->cap_rows) {
        size_t cap = table->cap_rows ? table->cap_rows * 2 : 16;
        cell_t *cells = realloc(table->cells, cap * table->ncols * sizeof *cells);

        if (!cells)
            return -1;
        table->cells = cells;
        table->cap_rows = cap;
    }
    for (size_t col = 0; col < table->ncols; col++)
        table->cells[table->nrows * table->ncols + col] = (cell_t){ NULL, -1 };
    table->nrows++;
    return 0;
}

int text_table_cell(text_table_t *table, size_t col, const char *text,
                      size_t len, int right_align)
{
    cell_t *cell;
    char *copy;

    if (table->nrows == 0 || col >= table->ncols)
        return -1;
    copy = escape(text ? text : "", text ? len : 0);
    if (!copy)
        return -1;
    cell = &table->cells[(table->nrows - 1) * table->ncols + col];
    free(cell->text);
    cell->text = copy;
    cell->right_align = (signed char)(right_align < 0 ? -1 : right_align > 0);
    return 0;
}

int text_table_cellf(text_table_t *table, size_t col, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    int len;

    va_start(ap, fmt);
    len = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (len < 0)
        return -1;
    if ((size_t)len >= sizeof buf)
        len = sizeof buf - 1;
    return text_table_cell(table, col, buf, (size_t)len, -1);
}

size_t text_table_rows(const text_table_t *table)
{
    return table->nrows;
}

static void print_padded(FILE *out, const char *text, size_t width, bool right_align,
                         bool last)
{
    size_t pad = width - width_of(text);

    if (right_align)
        fprintf(out, "%*s%s", (int)pad, "", text);
    else if (last)
        fputs(text, out);
    else
        fprintf(out, "%s%*s", text, (int)pad, "");
}

void text_table_print(const text_table_t *table, FILE *out, int indent)
{
    size_t *widths = calloc(table->ncols ? table->ncols : 1, sizeof *widths);
    size_t ncols = table->ncols;

    if (!widths) {
        fputs("(out of memory)\n", out);
        return;
    }
    for (size_t col = 0; col < ncols; col++) {
        widths[col] = width_of(table->titles[col]);
        for (size_t row = 0; row < table->nrows; row++) {
            size_t w = width_of(table->cells[row * ncols + col].text);

            if (w > widths[col])
                widths[col] = w;
        }
    }
    fprintf(out, "%*s", indent, "");
    for (size_t col = 0; col < ncols; col++) {
        fputs(col ? "  " : "", out);
        print_padded(out, table->titles[col] ? table->titles[col] : "", widths[col],
                     table->right_align[col], col + 1 == ncols);
    }
    fprintf(out, "\n%*s", indent, "");
    for (size_t col = 0; col < ncols; col++) {
        fputs(col ? "  " : "", out);
        for (size_t i = 0; i < widths[col]; i++)
            fputc('-', out);
    }
    fputc('\n', out);
    for (size_t row = 0; row < table->nrows; row++) {
        const cell_t *cells = &table->cells[row * ncols];
        size_t end = ncols;                 /* no trailing empty cells */

        while (end > 0 && (!cells[end - 1].text || !cells[end - 1].text[0]))
            end--;
        fprintf(out, "%*s", indent, "");
        for (size_t col = 0; col < end; col++) {
            bool right = cells[col].right_align < 0 ? table->right_align[col]
                                                    : cells[col].right_align > 0;

            fputs(col ? "  " : "", out);
            print_padded(out, cells[col].text ? cells[col].text : "", widths[col],
                         right, col + 1 == end);
        }
        fputc('\n', out);
    }
    free(widths);
}
