/* Address parsing and normalisation for the store (see store.h). */
#include <idn2.h>
#include <stdlib.h>
#include <string.h>

#include "core/addr.h"
#include "core/str.h"
#include "store/store.h"

#define LOCAL_MAX 64

int store_domain_normalize(struct arena *a, const char *domain, char **out, const char **error_r)
{
    if (!*domain) {
        *error_r = "empty domain";
        return STORE_ERR_INVALID;
    }
    if (strlen(domain) > 253 * 4) {
        *error_r = "domain too long";
        return STORE_ERR_INVALID;
    }
    char *ascii = NULL;
    if (idn2_to_ascii_8z(domain, &ascii, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL) != IDN2_OK) {
        *error_r = "not a valid domain name";
        return STORE_ERR_INVALID;
    }
    for (char *c = ascii; *c; c++)
        if (*c >= 'A' && *c <= 'Z')
            *c = (char)(*c + ('a' - 'A'));
    const char *why = addr_check_dns_name(ascii);
    if (why || !strchr(ascii, '.')) {
        free(ascii);
        *error_r = why ? why : "a domain needs at least two labels (example.org)";
        return STORE_ERR_INVALID;
    }
    *out = arena_strdup(a, ascii);
    free(ascii);
    return STORE_OK;
}

static bool local_char_ok(unsigned char c)
{
    if (c >= 0x80)
        return true; /* UTF-8 (SMTPUTF8 addresses) */
    if (c <= ' ' || c == 0x7f)
        return false;
    return !strchr("<>()[]\\,;:@\"", c);
}

int store_address_parse(struct arena *a, const char *address, bool allow_empty_local,
                        struct store_address *out, const char **error_r)
{
    const char *at = strrchr(address, '@');
    if (!at) {
        *error_r = "an address needs an @ and a domain (user@example.org)";
        return STORE_ERR_INVALID;
    }
    size_t llen = (size_t)(at - address);
    if (llen == 0 && !allow_empty_local) {
        *error_r = "empty local part before the @";
        return STORE_ERR_INVALID;
    }
    if (llen > LOCAL_MAX) {
        *error_r = "local part longer than 64 bytes";
        return STORE_ERR_INVALID;
    }
    for (size_t i = 0; i < llen; i++) {
        if (!local_char_ok((unsigned char)address[i])) {
            *error_r = "local part has a character not allowed in an address";
            return STORE_ERR_INVALID;
        }
    }
    bool bad_dots = llen && (address[0] == '.' || address[llen - 1] == '.');
    for (size_t i = 0; i + 1 < llen; i++)
        if (address[i] == '.' && address[i + 1] == '.')
            bad_dots = true;
    if (bad_dots) {
        *error_r = "local part starts or ends with a dot, or has two in a row";
        return STORE_ERR_INVALID;
    }
    if (store_domain_normalize(a, at + 1, &out->domain, error_r) != STORE_OK)
        return STORE_ERR_INVALID;
    out->local = arena_strndup(a, address, llen);
    out->local_key = arena_strndup(a, address, llen);
    for (char *c = out->local_key; *c; c++)
        if (*c >= 'A' && *c <= 'Z')
            *c = (char)(*c + ('a' - 'A'));
    return STORE_OK;
}
