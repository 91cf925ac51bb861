/*
 * Helpers shared by config.c and config_value.c only; not part of the
 * configuration's contract (that is config.h).
 */
#ifndef SEALPOST_CORE_CONFIG_PRIVATE_H
#define SEALPOST_CORE_CONFIG_PRIVATE_H

#include <stdbool.h>

#include "core/str.h"

/* True for a host or domain name: LDH labels of 1-63 octets, 253 in all. */
bool	config_domain_ok(struct str_view);
/* v without one trailing dot (a lone "." stays). */
struct str_view	config_drop_trailing_dot(struct str_view v);

#endif
