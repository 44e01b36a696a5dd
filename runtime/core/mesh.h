/* dpdist's own control messages between dpdist nodes (runtime/core/mesh.c), sent as REG_SEND to
 * the reserved name '$dpdist' (BEAM nodes never receive them): the mesh of published nodes
 * and the data-plane upgrade. */
#ifndef DPDIST_RUNTIME_CORE_MESH_H
#define DPDIST_RUNTIME_CORE_MESH_H

#include <stddef.h>

#include "runtime/core/node.h"

#define MESH_NAME "$dpdist"

/* A connection came up (control thread). */
void mesh_on_up(struct conn *c);
/* A message to '$dpdist' from c's peer: term without version byte (len bytes). */
void mesh_receive(struct conn *c, const uint8_t *term, size_t len);

#endif
