// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "cluster/cluster_view.h"
#include "lib/array.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *report_parse(json_object *obj, char *err, size_t errlen)
{
	struct cluster_report *r = malloc(sizeof(*r));

	if (!r) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (cluster_report_parse(obj, r, err, errlen)) {
		free(r);
		return NULL;
	}
	return r;
}

static void report_free(void *obj)
{
	if (obj)
		cluster_report_free(obj);
	free(obj);
}

const struct k8s_resource cluster_nodes_resource = {
    .name = "socklbnodes",
    .path = CLUSTER_NODES_PATH,
    .ns_path = CLUSTER_NODES_PATH, /* cluster-scoped: there is no other */
    .parse = report_parse,
    .free = report_free,
};

bool cluster_report_fresh(const struct cluster_report *r, double now, unsigned long long default_ms)
{
	unsigned long long every = r->heartbeat_ms ? r->heartbeat_ms : default_ms;

	return r->heartbeat > 0 && now - r->heartbeat < CLUSTER_STALE_HEARTBEATS * every / 1000.0;
}

struct collecting {
	struct cluster_peers *p;
	const char *self;
	double now;
	unsigned long long default_ms;
	int ret;
};

static void collect_one(void *arg, const struct k8s_cache_entry *e)
{
	struct collecting *c = arg;
	const struct cluster_report *r = e->obj;

	if (!strcmp(r->name, c->self))
		return;
	if (!cluster_report_fresh(r, c->now, c->default_ms)) {
		c->p->n_stale++;
		return;
	}
	if (ARRAY_RESERVE(c->p->fresh, c->p->cap, c->p->n_fresh)) {
		c->ret = -ENOMEM;
		return;
	}
	c->p->fresh[c->p->n_fresh++] = r;
}

int cluster_peers_collect(struct cluster_peers *p, const struct k8s_cache *cache, const char *self,
			  double now, unsigned long long default_ms)
{
	struct collecting c = {p, self, now, default_ms, 0};

	p->n_fresh = 0;
	p->n_stale = 0;
	k8s_cache_each(cache, collect_one, &c);
	return c.ret;
}

void cluster_peers_free(struct cluster_peers *p)
{
	free(p->fresh);
	memset(p, 0, sizeof(*p));
}
