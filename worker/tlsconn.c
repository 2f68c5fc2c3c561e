/* TLS on client connections: to be written (issue 11 §1). */
#include "autoconf.h"

#include "worker/tlsconn.h"
