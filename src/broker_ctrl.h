/*
 * broker_ctrl.h - the broker's side of the controller: it runs this
 * broker's controller_t (every broker runs for the office), sends the
 * active controller's requests to the brokers over the broker protocol
 * (LeaderAndIsr to a partition's replicas after each state write,
 * UpdateMetadata to every live broker, StopReplica with deletion after a
 * topic is deleted), and drives this broker's controlled shutdown: ask the
 * controller to move our leaderships away, again while some remain (up to
 * controlled.shutdown.max.retries), then stop.
 *
 * Ownership: one per broker (broker_t.ctrl), owning the controller and one
 * connection per broker it talks to. Loop thread only.
 */
#ifndef BROOK_BROKER_CTRL_H
#define BROOK_BROKER_CTRL_H

#include <stdint.h>

#include "brook.h"

struct broker;
typedef struct broker_ctrl broker_ctrl_t;

/* Once registered: creates the controller (it runs for the office at the
 * first update). */
brook_err_t broker_ctrl_new(struct broker *b, broker_ctrl_t **out);
/* The cluster view changed. */
void broker_ctrl_update(broker_ctrl_t *bc);
/* A ControlledShutdown request for broker_id reached us: moves what the
 * controller can; *remaining as controller_controlled_shutdown(). */
brook_err_t broker_ctrl_controlled_shutdown(broker_ctrl_t *bc, int32_t broker_id, int *remaining);
/* SIGTERM with controlled.shutdown.enable: asks the controller (maybe
 * ourselves) until none of our leaderships can move or the retries are
 * spent, then calls done(b) from the loop. */
void broker_ctrl_shutdown(broker_ctrl_t *bc, void (*done)(struct broker *b));
/* NULL is a no-op. */
void broker_ctrl_free(broker_ctrl_t *bc);

#endif /* BROOK_BROKER_CTRL_H */
