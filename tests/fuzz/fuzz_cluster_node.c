// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The cluster view's objects: SocklbNode (socklb.io/v1alpha1), what every
 * other node writes and this node's informer reads.  The first byte picks
 * how it arrives: even, one object (a GET, or a watch event's object), by
 * the resource's own parse (cluster_view.c's cluster_nodes_resource, as the
 * informer caches it); odd, a SocklbNodeList answer through k8s_list_parse
 * into a cache of that resource, whose fresh peers cluster_peers_collect
 * then gathers as the cluster pass does.
 *
 * What a parsed report promises (cluster_report.h): services sorted by VIP
 * and each VIP once, counts sorted by backend, each backend once, none zero
 * (what cluster_report_count's binary search and the planner's sums rely
 * on); and written back as an object (cluster_report_object) and parsed
 * again it is the same report.
 */
#include "fuzz_k8s.h"
#include "cluster/cluster_report.h"
#include "cluster/cluster_view.h"

static void check_report(const struct cluster_report *r)
{
	FUZZ_ASSERT(memchr(r->name, '\0', sizeof(r->name)));
	for (size_t i = 0; i < r->n_services; i++) {
		const struct cluster_service_counts *s = &r->services[i];

		if (i)
			FUZZ_ASSERT(endpoint_cmp(&r->services[i - 1].vip, &s->vip) < 0);
		FUZZ_ASSERT(cluster_report_service(r, &s->vip) == s);
		for (size_t j = 0; j < s->n; j++) {
			FUZZ_ASSERT(s->counts[j].connections > 0);
			if (j)
				FUZZ_ASSERT(endpoint_cmp(&s->counts[j - 1].backend,
							 &s->counts[j].backend) < 0);
			FUZZ_ASSERT(cluster_report_count(s, &s->counts[j].backend) ==
				    s->counts[j].connections);
		}
	}
}

static bool same_report(const struct cluster_report *a, const struct cluster_report *b)
{
	if (strcmp(a->name, b->name) || a->publish_ms != b->publish_ms ||
	    a->heartbeat_ms != b->heartbeat_ms || a->n_services != b->n_services)
		return false;
	for (size_t i = 0; i < a->n_services; i++) {
		const struct cluster_service_counts *x = &a->services[i], *y = &b->services[i];

		if (endpoint_cmp(&x->vip, &y->vip) || x->n != y->n)
			return false;
		for (size_t j = 0; j < x->n; j++) {
			if (endpoint_cmp(&x->counts[j].backend, &y->counts[j].backend) ||
			    x->counts[j].connections != y->counts[j].connections)
				return false;
		}
	}
	return true;
}

/* Written as this node would write it, read as a peer would read it. */
static void round_trip(const struct cluster_report *r)
{
	struct cluster_report again;
	json_object *obj = cluster_report_object(r, &(struct cluster_object_meta){"1", "uid"});
	char err[512];

	FUZZ_ASSERT(obj);
	FUZZ_ASSERT(cluster_report_parse(obj, &again, err, sizeof(err)) == 0);
	FUZZ_ASSERT(same_report(r, &again));
	cluster_report_free(&again);
	json_object_put(obj);
}

static void one_object(const uint8_t *data, size_t size)
{
	char err[512];
	json_object *root = k8s_list_load((const char *)data, size, true, err, sizeof(err));
	struct cluster_report *r;

	if (!root)
		return;
	err[0] = '\0';
	r = cluster_nodes_resource.parse(root, err, sizeof(err));
	if (r) {
		check_report(r);
		(void)cluster_report_fresh(r, 1.7e9, 30000);
		round_trip(r);
	} else {
		FUZZ_ASSERT(err[0] != '\0');
	}
	cluster_nodes_resource.free(r);
	json_object_put(root);
}

struct node_list {
	struct k8s_cache cache;
};

static void take_node(void *arg, enum k8s_event_type type, json_object *obj)
{
	struct node_list *l = arg;
	char key[320], err[256];
	void *r;

	(void)type;
	if (k8s_object_key(obj, "", key, sizeof(key)))
		return;
	r = l->cache.res->parse(obj, err, sizeof(err));
	if (r)
		(void)k8s_cache_put(&l->cache, key, r, NULL, 0);
}

static void check_entry(void *arg, const struct k8s_cache_entry *e)
{
	(void)arg;
	check_report(e->obj);
}

static void node_list(const uint8_t *data, size_t size)
{
	struct k8s_watch_state st = {0};
	struct cluster_peers peers = {0};
	struct node_list l;
	char err[512];

	k8s_cache_init(&l.cache, &cluster_nodes_resource);
	if (k8s_list_parse(&st, (const char *)data, size, false, take_node, &l, err, sizeof(err)) ==
	    0) {
		k8s_cache_each(&l.cache, check_entry, NULL);
		FUZZ_ASSERT(cluster_peers_collect(&peers, &l.cache, "kind-worker", 1.7e9, 30000) ==
			    0);
		FUZZ_ASSERT(peers.n_fresh + peers.n_stale <= k8s_cache_count(&l.cache));
		for (size_t i = 0; i < peers.n_fresh; i++)
			FUZZ_ASSERT(strcmp(peers.fresh[i]->name, "kind-worker"));
	}
	cluster_peers_free(&peers);
	k8s_cache_free(&l.cache);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t mode = fuzz_take_byte(&data, &size);

	if (mode & 1)
		node_list(data, size);
	else
		one_object(data, size);
	return 0;
}
