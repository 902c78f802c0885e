#include "store/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/str.h"

static int real_open(const char *path, int flags, mode_t mode)
{
    return open(path, flags, mode);
}

const struct store_fs_ops store_fs_real = {
    .open = real_open,
    .write = write,
    .fsync = fsync,
    .close = close,
    .rename = rename,
    .unlink = unlink,
    .mkdir = mkdir,
};

const struct store_fs_ops *store_fs = &store_fs_real;

void store_fs_set(const struct store_fs_ops *ops)
{
    store_fs = ops ? ops : &store_fs_real;
}

int store_fs_sync_dir(const char *dir)
{
    int fd = store_fs->open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int r = store_fs->fsync(fd);
    int saved = errno;
    store_fs->close(fd);
    errno = saved;
    return r;
}

int store_fs_write_file(const char *dir, const char *name, const void *data, size_t len,
                        mode_t mode)
{
    char *tmp = xasprintf("%s/%s.tmp", dir, name);
    char *path = xasprintf("%s/%s", dir, name);
    int saved = 0, r = -1;
    int fd = store_fs->open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) {
        saved = errno;
        goto out;
    }
    const char *p = data;
    size_t left = len;
    while (left) {
        ssize_t n = store_fs->write(fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            saved = n < 0 ? errno : ENOSPC; /* a write that makes no progress */
            store_fs->close(fd);
            store_fs->unlink(tmp);
            goto out;
        }
        p += n;
        left -= (size_t)n;
    }
    if (store_fs->fsync(fd) < 0) {
        saved = errno;
        store_fs->close(fd);
        store_fs->unlink(tmp);
        goto out;
    }
    if (store_fs->close(fd) < 0) {
        saved = errno;
        store_fs->unlink(tmp);
        goto out;
    }
    if (store_fs->rename(tmp, path) < 0) {
        saved = errno;
        store_fs->unlink(tmp);
        goto out;
    }
    if (store_fs_sync_dir(dir) < 0) {
        /* The rename may not be durable: undo it rather than acknowledge. */
        saved = errno;
        store_fs->unlink(path);
        goto out;
    }
    r = 0;
out:
    free(tmp);
    free(path);
    if (r < 0)
        errno = saved;
    return r;
}
