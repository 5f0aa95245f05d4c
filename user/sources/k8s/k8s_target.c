// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * One k8s: target (a configured Service, or one --k8s-discover found): its
 * state, and publishing what its Service and EndpointSlices say into the
 * service table.
 */
#include "sources/k8s/k8s_source_impl.h"
#include "lib/clock.h"
#include "lib/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const k8s_state_names[] = {"pending", "ok", "failing", "empty"};

void k8s_target_record_error(struct k8s_target *t, const char *error)
{
	snprintf(t->last_error, sizeof(t->last_error), "%s", error);
	t->last_error_at = wall_now();
	t->errors++;
}

/* ------------------------------------------------------------ the state */

static const struct k8s_service *service_of(const struct k8s_target *t)
{
	const struct k8s_scope *scope = k8s_source_scope(t->src, t->ns);

	return scope ? k8s_cache_get(k8s_informer_cache(scope->services), t->key) : NULL;
}

/* Its own state: what its Service says, whatever the API's health. */
static enum target_state own_state(const struct k8s_target *t)
{
	if (!k8s_source_scope(t->src, t->ns))
		return T_FAILING; /* its namespace is not watched (config_error says so) */
	if (!k8s_source_synced(t->src))
		return T_PENDING;
	if (!service_of(t))
		return T_EMPTY;
	return t->config_error[0] ? T_FAILING : T_OK;
}

enum target_state k8s_target_state(const struct k8s_target *t)
{
	struct k8s_informer_health h;

	return k8s_source_failing(t->src, t->ns, &h) ? T_FAILING : t->state;
}

static size_t published_backends(const struct k8s_target *t)
{
	size_t n = 0;

	for (size_t i = 0; i < t->n_vips; i++)
		n += t->vips[i].n_backends;
	return n;
}

/*
 * One log line per change of its own state.  The API's failures are the
 * informers' to log, once for every target (k8s_informer.c).
 */
static void update_state(struct k8s_target *t)
{
	enum target_state to = own_state(t);
	enum target_state from = t->state;

	if (to == from)
		return;
	t->state = to;
	if (to == T_OK)
		log_info("msg=\"k8s state\" source=%s from=%s state=ok vips=%zu backends=%zu",
			 log_q(t->source), k8s_state_names[from], t->n_vips, published_backends(t));
	else if (to == T_FAILING)
		log_warn("msg=\"k8s state\" source=%s from=%s state=failing error=%s",
			 log_q(t->source), k8s_state_names[from], log_q(t->config_error));
	else if (to == T_EMPTY)
		log_warn("msg=\"k8s state\" source=%s from=%s state=empty error=service-not-found",
			 log_q(t->source), k8s_state_names[from]);
	if (to == T_EMPTY)
		k8s_target_record_error(t, "service-not-found");
}

static void set_config_error(struct k8s_target *t, const char *error)
{
	if (!strcmp(t->config_error, error))
		return;
	snprintf(t->config_error, sizeof(t->config_error), "%s", error);
	if (error[0]) {
		k8s_target_record_error(t, error);
		/* Logged once here, when it appears; update_state logs the state. */
		log_warn("msg=\"k8s service cannot be balanced\" source=%s error=%s",
			 log_q(t->source), log_q(error));
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

/* The backends of tv from every slice of the target's Service (malloc'd into *eps). */
static int vip_backends(const struct k8s_target *t, const struct target_vip *tv,
			struct endpoint **eps, size_t *n)
{
	const struct k8s_scope *scope = k8s_source_scope(t->src, t->ns);
	size_t n_slices = 0;
	struct k8s_cache_entry *const *e =
	    scope ? k8s_cache_indexed(k8s_informer_cache(scope->slices), t->key, &n_slices) : NULL;
	const struct k8s_slice **slices = calloc(n_slices ? n_slices : 1, sizeof(*slices));
	int ret;

	if (!slices)
		return -ENOMEM;
	for (size_t i = 0; i < n_slices; i++)
		slices[i] = e[i]->obj;
	ret = k8s_slices_backends(slices, n_slices, &tv->v, eps, n);
	free(slices);
	return ret;
}

/*
 * A socklb.io/time-fair annotation that is neither "off" nor a duration is
 * ignored (the agent's --time-fair applies), and said once: logged and in
 * the target's last error.
 */
static void note_time_fair(struct k8s_target *t, const struct k8s_service *svc)
{
	bool bad = svc && svc->time_fair_bad;

	if (bad && !t->time_fair_bad) {
		k8s_target_record_error(t, "annotation " K8S_ANNOTATION_TIME_FAIR
					   ": expected off or a duration such as 30s; ignored");
		log_warn("msg=\"k8s service annotation ignored\" source=%s annotation=%s "
			 "expected=\"off or a duration such as 30s\"",
			 log_q(t->source), K8S_ANNOTATION_TIME_FAIR);
	}
	t->time_fair_bad = bad;
}

static void publish_vip(struct k8s_target *t, struct target_vip *tv)
{
	struct service_table *table = t->src->table;
	const struct k8s_service *svc = service_of(t);
	struct service_time_fair tf = svc ? svc->time_fair : (struct service_time_fair){0};
	struct endpoint *eps = NULL;
	char vip[ENDPOINT_STR_LEN];
	size_t n = 0;

	if (tv->dynamic && !service_table_owns(table, &tv->v.vip, t))
		return; /* a configured service took the VIP over */
	service_table_set_time_fair(table, &tv->v.vip, &tf);
	if (!tv->none && vip_backends(t, tv, &eps, &n)) {
		log_error("msg=\"out of memory for k8s backends\" source=%s", log_q(t->source));
		return;
	}
	if (same_backends(tv, eps, n)) {
		free(eps);
		return;
	}
	/* On failure the next event tries again: the published set stays meanwhile. */
	if (service_table_set_backends(table, &tv->v.vip, eps, n)) {
		log_error("msg=\"cannot publish k8s backends\" service=%s source=%s",
			  endpoint_str(&tv->v.vip, vip, sizeof(vip)), log_q(t->source));
		free(eps);
		return;
	}
	free(tv->backends);
	tv->backends = eps;
	tv->n_backends = n;
	tv->applied = true;
}

static void vip_key(const struct endpoint *vip, char *buf, size_t len)
{
	endpoint_str(vip, buf, len);
}

static void drop_vip(struct k8s_target *t, size_t i, bool from_table)
{
	struct target_vip *tv = &t->vips[i];
	char key[ENDPOINT_STR_LEN];

	vip_key(&tv->v.vip, key, sizeof(key));
	if (strmap_get(&t->src->by_vip, key) == t &&
	    !(t->sel.has_vip && endpoint_equal(&t->sel.vip, &tv->v.vip)))
		strmap_del(&t->src->by_vip, key);
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
	char vip[ENDPOINT_STR_LEN], key[ENDPOINT_STR_LEN];

	if (!grown) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
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
		return -ENOMEM;
	}
	if (tv->dynamic && service_table_add_dynamic(t->src->table, &v->vip, tv->source, t)) {
		snprintf(err, errlen,
			 "VIP %s is taken (a configured service, or another k8s: "
			 "source)",
			 endpoint_str(&v->vip, vip, sizeof(vip)));
		free(tv->source);
		return -EEXIST;
	}
	vip_key(&v->vip, key, sizeof(key));
	if (tv->dynamic && strmap_put(&t->src->by_vip, key, t)) {
		service_table_remove_dynamic(t->src->table, &v->vip, t);
		free(tv->source);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	t->n_vips++;
	return 0;
}

ssize_t k8s_target_find_vip(const struct k8s_target *t, const struct endpoint *vip)
{
	for (size_t i = 0; i < t->n_vips; i++) {
		if (endpoint_equal(&t->vips[i].v.vip, vip))
			return (ssize_t)i;
	}
	return -ENOENT;
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
		ssize_t i = k8s_target_find_vip(t, &want[j].vip);

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
	log_info("msg=\"k8s service vips\" source=%s vips=%s", log_q(t->source), n ? list : "none");
}

static bool vips_differ(const struct k8s_target *t, const struct k8s_vip *want, size_t n)
{
	if (n != t->n_vips)
		return true;
	for (size_t i = 0; i < n; i++) {
		if (k8s_target_find_vip(t, &want[i].vip) < 0)
			return true;
	}
	return false;
}

/* Publishes what the Service and its slices say, once both are known. */
void k8s_target_apply(struct k8s_target *t)
{
	const struct k8s_service *svc = service_of(t);
	struct k8s_vip *want = NULL, given;
	size_t n_want = 0;
	char err[320] = "", taken[320] = "";

	if (!k8s_source_scope(t->src, t->ns)) {
		snprintf(err, sizeof(err),
			 "namespace %s is not watched: add --k8s-namespace %s (the agent watches "
			 "only the namespaces it is given)",
			 t->ns, t->ns);
		set_config_error(t, err);
		update_state(t);
		return;
	}
	if (!k8s_source_synced(t->src)) {
		update_state(t);
		return;
	}
	t->refreshes++;
	t->last_refresh = wall_now();
	if (svc && k8s_service_vips(svc, &t->sel, &want, &n_want, err, sizeof(err)) == 0)
		err[0] = '\0';
	else if (!svc)
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
	note_time_fair(t, svc);
	for (size_t i = 0; i < t->n_vips; i++)
		publish_vip(t, &t->vips[i]);
	free(want);
	update_state(t);
}

void k8s_target_free(struct k8s_target *t, bool from_table)
{
	while (t->n_vips)
		drop_vip(t, t->n_vips - 1, from_table);
	free(t->vips);
	free(t->port_name);
	free(t->source);
	free(t);
}

struct k8s_target *k8s_target_new(struct k8s_source *s, const char *source, const char *ns,
				  const char *name, const char *port_name)
{
	struct k8s_target *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->src = s;
	snprintf(t->ns, sizeof(t->ns), "%s", ns);
	snprintf(t->name, sizeof(t->name), "%s", name);
	k8s_key(t->key, sizeof(t->key), ns, name);
	t->source = strdup(source);
	t->port_name = port_name ? strdup(port_name) : NULL;
	t->sel.port_name = t->port_name;
	if (!t->source || (port_name && !t->port_name)) {
		k8s_target_free(t, false);
		return NULL;
	}
	return t;
}
