/*
 * pop3/sizecache.h — the size each message has on the wire (pop3/encode.h),
 * remembered per message file.
 *
 * LIST and STAT must announce what RETR will send, which differs from the
 * stored size when a file has bare LFs (IMAP APPEND keeps what the client
 * gave) and can only be known by reading the file. A message file never
 * changes once written (store.h), so its wire size never does either: the
 * maildrop of the first session after a start reads every INBOX file once,
 * and later sessions (a client polling every few minutes and leaving mail
 * on the server) read only the files that are new.
 *
 * Owns: one process-wide table of fixed size (65,536 entries, about 2.5 MB
 * of address space, touched only as used), direct-mapped: a collision
 * forgets the older entry, which only costs reading that file again.
 * Thread-safe (the maildrop jobs run on the worker pool).
 */
#ifndef OUTPOST_POP3_SIZECACHE_H
#define OUTPOST_POP3_SIZECACHE_H

#include <stdbool.h>
#include <stdint.h>

/* The wire size of `file` (a name under the account's msg/, stored_size
 * bytes), when known. */
bool pop3_size_cache_get(int64_t account_id, const char *file, uint64_t stored_size,
                         uint64_t *wire_r);
void pop3_size_cache_put(int64_t account_id, const char *file, uint64_t stored_size,
                         uint64_t wire);

#endif
