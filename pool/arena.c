/*
 * pool_arena (pool.h): a bump allocator for records that are never freed one
 * by one (databases, and the proxy's per-database statistics, live until
 * exit).  Chunks come from mmap, outside malloc's heap, so that thousands of
 * paused databases' records sit densely on pages of their own instead of
 * scattered among the holes that sessions and SQLite connections leave in
 * the heap (each hole page kept resident for one small record).
 */
#include "dormouse/pool.h"

#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#define ARENA_CHUNK (64u * 1024u)
#define ARENA_ALIGN 16u

struct pool_arena_chunk {
    struct pool_arena_chunk *next;
    size_t size; /* of the mapping */
};

void *pool_arena_alloc(pool_arena *a, size_t size)
{
    size = (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (!a->chunks || a->used + size > a->cap) {
        size_t head = (sizeof(struct pool_arena_chunk) + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
        size_t map = head + size > ARENA_CHUNK ? head + size : ARENA_CHUNK;
        void *m = mmap(NULL, map, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED)
            return NULL;
        struct pool_arena_chunk *c = m;
        c->next = a->chunks;
        c->size = map;
        a->chunks = c;
        a->used = head;
        a->cap = map;
    }
    void *p = (char *)a->chunks + a->used;
    a->used += size;
    return p; /* zeroed: fresh anonymous pages */
}

void pool_arena_free(pool_arena *a)
{
    while (a->chunks) {
        struct pool_arena_chunk *c = a->chunks;
        a->chunks = c->next;
        munmap(c, c->size);
    }
    a->used = a->cap = 0;
}
