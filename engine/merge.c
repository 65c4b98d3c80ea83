/*
 * engine/merge.c - overlapping writes of one delayed-sync batch, merged.
 *
 * The later write wins byte for byte; adjacent writes stay separate pieces.
 * Instead of building a merged list (which would need memory per call), the
 * engine asks for one piece at a time: the first piece at or after a cursor.
 * That is O(n) per piece and O(n * pieces) per batch - nothing for the few
 * records of a typical commit - and it needs no state but the cursor.
 */
#include "internal.h"

bool mapio__merge_next(const mapio_write_t *w, unsigned n, uint64_t from, struct mapio__span *out)
{
    /* Where the next covered byte is. */
    uint64_t p = UINT64_MAX;
    for (unsigned i = 0; i < n; i++) {
        if (w[i].len == 0 || w[i].offset + w[i].len <= from)
            continue;
        uint64_t start = MAPIO__MAX(w[i].offset, from);
        if (start < p)
            p = start;
    }
    if (p == UINT64_MAX)
        return false;
    /* Who owns it: the latest write covering p. */
    unsigned win = 0;
    for (unsigned i = n; i-- > 0;) {
        if (w[i].len != 0 && w[i].offset <= p && p < w[i].offset + w[i].len) {
            win = i;
            break;
        }
    }
    /* Until its end, or until a later write starts and takes over. */
    uint64_t end = w[win].offset + w[win].len;
    for (unsigned j = win + 1; j < n; j++)
        if (w[j].len != 0 && w[j].offset > p && w[j].offset < end)
            end = w[j].offset;
    out->offset = p;
    out->len = end - p;
    out->src = (const unsigned char *)w[win].buf + (p - w[win].offset);
    return true;
}
