/* TLS on client connections: the handshake, and reads and writes through it. */
#ifndef WEIR_TLSCONN_H
#define WEIR_TLSCONN_H

struct conn;

#endif
