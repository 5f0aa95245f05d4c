// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "datapath/conn_walk.h"
#include "socklb.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int iter_link_is_per_netns(int link_fd)
{
	struct bpf_link_info info;
	__u32 len = sizeof(info);
	char target[64] = "";

	memset(&info, 0, sizeof(info));
	info.iter.target_name = (__u64)(unsigned long)target;
	info.iter.target_name_len = sizeof(target);
	if (bpf_obj_get_info_by_fd(link_fd, &info, &len))
		return -errno;
	if (info.type != BPF_LINK_TYPE_ITER)
		return -EINVAL;
	return strcmp(target, "tcp") == 0;
}

int conn_walk_init(struct conn_walk *w, int link_fd, struct netns_runner *netns,
		   const struct lb_maps *maps)
{
	int kind = iter_link_is_per_netns(link_fd);

	memset(w, 0, sizeof(*w));
	if (kind < 0)
		return kind;
	w->link_fd = link_fd;
	w->per_netns = kind;
	w->netns = netns;
	w->maps = maps;
	return 0;
}

/* The runner and maps of a per-namespace walk opened from the pins. */
static int open_per_netns(struct conn_walk *w, const char *pin_path)
{
	char err[512];
	int ret;

	w->netns = calloc(1, sizeof(*w->netns));
	if (!w->netns)
		return -ENOMEM;
	ret = netns_runner_init(w->netns);
	if (!ret)
		ret = lb_maps_open_pinned(pin_path, &w->own_maps, err, sizeof(err));
	if (ret)
		return ret;
	w->maps = &w->own_maps;
	return 0;
}

int conn_walk_open_pinned(struct conn_walk *w, const char *pin_path)
{
	char path[4200];
	int fd, ret;

	snprintf(path, sizeof(path), "%s/connections", pin_path);
	fd = bpf_obj_get(path);
	if (fd < 0) {
		memset(w, 0, sizeof(*w));
		return -errno;
	}
	ret = conn_walk_init(w, fd, NULL, NULL);
	if (ret) {
		close(fd);
		return ret;
	}
	w->owns_fd = true;
	if (w->per_netns)
		ret = open_per_netns(w, pin_path);
	if (ret)
		conn_walk_free(w);
	return ret;
}

struct namespaces {
	struct netns_door *out;
	size_t n, cap;
	__u64 own;
};

static int add_namespace(void *arg, __u64 cookie, const struct socklb_netns *n)
{
	struct namespaces *q = arg;

	if (n->conns <= 0 || cookie == q->own)
		return 0;
	if (q->n == q->cap)
		return 1;
	q->out[q->n++] = (struct netns_door){cookie, n->pid};
	return 0;
}

size_t conn_walk_namespaces(struct conn_walk *w, struct netns_door *out, size_t cap)
{
	struct namespaces q = {out, 0, cap, w->netns->own_cookie};

	if (!cap)
		return 0;
	out[q.n++] = (struct netns_door){q.own, 0};
	lb_maps_for_each_netns(w->maps, add_namespace, &q);
	return q.n;
}

struct prune {
	struct conn_walk *w;
	const struct netns_door *doors;
	size_t n_doors, dropped;
};

static int prune_one(void *arg, __u64 cookie, const struct socklb_netns *n)
{
	struct prune *p = arg;

	if (n->conns > 0 || cookie == p->w->netns->own_cookie)
		return 0;
	for (size_t i = 0; i < p->n_doors; i++) {
		if (p->doors[i].cookie == cookie)
			return 0;
	}
	p->dropped += lb_maps_forget_netns(p->w->maps, cookie) == 0;
	return 0;
}

size_t conn_walk_prune(struct conn_walk *w)
{
	struct prune p = {w, NULL, 0, 0};

	if (!w->per_netns)
		return 0;
	p.n_doors = netns_doors(w->netns, &p.doors);
	lb_maps_for_each_netns(w->maps, prune_one, &p);
	return p.dropped;
}

/* One namespace's connections; one no process leads to any more is no error. */
static int walk_one(struct conn_walk *w, const struct netns_door *d, iter_record_cb cb, void *arg)
{
	int ret = netns_read_iter(w->netns, w->link_fd, d->cookie, &d->pid, 1,
				  sizeof(struct socklb_conn_record), cb, arg);

	if (ret == -ENOENT || ret == 0)
		return 0;
	if (ret > 0 || ret == -ENOMEM)
		return ret; /* the callback's */
	w->netns_missed++;
	w->netns_error = ret;
	return 0;
}

/* The agent's own namespace and every one netns_conns can hold. */
#define CONN_WALK_MAX_NETNS (SOCKLB_MAX_NETNS + 1)

int conn_walk_read(struct conn_walk *w, iter_record_cb cb, void *arg)
{
	static struct netns_door doors[CONN_WALK_MAX_NETNS];
	size_t n;
	int ret = 0;

	if (!w->per_netns)
		return iter_read_records(w->link_fd, sizeof(struct socklb_conn_record), cb, arg);
	w->netns_missed = 0;
	w->netns_error = 0;
	n = conn_walk_namespaces(w, doors, CONN_WALK_MAX_NETNS);
	for (size_t i = 0; i < n && !ret; i++)
		ret = walk_one(w, &doors[i], cb, arg);
	return ret;
}

void conn_walk_free(struct conn_walk *w)
{
	if (w->owns_fd) {
		close(w->link_fd);
		if (w->netns) {
			netns_runner_free(w->netns);
			free(w->netns);
		}
		if (w->maps == &w->own_maps)
			lb_maps_close(&w->own_maps);
	}
	memset(w, 0, sizeof(*w));
}
