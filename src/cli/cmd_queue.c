/* outpost queue list|show|retry|hold|release|drop (docs/cli.md).
 *
 * Works on the queue database directly, like the other data commands; a
 * running server sees the change at its next look at the queue (within a
 * few seconds). */
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/config.h"
#include "store/store.h"

struct lister {
    const char *last_id;
    char last[STORE_QUEUE_ID_LEN + 1];
    int messages;
    bool detail;
    int64_t now;
};

static void print_when(int64_t secs)
{
    if (secs < 0)
        secs = 0;
    if (secs < 120)
        printf("%llds", (long long)secs);
    else if (secs < 7200)
        printf("%lldm", (long long)(secs / 60));
    else if (secs < 172800)
        printf("%lldh", (long long)(secs / 3600));
    else
        printf("%lldd", (long long)(secs / 86400));
}

static int print_entry(void *ctx, const struct store_queue_entry *e)
{
    struct lister *l = ctx;
    if (strcmp(l->last, e->id)) {
        snprintf(l->last, sizeof(l->last), "%s", e->id);
        l->messages++;
        char when[32];
        time_t t = (time_t)e->created;
        strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", gmtime(&t));
        printf("%s%s  %llu bytes  %sZ  from <%s>%s\n", l->messages > 1 && l->detail ? "\n" : "",
               e->id, (unsigned long long)e->size, when, e->sender, e->held ? "  HELD" : "");
        if (l->detail)
            printf("  origin: %s%s\n", e->origin,
                   e->account_id ? "" : " (not from an account)");
    }
    printf("    %s  %s", e->rcpt, e->leased ? "delivering" : e->state);
    printf("  attempts %d", e->attempts);
    if (!strcmp(e->state, "queued") && !e->leased) {
        printf("  next ");
        if (e->held)
            printf("when released");
        else if (e->next_attempt <= l->now)
            printf("now");
        else {
            printf("in ");
            print_when(e->next_attempt - l->now);
        }
    }
    if (e->last_reply)
        printf("\n        last: %s", e->last_reply);
    printf("\n");
    return 0;
}

/* The message's header, for `show`. */
static void print_header(struct store *st, const char *id)
{
    char *path = store_queue_message_path(st, id);
    FILE *f = fopen(path, "r");
    free(path);
    if (!f)
        return;
    printf("  header:\n");
    char line[1024];
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0])
            break;
        printf("    %s\n", line);
    }
    fclose(f);
}

int cmd_queue(int argc, char **argv)
{
    if (wants_help(argc, argv)) {
        fputs(usage_text("queue"), stdout);
        return 0;
    }
    const char *file = config_path_from_args(&argc, argv);
    if (argc < 1)
        return usage_error("queue", "missing subcommand");
    const char *sub = argv[0];
    bool list = !strcmp(sub, "list"), show = !strcmp(sub, "show"), retry = !strcmp(sub, "retry"),
         hold = !strcmp(sub, "hold"), release = !strcmp(sub, "release"),
         drop = !strcmp(sub, "drop");
    if (!list && !show && !retry && !hold && !release && !drop)
        return usage_error("queue", "unknown subcommand '%s'", sub);
    const char *id = argc >= 2 ? argv[1] : NULL;
    if (argc > 2 || (list && id))
        return usage_error("queue", "too many arguments");
    if (show && !id)
        return usage_error("queue", "show takes a queue ID");
    bool all = id && !strcmp(id, "--all");
    if (drop && !id)
        return usage_error("queue", "drop takes a queue ID, or --all for every message");
    if (all)
        id = NULL;
    else if (id && id[0] == '-')
        return usage_error("queue", "unknown option '%s'", id);

    struct config *cfg;
    struct store *st;
    if (cli_open_store(file, &cfg, &st))
        return 1;
    char *err = NULL;
    int r, n = 0;
    if (list || show) {
        struct lister l = { .detail = show, .now = (int64_t)time(NULL) };
        r = store_queue_list(st, id, print_entry, &l, &err);
        if (r == STORE_OK && show && l.messages == 0) {
            err = NULL;
            fprintf(stderr, "outpost queue show: no message %s in the queue\n", id);
            cli_close_store(cfg, st);
            return 1;
        }
        if (r == STORE_OK && show)
            print_header(st, id);
        if (r == STORE_OK && list)
            printf("%d message%s in the queue\n", l.messages, l.messages == 1 ? "" : "s");
    } else if (retry) {
        r = store_queue_retry(st, id, &n, &err);
        if (r == STORE_OK)
            printf("%d message%s to be tried now\n", n, n == 1 ? "" : "s");
    } else if (hold || release) {
        r = store_queue_set_held(st, id, hold, &n, &err);
        if (r == STORE_OK)
            printf("%d message%s %s\n", n, n == 1 ? "" : "s", hold ? "held" : "released");
    } else {
        r = store_queue_drop(st, id, &n, &err);
        if (r == STORE_OK)
            printf("%d message%s dropped (no bounce sent)\n", n, n == 1 ? "" : "s");
    }
    if (r != STORE_OK)
        fprintf(stderr, "outpost queue %s: %s\n", sub, err ? err : "failed");
    free(err);
    cli_close_store(cfg, st);
    return r == STORE_OK ? 0 : 1;
}
