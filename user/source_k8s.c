// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "source_k8s.h"
#include "k8s_objects.h"
#include "k8s_watcher.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

enum target_state {
	T_PENDING, /* the Service or its slices not known yet: nothing published */
	T_OK,
	T_FAILING, /* the API fails (last known kept), or the Service cannot be balanced */
	T_EMPTY,   /* the Service does not exist */
};

static const char *const state_names[] = {"pending", "ok", "failing", "empty"};

/* One VIP of a target and what was last published for it. */
struct target_vip {
	struct k8s_vip v;
	char *source; /* what the service table shows */
	bool dynamic; /* added with service_table_add_dynamic */
	bool none;    /* the given VIP while the Service cannot give backends: publish none */
	bool applied; /* backends below are in the maps */
	struct endpoint *backends;
	size_t n_backends;
};

enum watch_kind {
	WATCH_SERVICE,
	WATCH_SLICES,
};

struct k8s_target {
	struct k8s_source *src;
	char *source; /* as configured; "k8s:NS/NAME" for a discovered Service */
	char ns[K8S_NAME_LEN];
	char name[K8S_OBJ_NAME_LEN];
	char *port_name;
	struct k8s_selector sel;
	bool discovered;
	bool seen;		       /* in the discovery list being taken */
	struct k8s_watcher *svc_watch; /* NULL when discovered: discovery gives the Service */
	struct k8s_watcher *slice_watch;
	bool svc_synced, svc_exists;
	struct k8s_service svc;
	bool slices_synced;
	struct k8s_slice_set slices;
	struct target_vip *vips;
	size_t n_vips;
	enum target_state state;
	char api_error[2][64]; /* per watch_kind: why its last request failed; "": fine */
	char api_detail[256];
	char config_error[256];
	char last_error[256];
	double last_error_at;
	double last_refresh;
	unsigned long long refreshes, errors;
};

struct k8s_source {
	struct event_loop *loop;
	struct service_table *table;
	struct k8s_api *api;
	struct k8s_source_opts opts;
	struct k8s_target **targets;
	size_t n, cap;
	struct k8s_watcher *discovery;
	bool discovery_listing;
	char discovery_error[64];
	bool discovery_ok;     /* has answered since the last failure */
	bool discovery_listed; /* the first discovery list is in */
	bool first_sync_done;  /* every target knew its Service and slices once */
};

static double wall_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Once every Service (and, with discovery, the list of Services) is known,
 * the services an earlier agent left (--persist) that no target claimed are
 * not wanted any more.  Until then they keep their backends and connections.
 */
static void check_first_sync(struct k8s_source *s)
{
	size_t dropped;

	if (s->first_sync_done || (s->opts.discover && !s->discovery_listed))
		return;
	for (size_t i = 0; i < s->n; i++) {
		if (!s->targets[i]->svc_synced || !s->targets[i]->slices_synced)
			return;
	}
	s->first_sync_done = true;
	dropped = service_table_drop_unclaimed(s->table);
	log_info("msg=\"k8s: every service known\" targets=%zu dropped_unclaimed=%zu", s->n,
		 dropped);
}

static void notify(struct k8s_source *s)
{
	check_first_sync(s);
	if (s->opts.changed)
		s->opts.changed(s->opts.changed_arg);
}

static void record_error(struct k8s_target *t, const char *error)
{
	snprintf(t->last_error, sizeof(t->last_error), "%s", error);
	t->last_error_at = wall_now();
	t->errors++;
}

/* ------------------------------------------------------------ the state */

static enum target_state current_state(const struct k8s_target *t)
{
	if (t->api_error[WATCH_SERVICE][0] || t->api_error[WATCH_SLICES][0])
		return T_FAILING;
	if (!t->svc_synced || !t->slices_synced)
		return T_PENDING;
	if (!t->svc_exists)
		return T_EMPTY;
	return t->config_error[0] ? T_FAILING : T_OK;
}

static size_t published_backends(const struct k8s_target *t)
{
	size_t n = 0;

	for (size_t i = 0; i < t->n_vips; i++)
		n += t->vips[i].n_backends;
	return n;
}

/* One log line per change of state, never one per retry. */
static void update_state(struct k8s_target *t)
{
	enum target_state to = current_state(t);
	enum target_state from = t->state;
	const char *api_error = t->api_error[WATCH_SERVICE][0] ? t->api_error[WATCH_SERVICE]
							       : t->api_error[WATCH_SLICES];

	if (to != from) {
		t->state = to;
		if (to == T_OK)
			log_info("msg=\"k8s state\" source=\"%s\" from=%s state=ok vips=%zu "
				 "backends=%zu",
				 t->source, state_names[from], t->n_vips, published_backends(t));
		else if (to == T_FAILING && api_error[0])
			log_warn("msg=\"k8s state\" source=\"%s\" from=%s state=failing error=%s "
				 "detail=\"%s\" action=keep-last-known",
				 t->source, state_names[from], api_error, t->api_detail);
		else if (to == T_FAILING)
			log_warn("msg=\"k8s state\" source=\"%s\" from=%s state=failing "
				 "error=\"%s\"",
				 t->source, state_names[from], t->config_error);
		else if (to == T_EMPTY)
			log_warn("msg=\"k8s state\" source=\"%s\" from=%s state=empty "
				 "error=service-not-found",
				 t->source, state_names[from]);
		if (to == T_EMPTY)
			record_error(t, "service-not-found");
	}
	notify(t->src);
}

static void set_config_error(struct k8s_target *t, const char *error)
{
	if (!strcmp(t->config_error, error))
		return;
	snprintf(t->config_error, sizeof(t->config_error), "%s", error);
	if (error[0]) {
		record_error(t, error);
		/* Logged once here, when it appears; update_state logs the state. */
		log_warn("msg=\"k8s service cannot be balanced\" source=\"%s\" error=\"%s\"",
			 t->source, error);
	}
}

/* --------------------------------------------------------- publishing */

static bool same_backends(const struct target_vip *tv, const struct endpoint *eps, size_t n)
{
	if (!tv->applied || tv->n_backends != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!endpoint_equal(&tv->backends[i], &eps[i]))
			return false;
	}
	return true;
}

static void publish_vip(struct k8s_target *t, struct target_vip *tv)
{
	struct service_table *table = t->src->table;
	struct endpoint *eps = NULL;
	char vip[ENDPOINT_STR_LEN];
	size_t n = 0;

	if (tv->dynamic && !service_table_owns(table, &tv->v.vip, t))
		return; /* a configured service took the VIP over */
	if (!tv->none && k8s_slice_set_backends(&t->slices, &tv->v, &eps, &n)) {
		log_error("msg=\"out of memory for k8s backends\" source=\"%s\"", t->source);
		return;
	}
	if (same_backends(tv, eps, n)) {
		free(eps);
		return;
	}
	/* On failure the next event tries again: the published set stays meanwhile. */
	if (service_table_set_backends(table, &tv->v.vip, eps, n)) {
		log_error("msg=\"cannot publish k8s backends\" service=%s source=\"%s\"",
			  endpoint_str(&tv->v.vip, vip, sizeof(vip)), t->source);
		free(eps);
		return;
	}
	free(tv->backends);
	tv->backends = eps;
	tv->n_backends = n;
	tv->applied = true;
}

static void drop_vip(struct k8s_target *t, size_t i, bool from_table)
{
	struct target_vip *tv = &t->vips[i];

	if (from_table && tv->dynamic)
		service_table_remove_dynamic(t->src->table, &tv->v.vip, t);
	free(tv->backends);
	free(tv->source);
	t->vips[i] = t->vips[--t->n_vips];
}

static char *vip_source(const struct k8s_target *t, const struct k8s_vip *v)
{
	char *text;

	if (!t->discovered)
		return strdup(t->source);
	if (asprintf(&text, v->port_name[0] ? "k8s:%s/%s:%s" : "k8s:%s/%s", t->ns, t->name,
		     v->port_name) < 0)
		return NULL;
	return text;
}

/* -1 (err says why) if the VIP is another's. */
static int add_vip(struct k8s_target *t, const struct k8s_vip *v, bool none, char *err,
		   size_t errlen)
{
	struct target_vip *grown = realloc(t->vips, (t->n_vips + 1) * sizeof(*grown));
	struct target_vip *tv;
	char vip[ENDPOINT_STR_LEN];

	if (!grown) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	t->vips = grown;
	tv = &t->vips[t->n_vips];
	memset(tv, 0, sizeof(*tv));
	tv->v = *v;
	tv->none = none;
	tv->dynamic = !t->sel.has_vip;
	tv->source = vip_source(t, v);
	if (!tv->source) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (tv->dynamic && service_table_add_dynamic(t->src->table, &v->vip, tv->source, t)) {
		snprintf(err, errlen,
			 "VIP %s is taken (a configured service, or another k8s: "
			 "source)",
			 endpoint_str(&v->vip, vip, sizeof(vip)));
		free(tv->source);
		return -1;
	}
	t->n_vips++;
	return 0;
}

static ssize_t find_vip(const struct k8s_target *t, const struct endpoint *vip)
{
	for (size_t i = 0; i < t->n_vips; i++) {
		if (endpoint_equal(&t->vips[i].v.vip, vip))
			return (ssize_t)i;
	}
	return -1;
}

/*
 * Makes the target's VIPs those of want: removes the others, adds the new.
 * err: why a VIP could not be added ("" if all were).
 */
static void sync_vips(struct k8s_target *t, const struct k8s_vip *want, size_t n_want, bool none,
		      char *err, size_t errlen)
{
	char why[320];

	err[0] = '\0';
	for (size_t i = t->n_vips; i-- > 0;) {
		bool keep = false;

		for (size_t j = 0; j < n_want && !keep; j++)
			keep = endpoint_equal(&t->vips[i].v.vip, &want[j].vip);
		if (!keep)
			drop_vip(t, i, true);
	}
	for (size_t j = 0; j < n_want; j++) {
		ssize_t i = find_vip(t, &want[j].vip);

		if (i < 0) {
			if (add_vip(t, &want[j], none, why, sizeof(why)) && !err[0])
				snprintf(err, errlen, "%s", why);
		} else {
			t->vips[i].v = want[j];
			t->vips[i].none = none;
		}
	}
}

static void log_vips(const struct k8s_target *t, const struct k8s_vip *want, size_t n)
{
	char list[512], vip[ENDPOINT_STR_LEN];
	size_t used = 0;

	list[0] = '\0';
	for (size_t i = 0; i < n && used < sizeof(list); i++)
		used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s", i ? "," : "",
					 endpoint_str(&want[i].vip, vip, sizeof(vip)));
	log_info("msg=\"k8s service vips\" source=\"%s\" vips=%s", t->source, n ? list : "none");
}

static bool vips_differ(const struct k8s_target *t, const struct k8s_vip *want, size_t n)
{
	if (n != t->n_vips)
		return true;
	for (size_t i = 0; i < n; i++) {
		if (find_vip(t, &want[i].vip) < 0)
			return true;
	}
	return false;
}

/* Publishes what the Service and its slices say, once both are known. */
static void target_apply(struct k8s_target *t)
{
	struct k8s_vip *want = NULL, given;
	size_t n_want = 0;
	char err[320] = "", taken[320] = "";

	if (!t->svc_synced || !t->slices_synced) {
		update_state(t);
		return;
	}
	if (t->svc_exists &&
	    k8s_service_vips(&t->svc, &t->sel, &want, &n_want, err, sizeof(err)) == 0)
		err[0] = '\0';
	else if (!t->svc_exists)
		err[0] = '\0'; /* not an error of the Service: it is not there (state empty) */
	if (t->sel.has_vip && n_want == 0) {
		/* The VIP the user gave stays; without a usable Service it has no backends. */
		memset(&given, 0, sizeof(given));
		given.vip = t->sel.vip;
		sync_vips(t, &given, 1, true, taken, sizeof(taken));
	} else {
		if (vips_differ(t, want, n_want))
			log_vips(t, want, n_want);
		sync_vips(t, want, n_want, false, taken, sizeof(taken));
	}
	set_config_error(t, err[0] ? err : taken);
	for (size_t i = 0; i < t->n_vips; i++)
		publish_vip(t, &t->vips[i]);
	free(want);
	update_state(t);
}

/* ------------------------------------------------------- watch callbacks */

static void target_health(struct k8s_target *t, enum watch_kind kind, const char *error,
			  const char *detail)
{
	if (error) {
		snprintf(t->api_error[kind], sizeof(t->api_error[kind]), "%s", error);
		snprintf(t->api_detail, sizeof(t->api_detail), "%s", detail ? detail : "");
		record_error(t, error);
	} else {
		t->api_error[kind][0] = '\0';
		t->last_refresh = wall_now();
	}
	update_state(t);
}

static void svc_reset(void *owner)
{
	struct k8s_target *t = owner;

	t->svc_exists = false;
	k8s_service_free(&t->svc);
}

static void set_service(struct k8s_target *t, struct k8s_service *svc)
{
	k8s_service_free(&t->svc);
	t->svc = *svc;
	memset(svc, 0, sizeof(*svc));
	t->svc_exists = true;
}

static void svc_object(void *owner, enum k8s_event_type type, json_object *obj)
{
	struct k8s_target *t = owner;
	struct k8s_service svc;
	char err[256];

	if (type == K8S_EVENT_DELETED) {
		svc_reset(t);
		return;
	}
	if (k8s_service_parse(obj, &svc, err, sizeof(err))) {
		log_warn("msg=\"k8s: ignoring a Service\" source=\"%s\" error=\"%s\"", t->source,
			 err);
		return;
	}
	/* The list and the watch select this one Service by name. */
	set_service(t, &svc);
}

static void svc_synced(void *owner)
{
	struct k8s_target *t = owner;

	t->svc_synced = true;
	t->refreshes++;
	t->last_refresh = wall_now();
	target_apply(t);
}

static void svc_health(void *owner, const char *error, const char *detail)
{
	target_health(owner, WATCH_SERVICE, error, detail);
}

static const struct k8s_watcher_ops svc_ops = {
    .reset = svc_reset,
    .object = svc_object,
    .synced = svc_synced,
    .health = svc_health,
};

static void slices_reset(void *owner)
{
	struct k8s_target *t = owner;

	k8s_slice_set_clear(&t->slices);
}

static void slices_object(void *owner, enum k8s_event_type type, json_object *obj)
{
	struct k8s_target *t = owner;
	struct k8s_slice slice;
	const char *name;
	char err[256];

	if (type == K8S_EVENT_DELETED) {
		name = k8s_get_str(obj, "metadata.name");
		if (name)
			k8s_slice_set_delete(&t->slices, name);
		return;
	}
	if (k8s_slice_parse(obj, &slice, err, sizeof(err))) {
		log_warn("msg=\"k8s: ignoring an EndpointSlice\" source=\"%s\" error=\"%s\"",
			 t->source, err);
		return;
	}
	if (k8s_slice_set_put(&t->slices, &slice)) {
		log_error("msg=\"out of memory for an EndpointSlice\" source=\"%s\"", t->source);
		k8s_slice_free(&slice);
	}
}

static void slices_synced(void *owner)
{
	struct k8s_target *t = owner;

	t->slices_synced = true;
	t->refreshes++;
	t->last_refresh = wall_now();
	target_apply(t);
}

static void slices_health(void *owner, const char *error, const char *detail)
{
	target_health(owner, WATCH_SLICES, error, detail);
}

static const struct k8s_watcher_ops slices_ops = {
    .reset = slices_reset,
    .object = slices_object,
    .synced = slices_synced,
    .health = slices_health,
};

/* --------------------------------------------------------------- targets */

static int start_watches(struct k8s_target *t)
{
	struct k8s_source *s = t->src;
	char what[384], list[1024];
	size_t used;

	if (!t->discovered) {
		/*
		 * The one Service, by field selector: the list's resourceVersion is
		 * current, so the watch can start from it (see k8s_watcher.h).
		 */
		snprintf(what, sizeof(what), "service %s/%s", t->ns, t->name);
		snprintf(list, sizeof(list),
			 "/api/v1/namespaces/%s/services?fieldSelector=", t->ns);
		used = strlen(list);
		k8s_url_escape(list, sizeof(list), &used, "metadata.name=");
		k8s_url_escape(list, sizeof(list), &used, t->name);
		t->svc_watch = k8s_watcher_start(
		    s->api, s->loop, &(struct k8s_watcher_params){what, list, list}, &svc_ops, t);
		if (!t->svc_watch)
			return -1;
	}
	snprintf(what, sizeof(what), "endpointslices %s/%s", t->ns, t->name);
	snprintf(list, sizeof(list),
		 "/apis/discovery.k8s.io/v1/namespaces/%s/endpointslices?labelSelector=", t->ns);
	used = strlen(list);
	k8s_url_escape(list, sizeof(list), &used, "kubernetes.io/service-name=");
	k8s_url_escape(list, sizeof(list), &used, t->name);
	t->slice_watch = k8s_watcher_start(
	    s->api, s->loop, &(struct k8s_watcher_params){what, list, list}, &slices_ops, t);
	return t->slice_watch ? 0 : -1;
}

/* from_table: also take its dynamic services out of the table (not when the agent stops). */
static void target_free(struct k8s_target *t, bool from_table)
{
	k8s_watcher_free(t->svc_watch);
	k8s_watcher_free(t->slice_watch);
	while (t->n_vips)
		drop_vip(t, t->n_vips - 1, from_table);
	free(t->vips);
	k8s_service_free(&t->svc);
	k8s_slice_set_clear(&t->slices);
	free(t->port_name);
	free(t->source);
	free(t);
}

static struct k8s_target *target_new(struct k8s_source *s, const char *source, const char *ns,
				     const char *name, const char *port_name)
{
	struct k8s_target *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->src = s;
	snprintf(t->ns, sizeof(t->ns), "%s", ns);
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->source = strdup(source);
	t->port_name = port_name ? strdup(port_name) : NULL;
	t->sel.port_name = t->port_name;
	if (!t->source || (port_name && !t->port_name)) {
		target_free(t, false);
		return NULL;
	}
	return t;
}

static int add_target(struct k8s_source *s, struct k8s_target *t)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 16;
		struct k8s_target **grown = realloc(s->targets, cap * sizeof(*grown));

		if (!grown)
			return -1;
		s->targets = grown;
		s->cap = cap;
	}
	s->targets[s->n++] = t;
	return 0;
}

static void remove_target(struct k8s_source *s, size_t index)
{
	struct k8s_target *t = s->targets[index];

	s->targets[index] = s->targets[--s->n];
	target_free(t, true);
	notify(s);
}

static void start_spec_target(struct k8s_source *s, const struct service_spec *spec)
{
	struct k8s_target *t =
	    target_new(s, spec->source, spec->k8s_namespace, spec->k8s_name, spec->k8s_port_name);
	char vip[ENDPOINT_STR_LEN];

	if (t) {
		t->sel.has_vip = service_spec_has_vip(spec);
		t->sel.vip = spec->vip;
	}
	if (!t || add_target(s, t)) {
		log_error("msg=\"out of memory: k8s: service not watched\" source=\"%s\"",
			  spec->source);
		if (t)
			target_free(t, false);
		return;
	}
	log_info("msg=\"k8s watch started\" source=\"%s\" service=%s/%s port=%s vip=%s", t->source,
		 t->ns, t->name, t->port_name ? t->port_name : "(the only one)",
		 t->sel.has_vip ? endpoint_str(&t->sel.vip, vip, sizeof(vip)) : "(cluster IPs)");
	if (start_watches(t))
		log_error("msg=\"out of memory: k8s: service not watched\" source=\"%s\"",
			  t->source);
	notify(s);
}

static bool same_opt(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

static bool spec_matches(const struct k8s_target *t, const struct service_spec *sp)
{
	return sp->kind == SOURCE_K8S && !t->discovered && !strcmp(sp->k8s_namespace, t->ns) &&
	       !strcmp(sp->k8s_name, t->name) && same_opt(sp->k8s_port_name, t->port_name) &&
	       service_spec_has_vip(sp) == t->sel.has_vip &&
	       (!t->sel.has_vip || endpoint_equal(&sp->vip, &t->sel.vip));
}

/* A Service a k8s: spec names is the spec's: discovery leaves it alone. */
static bool named_by_spec(const struct k8s_source *s, const char *ns, const char *name)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct k8s_target *t = s->targets[i];

		if (!t->discovered && !strcmp(t->ns, ns) && !strcmp(t->name, name))
			return true;
	}
	return false;
}

/* ------------------------------------------------------------- discovery */

static ssize_t find_discovered(const struct k8s_source *s, const char *ns, const char *name)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct k8s_target *t = s->targets[i];

		if (t->discovered && !strcmp(t->ns, ns) && !strcmp(t->name, name))
			return (ssize_t)i;
	}
	return -1;
}

static void discovery_reset(void *owner)
{
	struct k8s_source *s = owner;

	s->discovery_listing = true;
	for (size_t i = 0; i < s->n; i++)
		s->targets[i]->seen = false;
}

static void undiscover(struct k8s_source *s, size_t index, const char *why)
{
	log_info("msg=\"k8s discovery: service no longer balanced\" service=%s/%s reason=%s",
		 s->targets[index]->ns, s->targets[index]->name, why);
	remove_target(s, index);
}

static struct k8s_target *discover(struct k8s_source *s, const struct k8s_service *svc)
{
	struct k8s_target *t;
	char source[400];

	snprintf(source, sizeof(source), "k8s:%s/%s", svc->ns, svc->name);
	t = target_new(s, source, svc->ns, svc->name, NULL);
	if (t) {
		t->discovered = true;
		t->sel.all_ports = true;
		t->svc_synced = true;
	}
	if (!t || add_target(s, t)) {
		log_error("msg=\"out of memory: discovered service not watched\" service=%s/%s",
			  svc->ns, svc->name);
		if (t)
			target_free(t, false);
		return NULL;
	}
	log_info("msg=\"k8s discovery: balancing service\" service=%s/%s", svc->ns, svc->name);
	if (start_watches(t))
		log_error("msg=\"out of memory: discovered service not watched\" service=%s/%s",
			  svc->ns, svc->name);
	return t;
}

static void discovery_object(void *owner, enum k8s_event_type type, json_object *obj)
{
	struct k8s_source *s = owner;
	struct k8s_service svc;
	struct k8s_target *t;
	ssize_t i;
	char err[256];

	if (k8s_service_parse(obj, &svc, err, sizeof(err))) {
		log_warn("msg=\"k8s discovery: ignoring a Service\" error=\"%s\"", err);
		return;
	}
	i = find_discovered(s, svc.ns, svc.name);
	if (type == K8S_EVENT_DELETED || !k8s_service_discoverable(&svc) ||
	    named_by_spec(s, svc.ns, svc.name)) {
		if (i >= 0)
			undiscover(s, (size_t)i,
				   type == K8S_EVENT_DELETED ? "deleted"
				   : named_by_spec(s, svc.ns, svc.name)
				       ? "named-by-a-k8s-spec"
				       : "not-annotated-or-no-cluster-ip");
		k8s_service_free(&svc);
		return;
	}
	t = i >= 0 ? s->targets[i] : discover(s, &svc);
	if (!t) {
		k8s_service_free(&svc);
		return;
	}
	t->seen = true;
	set_service(t, &svc);
	target_apply(t);
}

static void discovery_synced(void *owner)
{
	struct k8s_source *s = owner;

	if (!s->discovery_listing)
		return;
	s->discovery_listing = false;
	s->discovery_listed = true;
	for (size_t i = s->n; i-- > 0;) {
		if (s->targets[i]->discovered && !s->targets[i]->seen)
			undiscover(s, i, "gone-from-list");
	}
	notify(s);
}

static void discovery_health(void *owner, const char *error, const char *detail)
{
	struct k8s_source *s = owner;

	if (error && !s->discovery_error[0])
		log_warn("msg=\"k8s discovery state\" state=failing error=%s detail=\"%s\" "
			 "action=keep-discovered",
			 error, detail ? detail : "");
	else if (!error && (s->discovery_error[0] || !s->discovery_ok))
		log_info("msg=\"k8s discovery state\" state=ok");
	snprintf(s->discovery_error, sizeof(s->discovery_error), "%s", error ? error : "");
	s->discovery_ok = !error;
}

static const struct k8s_watcher_ops discovery_ops = {
    .reset = discovery_reset,
    .object = discovery_object,
    .synced = discovery_synced,
    .health = discovery_health,
};

/* ------------------------------------------------------------------ API */

struct k8s_source *k8s_source_new(struct event_loop *loop, struct service_table *table,
				  const struct k8s_source_opts *opts, char *err, size_t errlen)
{
	struct k8s_source *s = calloc(1, sizeof(*s));

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->loop = loop;
	s->table = table;
	s->opts = *opts;
	s->api = k8s_api_new(loop, &opts->api, err, errlen);
	if (!s->api) {
		free(s);
		return NULL;
	}
	log_info("msg=\"k8s source\" api=%s in_cluster=%s namespace=%s token_file=%s ca_file=%s "
		 "discover=%s watch_timeout_s=%llu",
		 opts->api.server, opts->api.in_cluster ? "true" : "false",
		 opts->api.ns[0] ? opts->api.ns : "-",
		 opts->api.token_file[0] ? opts->api.token_file : "-",
		 opts->api.ca_file[0] ? opts->api.ca_file : "system",
		 opts->discover ? "true" : "false",
		 (unsigned long long)(opts->api.watch_timeout_ms / 1000));
	return s;
}

void k8s_source_sync(struct k8s_source *s, const struct service_spec_list *specs)
{
	bool changed = false;

	for (size_t i = s->n; i-- > 0;) {
		struct k8s_target *t = s->targets[i];
		bool wanted = false;

		if (t->discovered)
			continue; /* discovery's own; a new spec may claim it below */
		for (size_t j = 0; j < specs->n && !wanted; j++)
			wanted = spec_matches(t, &specs->items[j]);
		if (!wanted) {
			log_info("msg=\"k8s watch stopped\" source=\"%s\"", t->source);
			remove_target(s, i);
			changed = true;
		}
	}
	for (size_t j = 0; j < specs->n; j++) {
		const struct service_spec *sp = &specs->items[j];
		bool known = false;

		if (sp->kind != SOURCE_K8S)
			continue;
		for (size_t i = 0; i < s->n && !known; i++)
			known = spec_matches(s->targets[i], sp);
		if (known)
			continue;
		/* A discovered target of the same Service yields to the spec. */
		for (ssize_t d; (d = find_discovered(s, sp->k8s_namespace, sp->k8s_name)) >= 0;)
			undiscover(s, (size_t)d, "named-by-a-k8s-spec");
		start_spec_target(s, sp);
		changed = true;
	}
	if (s->opts.discover && !s->discovery) {
		s->discovery = k8s_watcher_start(
		    s->api, s->loop,
		    &(struct k8s_watcher_params){"services (all namespaces, discovery)",
						 "/api/v1/services", "/api/v1/services"},
		    &discovery_ops, s);
		if (!s->discovery)
			log_error("msg=\"out of memory: k8s discovery not started\"");
	} else if (s->discovery && changed) {
		/* A Service a spec let go of may be the discovery's again. */
		k8s_watcher_relist(s->discovery);
	}
	notify(s);
}

static const struct k8s_target *target_of(const struct k8s_source *s, const struct endpoint *vip)
{
	for (size_t i = 0; s && i < s->n; i++) {
		const struct k8s_target *t = s->targets[i];

		ssize_t v = find_vip(t, vip);

		if (t->sel.has_vip && endpoint_equal(&t->sel.vip, vip))
			return t;
		if (v >= 0 && (!t->vips[v].dynamic || service_table_owns(s->table, vip, t)))
			return t;
	}
	return NULL;
}

static void fill_status(const struct k8s_target *t, struct k8s_watch_status *out)
{
	out->source = t->source;
	out->state = state_names[t->state];
	out->last_refresh = t->last_refresh;
	out->last_error = t->last_error[0] ? t->last_error : NULL;
	out->last_error_at = t->last_error_at;
	out->refreshes = t->refreshes;
	out->errors = t->errors;
}

bool k8s_source_status(const struct k8s_source *s, const struct endpoint *vip,
		       struct k8s_watch_status *out)
{
	const struct k8s_target *t = target_of(s, vip);

	if (!t)
		return false;
	fill_status(t, out);
	return true;
}

size_t k8s_source_unplaced(const struct k8s_source *s, struct state_service *out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; s && i < s->n; i++) {
		const struct k8s_target *t = s->targets[i];
		struct k8s_watch_status st;

		if (t->sel.has_vip || t->n_vips)
			continue;
		if (n < max) {
			fill_status(t, &st);
			memset(&out[n], 0, sizeof(out[n]));
			out[n].source = st.source;
			out[n].kind = "k8s";
			out[n].state = st.state;
			out[n].last_refresh = st.last_refresh;
			out[n].last_error = st.last_error;
			out[n].last_error_at = st.last_error_at;
			out[n].refreshes = st.refreshes;
			out[n].errors = st.errors;
		}
		n++;
	}
	return n;
}

void k8s_source_free(struct k8s_source *s)
{
	if (!s)
		return;
	k8s_watcher_free(s->discovery);
	/* Quietly, and the maps stay: with --persist the next agent goes on from them. */
	while (s->n)
		target_free(s->targets[--s->n], false);
	free(s->targets);
	k8s_api_free(s->api);
	free(s);
}
