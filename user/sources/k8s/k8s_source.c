// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "sources/k8s/k8s_source.h"
#include "lib/array.h"
#include "sources/k8s/k8s_source_impl.h"
#include "lib/clock.h"
#include "lib/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool k8s_source_services_synced(const struct k8s_source *s)
{
	for (size_t i = 0; i < s->n_scopes; i++) {
		if (!k8s_informer_synced(s->scopes[i].services))
			return false;
	}
	return true;
}

bool k8s_source_synced(const struct k8s_source *s)
{
	for (size_t i = 0; i < s->n_scopes; i++) {
		if (!k8s_informer_synced(s->scopes[i].slices))
			return false;
	}
	return k8s_source_services_synced(s);
}

const struct k8s_scope *k8s_source_scope(const struct k8s_source *s, const char *ns)
{
	for (size_t i = 0; i < s->n_scopes; i++) {
		if (!s->scopes[i].ns[0] || !strcmp(s->scopes[i].ns, ns))
			return &s->scopes[i];
	}
	return NULL;
}

const struct k8s_informer_health *k8s_source_failing(const struct k8s_source *s, const char *ns,
						     struct k8s_informer_health *out)
{
	const struct k8s_scope *scope = k8s_source_scope(s, ns);

	if (!scope)
		return NULL;
	k8s_informer_health(scope->services, out);
	if (out->error)
		return out;
	k8s_informer_health(scope->slices, out);
	return out->error ? out : NULL;
}

/*
 * Once both informers listed, every Service is known: the services an
 * earlier agent left (--persist) that no target claimed are not wanted any
 * more.  Until then they keep their backends and connections.
 */
static void check_first_sync(struct k8s_source *s)
{
	size_t dropped;

	if (s->first_sync_done || !k8s_source_synced(s))
		return;
	s->first_sync_done = true;
	dropped = service_table_drop_unclaimed(s->table);
	log_info("msg=\"k8s: every service known\" targets=%zu dropped_unclaimed=%zu", s->n,
		 dropped);
}

void k8s_source_notify(struct k8s_source *s)
{
	check_first_sync(s);
	if (s->opts.changed)
		s->opts.changed(s->opts.changed_arg);
}

static void vip_key(const struct endpoint *vip, char *buf, size_t len)
{
	endpoint_str(vip, buf, len);
}

int k8s_source_add_target(struct k8s_source *s, struct k8s_target *t)
{
	char vip[ENDPOINT_STR_LEN];

	if (ARRAY_RESERVE(s->targets, s->cap, s->n))
		return -ENOMEM;
	if (t->sel.has_vip) {
		vip_key(&t->sel.vip, vip, sizeof(vip));
		if (strmap_put(&s->by_vip, vip, t))
			return -ENOMEM;
	}
	t->same_next = strmap_get(&s->by_key, t->key);
	if (strmap_put(&s->by_key, t->key, t)) {
		if (t->sel.has_vip)
			strmap_del(&s->by_vip, vip);
		return -ENOMEM;
	}
	t->pos = s->n;
	s->targets[s->n++] = t;
	return 0;
}

/* Takes t out of the chain of its Service's targets and out of by_vip. */
static void unlink_target(struct k8s_source *s, struct k8s_target *t)
{
	struct k8s_target *first = strmap_get(&s->by_key, t->key);
	char vip[ENDPOINT_STR_LEN];

	if (first == t && t->same_next)
		strmap_put(&s->by_key, t->key, t->same_next); /* replaces: cannot fail */
	else if (first == t)
		strmap_del(&s->by_key, t->key);
	for (struct k8s_target *p = first; p && p != t; p = p->same_next) {
		if (p->same_next == t)
			p->same_next = t->same_next;
	}
	if (t->sel.has_vip) {
		vip_key(&t->sel.vip, vip, sizeof(vip));
		if (strmap_get(&s->by_vip, vip) == t)
			strmap_del(&s->by_vip, vip);
	}
}

void k8s_source_remove_target(struct k8s_source *s, size_t index)
{
	struct k8s_target *t = s->targets[index];

	s->targets[index] = s->targets[--s->n];
	s->targets[index]->pos = index;
	unlink_target(s, t);
	k8s_target_free(t, true);
	k8s_source_notify(s);
}

static void start_spec_target(struct k8s_source *s, const struct service_spec *spec)
{
	struct k8s_target *t = k8s_target_new(s, spec->source, spec->k8s_namespace, spec->k8s_name,
					      spec->k8s_port_name);
	char vip[ENDPOINT_STR_LEN];

	if (t) {
		t->sel.has_vip = service_spec_has_vip(spec);
		t->sel.vip = spec->vip;
	}
	if (!t || k8s_source_add_target(s, t)) {
		log_error("msg=\"out of memory: k8s: service not watched\" source=%s",
			  log_q(spec->source));
		if (t)
			k8s_target_free(t, false);
		return;
	}
	log_info("msg=\"k8s service\" source=%s service=%s/%s port=%s vip=%s", log_q(t->source),
		 t->ns, t->name, t->port_name ? t->port_name : "(the only one)",
		 t->sel.has_vip ? endpoint_str(&t->sel.vip, vip, sizeof(vip)) : "(cluster IPs)");
	k8s_target_apply(t);
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

/* ------------------------------------------------------------------ API */

/*
 * One informer per resource for every namespace, on the source's one API
 * client; or, with --k8s-namespace, one per resource and namespace.
 */
static int start_informers(struct k8s_source *s)
{
	size_t n = s->opts.n_namespaces ? s->opts.n_namespaces : 1;

	s->scopes = calloc(n, sizeof(*s->scopes));
	if (!s->scopes)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct k8s_scope *sc = &s->scopes[s->n_scopes++];
		const char *ns = s->opts.n_namespaces ? s->opts.namespaces[i] : NULL;

		snprintf(sc->ns, sizeof(sc->ns), "%s", ns ? ns : "");
		sc->services = k8s_informer_new(s->api, s->loop, &k8s_services_resource, ns);
		sc->slices = k8s_informer_new(s->api, s->loop, &k8s_endpointslices_resource, ns);
		if (!sc->services || !sc->slices)
			return -ENOMEM;
	}
	if (k8s_source_handle_events(s))
		return -ENOMEM;
	for (size_t i = 0; i < s->n_scopes; i++) {
		if (k8s_informer_start(s->scopes[i].services) ||
		    k8s_informer_start(s->scopes[i].slices))
			return -ENOMEM;
	}
	return 0;
}

/* "services,endpointslices in a, b" or "... (all namespaces)", for the log. */
static const char *watched_text(const struct k8s_source *s, char *buf, size_t len)
{
	size_t used = (size_t)snprintf(buf, len, "services,endpointslices %s",
				       s->opts.n_namespaces ? "in" : "(all namespaces)");

	for (size_t i = 0; i < s->opts.n_namespaces && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? ", " : " ",
					 s->opts.namespaces[i]);
	return buf;
}

struct k8s_source *k8s_source_new(struct event_loop *loop, struct service_table *table,
				  const struct k8s_source_opts *opts, char *err, size_t errlen)
{
	struct k8s_source *s = calloc(1, sizeof(*s));
	char watched[1024];

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->loop = loop;
	s->table = table;
	s->opts = *opts;
	s->api = k8s_api_new(loop, &opts->api, err, errlen);
	if (!s->api || start_informers(s)) {
		if (s->api)
			snprintf(err, errlen, "out of memory");
		k8s_source_free(s);
		return NULL;
	}
	log_info("msg=\"k8s source\" api=%s in_cluster=%s namespace=%s token_file=%s ca_file=%s "
		 "discover=%s watch_timeout_s=%llu watches=%s",
		 opts->api.server, opts->api.in_cluster ? "true" : "false",
		 opts->api.ns[0] ? opts->api.ns : "-",
		 opts->api.token_file[0] ? opts->api.token_file : "-",
		 opts->api.ca_file[0] ? opts->api.ca_file : "system",
		 opts->discover ? "true" : "false",
		 (unsigned long long)(opts->api.watch_timeout_ms / 1000),
		 log_q(watched_text(s, watched, sizeof(watched))));
	return s;
}

/* The target of spec sp, through the chain of its Service's targets; NULL if none. */
static struct k8s_target *spec_target(const struct k8s_source *s, const struct service_spec *sp)
{
	char key[sizeof(((struct k8s_target *)0)->key)];

	if (k8s_key(key, sizeof(key), sp->k8s_namespace, sp->k8s_name))
		return NULL;
	for (struct k8s_target *t = strmap_get(&s->by_key, key); t; t = t->same_next) {
		if (spec_matches(t, sp))
			return t;
	}
	return NULL;
}

void k8s_source_sync(struct k8s_source *s, const struct service_spec_list *specs)
{
	struct k8s_target *t;

	for (size_t i = 0; i < s->n; i++)
		s->targets[i]->seen = false;
	for (size_t j = 0; j < specs->n; j++) {
		if (specs->items[j].kind == SOURCE_K8S && (t = spec_target(s, &specs->items[j])))
			t->seen = true;
	}
	/* Gone first: a new spec may want the VIPs they hold. */
	for (size_t i = s->n; i-- > 0;) {
		t = s->targets[i];
		if (t->discovered || t->seen)
			continue; /* discovery's own; a new spec may claim it below */
		log_info("msg=\"k8s service dropped\" source=%s", log_q(t->source));
		k8s_source_remove_target(s, i);
	}
	for (size_t j = 0; j < specs->n; j++) {
		const struct service_spec *sp = &specs->items[j];

		if (sp->kind != SOURCE_K8S || spec_target(s, sp))
			continue;
		/* A discovered target of the same Service yields to the spec. */
		for (ssize_t d; (d = k8s_find_discovered(s, sp->k8s_namespace, sp->k8s_name)) >= 0;)
			k8s_undiscover(s, (size_t)d, "named-by-a-k8s-spec");
		start_spec_target(s, sp);
	}
	/* A Service a spec let go of may be the discovery's again. */
	if (s->opts.discover)
		k8s_discovery_reconcile(s, NULL);
	k8s_source_notify(s);
}

/*
 * The target that publishes svc: found by its VIP, and for a VIP a target
 * added itself, only while the table still says it is that target's (a
 * configured service may have taken the VIP over).  No scan of the table:
 * the state file asks this of every service.
 */
static const struct k8s_target *target_of(const struct k8s_source *s,
					  const struct agent_service *svc)
{
	char key[ENDPOINT_STR_LEN];
	const struct k8s_target *t;
	ssize_t v;

	if (!s)
		return NULL;
	vip_key(&svc->vip, key, sizeof(key));
	t = strmap_get(&s->by_vip, key);
	if (!t)
		return NULL;
	if (t->sel.has_vip && endpoint_equal(&t->sel.vip, &svc->vip))
		return t;
	v = k8s_target_find_vip(t, &svc->vip);
	if (v >= 0 && (!t->vips[v].dynamic || (svc->dynamic && svc->owner == t)))
		return t;
	return NULL;
}

static void fill_status(const struct k8s_target *t, struct k8s_watch_status *out)
{
	struct k8s_informer_health h;
	const struct k8s_informer_health *failing;
	unsigned long long api_errors = 0;
	double api_refresh = 0;

	for (size_t i = 0; i < t->src->n_scopes; i++) {
		const struct k8s_scope *sc = &t->src->scopes[i];
		bool own = !sc->ns[0] || !strcmp(sc->ns, t->ns);

		k8s_informer_health(sc->services, &h);
		api_errors += h.errors;
		api_refresh = own ? h.last_refresh : api_refresh;
		k8s_informer_health(sc->slices, &h);
		api_errors += h.errors;
		if (own && h.last_refresh < api_refresh)
			api_refresh = h.last_refresh;
	}
	failing = k8s_source_failing(t->src, t->ns, &h);
	out->source = t->source;
	out->state = k8s_state_names[k8s_target_state(t)];
	/* Its own last change, or the API's last answer for both its informers. */
	out->last_refresh = t->last_refresh > api_refresh ? t->last_refresh : api_refresh;
	out->last_error = failing ? failing->error : t->last_error[0] ? t->last_error : NULL;
	out->last_error_at = failing ? failing->last_error_at : t->last_error_at;
	out->refreshes = t->refreshes;
	out->errors = t->errors + api_errors;
}

bool k8s_source_status(const struct k8s_source *s, const struct agent_service *svc,
		       struct k8s_watch_status *out)
{
	const struct k8s_target *t = target_of(s, svc);

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

size_t k8s_source_watches(const struct k8s_source *s, struct k8s_informer_health *out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; s && i < s->n_scopes; i++) {
		const struct k8s_informer *infs[] = {s->scopes[i].services, s->scopes[i].slices};

		for (size_t j = 0; j < 2; j++) {
			if (n < max)
				k8s_informer_health(infs[j], &out[n]);
			n++;
		}
	}
	return n;
}

void k8s_source_api_stats(const struct k8s_source *s, struct k8s_api_stats *out)
{
	k8s_api_stats(s->api, out);
}

struct k8s_api *k8s_source_api(const struct k8s_source *s)
{
	return s->api;
}

void k8s_source_free(struct k8s_source *s)
{
	if (!s)
		return;
	/* Quietly, and the maps stay: with --persist the next agent goes on from them. */
	while (s->n)
		k8s_target_free(s->targets[--s->n], false);
	free(s->targets);
	strmap_clear(&s->by_key);
	strmap_clear(&s->by_vip);
	for (size_t i = 0; i < s->n_scopes; i++) {
		k8s_informer_free(s->scopes[i].services);
		k8s_informer_free(s->scopes[i].slices);
	}
	free(s->scopes);
	k8s_api_free(s->api);
	free(s);
}
