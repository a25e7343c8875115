/*
** profile/retain.h -- "why is this still alive": an object graph's
** dominator tree, retained sizes, paths from the roots, and a pprof
** profile whose stacks are retention chains.
**
** The graph: roots (what holds references without being an object: a
** goroutine's root stack, a process's globals, a pool area) and objects,
** each with its bytes and a label (its allocation site when known, else a
** name made of its size class and slots), and references between them.
** A virtual super-root points at every root. Node d dominates node n when
** every path from the super-root to n passes through d; n's immediate
** dominator is the closest such d, and n's retained size is its bytes plus
** those of every node it dominates: what a collection would free if n
** were gone. Dominators are computed with Cooper, Harvey and Kennedy's
** iterative algorithm ("A Simple, Fast Dominance Algorithm", 2001) over
** the reverse postorder of a depth-first walk.
**
** Knows nothing of the heap or of storage: shm_heap's heap_snapshot()
** feeds it, through the caller.
*/
#ifndef HEAPSIM_PROFILE_RETAIN_H
#define HEAPSIM_PROFILE_RETAIN_H

#include <stddef.h>
#include <stdint.h>

typedef struct retain_graph retain_graph_t;

#define RETAIN_NONE UINT32_MAX       /* no node (the super-root's idom) */
#define RETAIN_SUPER 0u              /* the super-root's node index */
#define RETAIN_STACK_MAX 64          /* pprof frames per chain; deeper ones fold */

retain_graph_t *retain_graph_new(void);
void retain_graph_destroy(retain_graph_t **g_p);

/* Add a root or an object under `key` (unique, non-zero: a heap ref).
** A root's `group` names what it is (goroutines blocked alike share it:
** "goroutine leak.watcher [chan receive]"), `instance` which one
** ("goroutine 4711"); an object's label is its site or NULL (then its
** class and slots name it). Returns the node's index (> 0), or -ENOMEM /
** -EEXIST (key already added). Strings are copied. */
int64_t retain_add_root(retain_graph_t *g, uint64_t key, const char *group,
                        const char *instance);
int64_t retain_add_object(retain_graph_t *g, uint64_t key, uint64_t bytes,
                          uint32_t size_class, uint32_t nptrs, const char *site);
/* A reference from node `from` (an index returned above) to the node of
** key `to`, which may be added later; one to a key never added is
** dropped by retain_graph_analyze(). 0 or -ENOMEM. */
int retain_add_edge(retain_graph_t *g, uint32_t from, uint64_t to);

/* Resolve edges, walk from the super-root, compute immediate dominators,
** retained sizes, shortest paths from the roots. After it no node or edge
** may be added. 0 or -ENOMEM (the graph is then unusable). */
int retain_graph_analyze(retain_graph_t *g);

/* After analyze: node counts and per-node answers (n < retain_nodes()).
** Unreachable nodes have idom RETAIN_NONE and retained 0. */
uint32_t retain_nodes(const retain_graph_t *g);
uint32_t retain_idom(const retain_graph_t *g, uint32_t n);
uint64_t retain_retained_bytes(const retain_graph_t *g, uint32_t n);
uint32_t retain_node_of(const retain_graph_t *g, uint64_t key);   /* RETAIN_NONE if absent */
const char *retain_label(const retain_graph_t *g, uint32_t n);
uint64_t retain_reachable_bytes(const retain_graph_t *g);

/* What keeps a site's objects alive: among the objects labelled `site`,
** those held through roots of one group (the group holding the most
** retained bytes of them; ties: the first found). */
typedef struct retain_site {
    char *site;
    char *root_group;            /* the roots' group */
    char *root;                  /* the root on the path shown (its instance) */
    uint64_t roots;              /* roots of that group holding such objects */
    uint64_t objects;            /* the site's objects held through them */
    uint64_t site_objects;       /* the site's reachable objects, all groups */
    uint64_t retained_bytes;     /* retained by those objects (no object counted twice) */
    char *holder;                /* their closest common dominator's label, or the group */
    uint64_t holder_retained_bytes;   /* what it retains; the group: all its roots retain */
    /* The shortest path from the root to the object of them that retains
    ** the most: "ROOT -> LABEL (B B, retains R B) -> ...", one step a line. */
    char *path;
    uint32_t path_len;           /* objects on it */
} retain_site_t;

/* Report `site` (after analyze) into *out (strings malloc'd:
** retain_site_free). Returns 0, 1 when no reachable object has that
** label (*out zeroed), or -ENOMEM. */
int retain_site_report(const retain_graph_t *g, const char *site, retain_site_t *out);
void retain_site_free(retain_site_t *s);

/* The retention profile in pprof's format, gzipped (profile.h's
** encoding): one sample per distinct chain, the chain being the dominator
** tree's path root group -> ... -> object, one frame per label (runs of
** one label fold into one frame, like recursion; chains past
** RETAIN_STACK_MAX frames fold into "(deeper)"); values: objects, and
** bytes (their own). So `go tool pprof -top` shows for each label its
** own bytes (flat) and the bytes it retains (cum). `comment` may be NULL.
** Returns 0, -ENOMEM or PROFILE_EGZIP. */
int retain_pprof_encode(const retain_graph_t *g, int64_t time_unix_ns, const char *comment,
                        unsigned char **buf_p, size_t *len_p);

#endif
