/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* What service_table.c shares with service_adopt.c, and no one else. */
#ifndef SOCKLB_SERVICE_TABLE_IMPL_H
#define SOCKLB_SERVICE_TABLE_IMPL_H

#include "model/service_table.h"

/* Adds a service for spec's VIP with this id (0: a fresh one); NULL if full. */
struct agent_service *service_table_add_with_id(struct service_table *t,
						const struct service_spec *spec, __u32 id);
/* Keeps id (backend ep of service vip) out of the pool until its last connection is gone. */
int service_table_retire_backend(struct service_table *t, __u32 id, const struct endpoint *vip,
				 const struct endpoint *ep);

#endif
