/* kernels/kernels.c -- name -> implementation. */
#include "kernels/kernels.h"

#include <string.h>

static const struct {
    const char *name;
    kernel_fn_t fn;
} table[] = {
    {"binary_trees", kernel_binary_trees},
    {"churn", kernel_churn},
    {"gcbench", kernel_gcbench},
    {"leak", kernel_leak},
    {"pingpong", kernel_pingpong},
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
