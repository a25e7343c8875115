/* kernels/kernels.c -- name -> implementation. */
#include "kernels/kernels.h"

#include <string.h>

static const struct {
    const char *name;
    kernel_fn_t fn;
} table[] = {
    {"binary_trees", kernel_binary_trees},
    {"churn", kernel_churn},
    {"copy_vs_pointer", kernel_copy_vs_pointer},
    {"gcbench", kernel_gcbench},
    {"leak", kernel_leak},
    {"pingpong", kernel_pingpong},
    {"pool", kernel_pool},
    {"producer_consumer", kernel_producer_consumer},
    {"request_server", kernel_request_server},
    {"sessions", kernel_sessions},
    {"spawn", kernel_spawn},
    {"stacks", kernel_stacks},
};

kernel_fn_t kernels_find(const char *name)
{
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(table[i].name, name) == 0)
            return table[i].fn;
    return NULL;
}
