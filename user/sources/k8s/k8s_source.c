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

void k8s_source_notify(struct k8s_source *s)
{
	check_first_sync(s);
	if (s->opts.changed)
		s->opts.changed(s->opts.changed_arg);
}

int k8s_source_add_target(struct k8s_source *s, struct k8s_target *t)
{
	if (ARRAY_RESERVE(s->targets, s->cap, s->n))
		return -ENOMEM;
	s->targets[s->n++] = t;
	return 0;
}

void k8s_source_remove_target(struct k8s_source *s, size_t index)
{
	struct k8s_target *t = s->targets[index];

	s->targets[index] = s->targets[--s->n];
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
	log_info("msg=\"k8s watch started\" source=%s service=%s/%s port=%s vip=%s",
		 log_q(t->source), t->ns, t->name, t->port_name ? t->port_name : "(the only one)",
		 t->sel.has_vip ? endpoint_str(&t->sel.vip, vip, sizeof(vip)) : "(cluster IPs)");
	if (k8s_target_start_watches(t))
		log_error("msg=\"out of memory: k8s: service not watched\" source=%s",
			  log_q(t->source));
	k8s_source_notify(s);
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
			log_info("msg=\"k8s watch stopped\" source=%s", log_q(t->source));
			k8s_source_remove_target(s, i);
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
		for (ssize_t d; (d = k8s_find_discovered(s, sp->k8s_namespace, sp->k8s_name)) >= 0;)
			k8s_undiscover(s, (size_t)d, "named-by-a-k8s-spec");
		start_spec_target(s, sp);
		changed = true;
	}
	if (s->opts.discover && !s->discovery) {
		s->discovery = k8s_watcher_start(
		    s->api, s->loop,
		    &(struct k8s_watcher_params){"services (all namespaces, discovery)",
						 "/api/v1/services", "/api/v1/services"},
		    &k8s_discovery_ops, s);
		if (!s->discovery)
			log_error("msg=\"out of memory: k8s discovery not started\"");
	} else if (s->discovery && changed) {
		/* A Service a spec let go of may be the discovery's again. */
		k8s_watcher_relist(s->discovery);
	}
	k8s_source_notify(s);
}

static const struct k8s_target *target_of(const struct k8s_source *s, const struct endpoint *vip)
{
	for (size_t i = 0; s && i < s->n; i++) {
		const struct k8s_target *t = s->targets[i];

		ssize_t v = k8s_target_find_vip(t, vip);

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
	out->state = k8s_state_names[t->state];
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
		k8s_target_free(s->targets[--s->n], false);
	free(s->targets);
	k8s_api_free(s->api);
	free(s);
}
