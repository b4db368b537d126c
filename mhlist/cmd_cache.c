/* cmd_cache.c - mhlist cache show|purge ADDRESS|@DOMAIN (being written) */
#include "config.h"

#include "mhlist.h"
