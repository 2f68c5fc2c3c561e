/*
 * The service manager's readiness protocol (sd_notify): datagrams of
 * "KEY=VALUE" lines to the socket named by $NOTIFY_SOCKET. Without that
 * variable (not started by systemd as Type=notify) nothing is sent.
 */
#ifndef WEIR_NOTIFY_H
#define WEIR_NOTIFY_H

/* Open the socket if $NOTIFY_SOCKET names one; 0, or -1 with a log line. */
int notify_open(void);
/* Send one message (lines joined by '\n'); a no-op without a socket. */
void notify_send(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Close the socket (a forked worker must not report as the master). */
void notify_close(void);

#endif
