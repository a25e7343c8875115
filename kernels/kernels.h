/*
** kernels/kernels.h -- the workload programs, run on a worker's green
** threads over the shared heap.
**
** A kernel runs as the task's first goroutine; it reads its parameters with
** kparams_*() on the parameters it is given, writes its output text with rt_printf() (for
** kernels with a reference output, byte for byte), its own figures with
** rt_metric(), and fails its task with rt_fail(). Each kernel's parameters
** are declared in catalog.c; each catalog entry has an implementation here
** (kernels_test checks it).
*/
#ifndef HEAPSIM_KERNELS_KERNELS_H
#define HEAPSIM_KERNELS_KERNELS_H

#include "catalog/catalog.h"
#include "runtime/rt.h"

typedef void (*kernel_fn_t)(rt_t *rt, const kparams_t *p);

/* The implementation of the catalog kernel `name`, NULL if none. */
kernel_fn_t kernels_find(const char *name);

void kernel_binary_trees(rt_t *rt, const kparams_t *p);
void kernel_gcbench(rt_t *rt, const kparams_t *p);
void kernel_churn(rt_t *rt, const kparams_t *p);
void kernel_spawn(rt_t *rt, const kparams_t *p);
void kernel_pingpong(rt_t *rt, const kparams_t *p);
void kernel_leak(rt_t *rt, const kparams_t *p);
void kernel_stacks(rt_t *rt, const kparams_t *p);
void kernel_producer_consumer(rt_t *rt, const kparams_t *p);
void kernel_copy_vs_pointer(rt_t *rt, const kparams_t *p);
void kernel_pool(rt_t *rt, const kparams_t *p);
void kernel_request_server(rt_t *rt, const kparams_t *p);
void kernel_sessions(rt_t *rt, const kparams_t *p);

#endif
