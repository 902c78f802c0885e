/* Sessions per account (see usercount.h). A flat array: logged-in accounts
 * number in the thousands at most, and a login is rare next to the work a
 * session does. */
#include "server/usercount.h"

#include <stdlib.h>

#include "core/str.h"

struct entry {
    const char *proto;
    int64_t account_id;
    unsigned n;
};

static struct entry *entries;
static size_t nentries, cap;

static struct entry *find(const char *proto, int64_t account_id)
{
    for (size_t i = 0; i < nentries; i++)
        if (entries[i].proto == proto && entries[i].account_id == account_id)
            return &entries[i];
    return NULL;
}

unsigned usercount_get(const char *proto, int64_t account_id)
{
    struct entry *e = find(proto, account_id);
    return e ? e->n : 0;
}

void usercount_add(const char *proto, int64_t account_id)
{
    struct entry *e = find(proto, account_id);
    if (!e) {
        if (nentries == cap) {
            cap = cap ? cap * 2 : 64;
            entries = xrealloc(entries, cap * sizeof(*entries));
        }
        e = &entries[nentries++];
        *e = (struct entry){ proto, account_id, 0 };
    }
    e->n++;
}

void usercount_remove(const char *proto, int64_t account_id)
{
    struct entry *e = find(proto, account_id);
    if (!e || --e->n > 0)
        return;
    *e = entries[--nentries];
}

void usercount_free(void)
{
    free(entries);
    entries = NULL;
    nentries = cap = 0;
}
