/* sha1.h - SHA-1 of a byte string as hex, for Redis script names (see sha1.c) */
#ifndef MH_SHA1_H
#define MH_SHA1_H

#include <stddef.h>

#define SHA1_HEX_LEN	40	/* hex digits of a digest, without the NUL */

/* sha1_hex - lowercase hex SHA-1 of data into out (SHA1_HEX_LEN + 1 bytes) */
void	sha1_hex(const void *data, size_t len, char *out);

#endif
