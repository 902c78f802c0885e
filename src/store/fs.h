/*
 * store/fs.h — the filesystem calls the store makes, through one table.
 *
 * Tests replace the table (store_fs_set) to inject EIO, ENOSPC, short writes
 * and crashes before a rename, and check that nothing is acknowledged and the
 * store stays consistent.
 */
#ifndef OUTPOST_STORE_FS_H
#define OUTPOST_STORE_FS_H

#include <stddef.h>
#include <sys/types.h>

struct store_fs_ops {
    int (*open)(const char *path, int flags, mode_t mode);
    ssize_t (*write)(int fd, const void *buf, size_t len);
    int (*fsync)(int fd);
    int (*close)(int fd);
    int (*rename)(const char *from, const char *to);
    int (*unlink)(const char *path);
    int (*mkdir)(const char *path, mode_t mode);
};

/* The table in use (the real calls unless a test set another). */
extern const struct store_fs_ops *store_fs;
/* Replaces the table; NULL restores the real one. For tests. */
void store_fs_set(const struct store_fs_ops *ops);
extern const struct store_fs_ops store_fs_real;

/* Writes a whole file durably: PATH.tmp, write, fsync, rename to PATH, fsync
 * of its directory. Returns 0, or -1 with errno set (the temporary file is
 * removed). */
int store_fs_write_file(const char *dir, const char *name, const void *data, size_t len,
                        mode_t mode);
/* fsyncs a directory. */
int store_fs_sync_dir(const char *dir);

#endif
