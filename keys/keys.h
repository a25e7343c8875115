/*
** keys/keys.h -- CURVE keys for the coordinator/worker sockets, kept as
** CZMQ certificates (zcert) in one directory:
**
**     DIR/coordinator.cert        the coordinator's public key
**     DIR/coordinator.cert_secret its key pair (only the coordinator needs it)
**     DIR/worker.cert             a worker's public key
**     DIR/worker.cert_secret      its key pair (only workers need it)
**     DIR/workers/NAME.cert       the allow-list: worker public keys the
**                                 coordinator accepts (its ZAP handler)
**
** `heapsim keygen DIR` makes what is missing and puts worker.cert into
** workers/. To give a machine a key of its own, run keygen for it in
** another directory and copy its worker.cert into the coordinator's
** workers/ under another name.
*/
#ifndef HEAPSIM_KEYS_KEYS_H
#define HEAPSIM_KEYS_KEYS_H

#include <stddef.h>

typedef struct keys_auth keys_auth_t;

/* Make the key pairs that are missing in dir (created, mode 0700) and
** allow worker.cert. 0, or -1 with the reason in err. */
int keys_generate(const char *dir, char *err, size_t errsize);

/* Server side: start CZMQ's ZAP handler allowing the keys in DIR/workers,
** in CZMQ's ZeroMQ context (returned in *zctx_p: the coordinator's socket
** must be made in it), and make `sock` a CURVE server with
** DIR/coordinator.cert_secret. Call keys_auth_start before the socket is
** made (for the context) and keys_server_apply on it before bind. */
int keys_auth_start(const char *dir, keys_auth_t **auth_p, void **zctx_p, char *err,
                    size_t errsize);
int keys_server_apply(keys_auth_t *auth, void *sock, char *err, size_t errsize);
void keys_auth_stop(keys_auth_t **auth_p);

/* Client side: `sock` a CURVE client with DIR/worker.cert_secret, the
** server key DIR/coordinator.cert. 0, or -1 with the reason. */
int keys_client_apply(const char *dir, void *sock, char *err, size_t errsize);

/* Is the endpoint reachable from this host only (ipc, inproc, tcp on a
** loopback address)? Binding anything else without keys needs --insecure. */
int keys_endpoint_is_local(const char *endpoint);

#endif
