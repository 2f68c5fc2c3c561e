/* The master process: owns config, shared memory, sockets and the workers. */
#ifndef WEIR_MASTER_H
#define WEIR_MASTER_H

struct config;

/* Run the master until told to stop; takes ownership of cfg. Returns the exit code. */
int master_run(struct config *cfg);

#endif
