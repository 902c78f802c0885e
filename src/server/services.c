/* The service table: each [listen] setting, its protocol, and who takes its
 * connections (a protocol module replaces refuse_start with its own), and the
 * STARTTLS step every protocol's session shares. */
#include "server/service.h"

#include "core/log.h"
#include "imap/session.h"
#include "pop3/session.h"
#include "smtp/session.h"

const struct service services[] = {
    { "smtp", CFG_ID_listen_smtp, PROTO_SMTP, false, smtp_session_start },
    { "submission", CFG_ID_listen_submission, PROTO_SMTP, false, smtp_session_start },
    { "submissions", CFG_ID_listen_submissions, PROTO_SMTP, true, smtp_session_start },
    { "imap", CFG_ID_listen_imap, PROTO_IMAP, false, imap_session_start },
    { "imaps", CFG_ID_listen_imaps, PROTO_IMAP, true, imap_session_start },
    { "pop3", CFG_ID_listen_pop3, PROTO_POP3, false, pop3_session_start },
    { "pop3s", CFG_ID_listen_pop3s, PROTO_POP3, true, pop3_session_start },
    { "http", CFG_ID_listen_http, PROTO_HTTP, false, refuse_start },
    { "https", CFG_ID_listen_https, PROTO_HTTP, true, refuse_start },
};

const int services_count = sizeof(services) / sizeof(services[0]);

void service_starttls(const struct service_env *env, struct conn *c, const char *module)
{
    SSL *ssl = env->tls ? tls_server_new_ssl(env->tls) : NULL;
    if (!ssl || conn_starttls(c, ssl) < 0) {
        log_error(module, "starttls-failed", "session=%s", conn_id(c));
        conn_close_after_flush(c, "starttls failed");
    }
}
