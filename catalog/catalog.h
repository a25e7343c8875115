/*
** catalog/catalog.h -- what kernels exist and what parameters they take.
**
** Pure data, no runtime: the scenario loader validates against it on the
** coordinator side, the wire protocol carries kparams_t values, and the
** kernels (kernels.h) read them on the worker side.
**
** A parameter has a name, a type, a default and an inclusive range. Values
** are held as kparam_value_t, tagged by the spec's type.
*/
#ifndef HEAPSIM_CATALOG_CATALOG_H
#define HEAPSIM_CATALOG_CATALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum kparam_type {
    KPARAM_INT = 1,   /* int64, range [min_i, max_i] */
    KPARAM_SIZE,      /* bytes, int64; YAML may say "64KiB", "4MiB", "1GiB" */
    KPARAM_FLOAT,     /* double, range [min_f, max_f] */
    KPARAM_BOOL,
    KPARAM_STRING     /* one of `choices` when choices is non-NULL */
} kparam_type_t;

typedef struct kparam_spec {
    const char *name;
    kparam_type_t type;
    const char *doc;          /* one line, for `heapsim kernels` */
    int64_t def_i;            /* default for INT, SIZE, BOOL (0/1) */
    double def_f;             /* default for FLOAT */
    const char *def_s;        /* default for STRING */
    int64_t min_i, max_i;     /* INT and SIZE */
    double min_f, max_f;      /* FLOAT */
    const char *const *choices; /* STRING: NULL-terminated, or NULL for any */
} kparam_spec_t;

typedef struct kernel_spec {
    const char *name;         /* e.g. "binary_trees" */
    const char *summary;      /* one line: what the kernel shows */
    const kparam_spec_t *params;
    size_t nparams;
} kernel_spec_t;

typedef struct kparam_value {
    kparam_type_t type;
    union {
        int64_t i;            /* INT, SIZE, BOOL */
        double f;             /* FLOAT */
        char *s;              /* STRING, owned by the kparams_t */
    } u;
} kparam_value_t;

/* One task's parameters: every parameter of the kernel, in spec order. */
typedef struct kparams {
    const kernel_spec_t *kernel;
    kparam_value_t *values;   /* kernel->nparams entries */
} kparams_t;

/* The registry, in a stable order. */
const kernel_spec_t *catalog_kernels(size_t *count);
const kernel_spec_t *catalog_find(const char *name);
const kparam_spec_t *catalog_param(const kernel_spec_t *k, const char *name,
                                   size_t *index);
/* "binary_trees, gcbench, ..." into buf; returns buf. */
char *catalog_kernel_names(char *buf, size_t size);
/* "depth (int, 4..30, default 10), ..." into buf; returns buf. */
char *catalog_param_list(const kernel_spec_t *k, char *buf, size_t size);

/* Fill params with the kernel's defaults. Returns 0 or -ENOMEM. */
int kparams_init(kparams_t *p, const kernel_spec_t *k);
void kparams_free(kparams_t *p);
int kparams_copy(kparams_t *dst, const kparams_t *src);

/* Parse `text` as a value of spec's type and check its range; on success
** stores it into p (replacing the old value) and returns 0; on failure
** returns -EINVAL, leaves p unchanged and writes a one-line reason
** ("expected an integer from 4 to 30, got \"abc\"") to err. */
int kparams_set_text(kparams_t *p, size_t index, const char *text,
                     char *err, size_t errsize);
/* The same for typed values (from a YAML scalar, a msgpack field). */
int kparams_set_int(kparams_t *p, size_t index, int64_t v, char *err, size_t errsize);
int kparams_set_float(kparams_t *p, size_t index, double v, char *err, size_t errsize);
int kparams_set_bool(kparams_t *p, size_t index, bool v, char *err, size_t errsize);
int kparams_set_string(kparams_t *p, size_t index, const char *v, char *err, size_t errsize);

/* Typed getters by name for kernels; the name must be one of the kernel's
** parameters (an invariant of our own code: asserts otherwise). */
int64_t kparams_int(const kparams_t *p, const char *name);
double kparams_float(const kparams_t *p, const char *name);
bool kparams_bool(const kparams_t *p, const char *name);
const char *kparams_string(const kparams_t *p, const char *name);

/* The parameters as a JSON object text, malloc'd: every parameter in spec
** order, integers and sizes as numbers, floats as a person writes them
** (10.0, 0.25, 1e-07: the shortest text that reads back exactly), bools,
** strings ("{\"depth\":10,\"ratio\":0.5}"). NULL when out of memory. The
** one writer of parameter values as JSON: stored tasks, `heapsim check`,
** `heapsim kernels --json`. */
char *kparams_json(const kparams_t *p);

/* "int", "size", "float", "bool", "string". */
const char *catalog_type_name(kparam_type_t type);
/* What a value of `s` must be, as the "expected ..." part of an error:
** "an integer from 4 to 30", "a size from 8 B to 32 MiB", "true or false",
** "one of fast, slow". Returns buf. */
char *catalog_param_expected(const kparam_spec_t *s, char *buf, size_t size);

#endif
