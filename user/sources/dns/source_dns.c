// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "sources/dns/source_dns.h"
#include "lib/array.h"
#include "sources/dns/dns_resolver.h"
#include "lib/clock.h"
#include "lib/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct dns_watch {
	struct dns_source *src;
	struct endpoint vip;
	char *name;
	__u16 port; /* network byte order */
	struct dns_tracker tracker;
	struct dns_query *query; /* in flight, or NULL */
	struct loop_timer timer; /* the next lookup */
	double last_refresh;
	char last_error[64];
	double last_error_at;
	unsigned long long refreshes; /* answers (addresses or empty) */
	unsigned long long errors;    /* failed lookups */
	bool empty_published; /* the empty set is out since the last answer with addresses */
};

struct dns_source {
	struct event_loop *loop;
	struct service_table *table;
	struct dns_resolver *resolver;
	struct dns_source_opts opts;
	struct dns_watch **watches;
	size_t n, cap;
};

static int by_endpoint(const void *a, const void *b)
{
	return endpoint_cmp(a, b);
}

size_t dns_answer_backends(const struct dns_answer *a, __u16 port, __u8 family,
			   struct endpoint *out)
{
	size_t n = a->n_addrs < SOCKLB_MAX_BACKENDS_PER_SERVICE ? a->n_addrs
								: SOCKLB_MAX_BACKENDS_PER_SERVICE;
	size_t kept = 0;

	for (size_t i = 0; i < n; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		out[i].addr = a->addrs[i];
		out[i].port = port;
		out[i].family = family;
	}
	qsort(out, n, sizeof(*out), by_endpoint);
	for (size_t i = 0; i < n; i++) {
		if (kept == 0 || !endpoint_equal(&out[kept - 1], &out[i]))
			out[kept++] = out[i];
	}
	return kept;
}

static void publish(struct dns_watch *w, const struct dns_step *step, const struct dns_answer *a)
{
	struct endpoint *backends = NULL;
	char vip[ENDPOINT_STR_LEN];
	size_t n = 0;

	if (step->action == DNS_KEEP)
		return;
	if (step->action == DNS_PUBLISH_ANSWER) {
		backends = calloc(a->n_addrs, sizeof(*backends));
		if (!backends) {
			log_error("msg=\"out of memory for a DNS answer\" name=%s", w->name);
			return;
		}
		n = dns_answer_backends(a, w->port, w->vip.family, backends);
	}
	/* On failure the next answer tries again: the published set stays meanwhile. */
	if (service_table_set_backends(w->src->table, &w->vip, backends, n))
		log_error("msg=\"cannot publish the DNS answer\" service=%s name=%s",
			  endpoint_str(&w->vip, vip, sizeof(vip)), w->name);
	free(backends);
}

/* One line per change of state, never one per retry. */
static void log_transition(const struct dns_watch *w, const struct dns_step *step,
			   const struct dns_answer *a, bool news)
{
	char vip[ENDPOINT_STR_LEN];
	enum dns_state to = w->tracker.state;

	if (step->from == to && !news)
		return;
	endpoint_str(&w->vip, vip, sizeof(vip));
	if (to == DNS_STATE_OK)
		log_info("msg=\"dns state\" service=%s name=%s from=%s state=ok addresses=%zu "
			 "ttl=%u next_ms=%llu",
			 vip, w->name, dns_state_name(step->from), a->n_addrs, a->ttl_s,
			 (unsigned long long)step->next_ms);
	else
		log_warn("msg=\"dns state\" service=%s name=%s from=%s state=%s error=%s "
			 "action=%s retry_ms=%llu",
			 vip, w->name, dns_state_name(step->from), dns_state_name(to), a->error,
			 step->action == DNS_PUBLISH_EMPTY ? "publish-empty" : "keep-last-known",
			 (unsigned long long)step->next_ms);
}

static void lookup(void *arg);

static void schedule(struct dns_watch *w, uint64_t delay_ms)
{
	if (loop_timer_arm(w->src->loop, &w->timer, delay_ms, lookup, w))
		log_error("msg=\"cannot schedule the next DNS lookup\" name=%s", w->name);
}

/*
 * Records what status shows.  Returns true if the answer is worth a log line
 * although the state stays: the end of the grace, when the empty set goes out.
 * Another error in the same state is not: a flapping server would log every
 * retry.
 */
static bool record(struct dns_watch *w, const struct dns_answer *a, const struct dns_step *step)
{
	bool news = step->action == DNS_PUBLISH_EMPTY && !w->empty_published;

	if (step->action != DNS_KEEP)
		w->empty_published = step->action == DNS_PUBLISH_EMPTY;
	if (a->outcome != DNS_OUTCOME_ERROR) {
		w->last_refresh = wall_now();
		w->refreshes++;
	} else {
		w->errors++;
	}
	if (a->error) {
		snprintf(w->last_error, sizeof(w->last_error), "%s", a->error);
		w->last_error_at = wall_now();
	}
	return news;
}

static void on_answer(void *arg, const struct dns_answer *a)
{
	struct dns_watch *w = arg;
	struct dns_source *src = w->src;
	struct dns_step step =
	    dns_tracker_step(&w->tracker, &src->opts.timing, a->outcome, a->ttl_s, mono_now_ms());
	bool news = record(w, a, &step);

	publish(w, &step, a);
	log_transition(w, &step, a, news);
	schedule(w, step.next_ms);
	if (src->opts.changed)
		src->opts.changed(src->opts.changed_arg);
}

static void lookup(void *arg)
{
	struct dns_watch *w = arg;

	if (w->query)
		return; /* an answer is still to come; it schedules the next lookup */
	if (dns_resolver_lookup(w->src->resolver, w->name, w->vip.family, on_answer, w, &w->query))
		schedule(w, dns_backoff_ms(&w->src->opts.timing, 1));
}

static void stop_watch(struct dns_source *s, size_t index)
{
	struct dns_watch *w = s->watches[index];
	char vip[ENDPOINT_STR_LEN];

	log_info("msg=\"dns watch stopped\" service=%s name=%s",
		 endpoint_str(&w->vip, vip, sizeof(vip)), w->name);
	dns_query_cancel(&w->query);
	loop_timer_cancel(s->loop, &w->timer);
	free(w->name);
	free(w);
	s->watches[index] = s->watches[--s->n];
}

static void start_watch(struct dns_source *s, const struct service_spec *spec)
{
	struct dns_watch *w = calloc(1, sizeof(*w));
	char vip[ENDPOINT_STR_LEN];

	if (!w || ARRAY_RESERVE(s->watches, s->cap, s->n) || !(w->name = strdup(spec->dns_name))) {
		log_error("msg=\"out of memory: dns: service not watched\" service=%s",
			  endpoint_str(&spec->vip, vip, sizeof(vip)));
		free(w);
		return;
	}
	w->src = s;
	w->vip = spec->vip;
	w->port = spec->dns_port;
	s->watches[s->n++] = w;
	log_info("msg=\"dns watch started\" service=%s name=%s family=%s",
		 endpoint_str(&w->vip, vip, sizeof(vip)), w->name,
		 w->vip.family == AF_INET6 ? "AAAA" : "A");
	lookup(w);
}

static struct dns_watch *find_watch(const struct dns_source *s, const struct endpoint *vip)
{
	for (size_t i = 0; i < s->n; i++) {
		if (endpoint_equal(&s->watches[i]->vip, vip))
			return s->watches[i];
	}
	return NULL;
}

/* The dns: spec for the watch's VIP, if it still asks for the same name and port. */
static bool still_wanted(const struct dns_watch *w, const struct service_spec_list *specs)
{
	for (size_t i = 0; i < specs->n; i++) {
		const struct service_spec *sp = &specs->items[i];

		if (endpoint_equal(&sp->vip, &w->vip))
			return sp->kind == SOURCE_DNS && sp->dns_port == w->port &&
			       !strcmp(sp->dns_name, w->name);
	}
	return false;
}

void dns_source_sync(struct dns_source *s, const struct service_spec_list *specs)
{
	for (size_t i = s->n; i-- > 0;) {
		if (!still_wanted(s->watches[i], specs))
			stop_watch(s, i);
	}
	for (size_t i = 0; i < specs->n; i++) {
		if (specs->items[i].kind == SOURCE_DNS && !find_watch(s, &specs->items[i].vip))
			start_watch(s, &specs->items[i]);
	}
}

struct dns_source *dns_source_new(struct event_loop *loop, struct service_table *table,
				  const struct dns_source_opts *opts, char *err, size_t errlen)
{
	struct dns_source *s = calloc(1, sizeof(*s));

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->loop = loop;
	s->table = table;
	s->opts = *opts;
	s->resolver = dns_resolver_new(loop, opts->servers_csv, err, errlen);
	if (!s->resolver) {
		free(s);
		return NULL;
	}
	return s;
}

bool dns_source_status(const struct dns_source *s, const struct endpoint *vip,
		       struct dns_watch_status *out)
{
	const struct dns_watch *w = s ? find_watch(s, vip) : NULL;

	if (!w)
		return false;
	out->name = w->name;
	out->state = w->tracker.state;
	out->last_refresh = w->last_refresh;
	out->last_error = w->last_error[0] ? w->last_error : NULL;
	out->last_error_at = w->last_error_at;
	out->refreshes = w->refreshes;
	out->errors = w->errors;
	return true;
}

void dns_source_free(struct dns_source *s)
{
	if (!s)
		return;
	/* Quietly: stopping the agent is not news for every service. */
	while (s->n) {
		struct dns_watch *w = s->watches[--s->n];

		dns_query_cancel(&w->query);
		loop_timer_cancel(s->loop, &w->timer);
		free(w->name);
		free(w);
	}
	dns_resolver_free(s->resolver);
	free(s->watches);
	free(s);
}
