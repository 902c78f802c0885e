/* The greeting of a listener whose protocol module is not built yet: the
 * client learns at once, in its own protocol, that the service is not there. */
#include "core/log.h"
#include "server/service.h"

static const struct conn_handler refuse_handler = { 0 };

void refuse_start(struct conn *c, const struct service *svc, const struct service_env *env)
{
    const char *host = env->cfg->server_hostname;
    conn_set_handler(c, &refuse_handler, NULL);
    switch (svc->proto) {
    case PROTO_SMTP:
        conn_printf(c, "421 4.3.2 %s Service not available: SMTP is not built yet\r\n", host);
        break;
    case PROTO_IMAP:
        conn_printf(c, "* BYE [UNAVAILABLE] %s IMAP is not built yet\r\n", host);
        break;
    case PROTO_POP3:
        conn_printf(c, "-ERR [SYS/TEMP] %s POP3 is not built yet\r\n", host);
        break;
    case PROTO_HTTP: {
        static const char body[] = "The web service is not built yet.\n";
        conn_printf(c, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
                       "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                    sizeof(body) - 1, body);
        break;
    }
    }
    log_info(svc->name, "refused", "session=%s peer=%s reason=not-built", conn_id(c), conn_peer(c));
    conn_close_after_flush(c, "refused");
}

void refuse_busy(struct conn *c, const struct service *svc, const struct service_env *env,
                 const char *limit)
{
    const char *host = env->cfg->server_hostname;
    conn_set_handler(c, &refuse_handler, NULL);
    switch (svc->proto) {
    case PROTO_SMTP:
        conn_printf(c, "421 4.7.0 %s Too many connections; try again later\r\n", host);
        break;
    case PROTO_IMAP:
        conn_printf(c, "* BYE [UNAVAILABLE] Too many connections; try again later\r\n");
        break;
    case PROTO_POP3:
        conn_printf(c, "-ERR [SYS/TEMP] Too many connections; try again later\r\n");
        break;
    case PROTO_HTTP: {
        static const char body[] = "Too many connections; try again later.\n";
        conn_printf(c, "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 60\r\n"
                       "Content-Type: text/plain\r\nContent-Length: %zu\r\n"
                       "Connection: close\r\n\r\n%s", sizeof(body) - 1, body);
        break;
    }
    }
    log_info(svc->name, "too-many-connections", "session=%s peer=%s limit=%s", conn_id(c),
             conn_peer(c), limit);
    conn_close_after_flush(c, "too many connections");
}
