#include "core/privdrop.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "core/str.h"

int privdrop_lookup(const char *user, unsigned *uid, unsigned *gid)
{
    struct passwd *pw = getpwnam(user);
    if (!pw)
        return -1;
    *uid = pw->pw_uid;
    *gid = pw->pw_gid;
    return 0;
}

int privdrop(const struct config *cfg, char **error_r)
{
    char where[512], what[600];
    config_where(cfg, CFG_ID_server_user, where, sizeof(where));
    snprintf(what, sizeof(what), "%s: [server] user", where);
    return privdrop_to_user(cfg->server_user, what, error_r);
}

int privdrop_to_user(const char *user, const char *where, char **error_r)
{
    if (geteuid() != 0)
        return 0;
    unsigned uid, gid;
    if (privdrop_lookup(user, &uid, &gid) < 0) {
        *error_r = xasprintf("%s: no such user '%s' (create it, e.g. useradd --system %s, or "
                             "name another)", where, user, user);
        return -1;
    }
    if (uid == 0) {
        *error_r = xasprintf("%s: '%s' is root; name an unprivileged user", where, user);
        return -1;
    }
    gid_t g = gid;
    if (setgroups(1, &g) < 0 || setgid(gid) < 0 || setuid(uid) < 0) {
        *error_r = xasprintf("cannot switch to user %s: %s", user, strerror(errno));
        return -1;
    }
    if (setuid(0) == 0) {
        *error_r = xasprintf("switched to user %s, but root could be regained", user);
        return -1;
    }
#if defined(__SANITIZE_ADDRESS__)
#define OUTPOST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define OUTPOST_ASAN 1
#endif
#endif
#ifdef OUTPOST_ASAN
    /* Sanitizer builds only: LeakSanitizer inspects the process with
     * ptrace, which the kernel forbids after a uid change unless the process
     * stays dumpable. Release builds keep the safe default. */
    prctl(PR_SET_DUMPABLE, 1);
#endif
    return 1;
}
