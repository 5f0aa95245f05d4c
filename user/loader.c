// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "loader.h"
#include "log.h"
#include "socklb.skel.h"

#include <bpf/bpf.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static void map_pin_path(const struct loader *l, const char *name, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s/%s", l->pin_path, name);
}

/* Removes our pins from the pin path (a previous agent's, or our own). */
static void unpin_maps(struct loader *l)
{
	for (size_t i = 0; i < LB_MAP_COUNT; i++) {
		char path[4200];

		map_pin_path(l, lb_map_names[i], path, sizeof(path));
		if (unlink(path) && errno != ENOENT)
			log_warn("msg=\"cannot unpin map\" path=%s error=\"%s\"", path, strerror(errno));
	}
	l->maps_pinned = false;
}

static void link_pin_path(const struct loader *l, const struct bpf_program *prog, char *out,
			  size_t outlen)
{
	snprintf(out, outlen, "%s/link_%s", l->pin_path, bpf_program__name(prog));
}

/* Pinned links keep programs attached without an agent: unpinning detaches. */
static void unpin_links(struct loader *l)
{
	struct bpf_program *prog;

	bpf_object__for_each_program(prog, l->skel->obj) {
		char path[4200];

		link_pin_path(l, prog, path, sizeof(path));
		if (unlink(path) && errno != ENOENT)
			log_warn("msg=\"cannot unpin link\" path=%s error=\"%s\"", path,
				 strerror(errno));
	}
}

static int lock_pin_dir(struct loader *l, char *err, size_t errlen)
{
	if (mkdir(l->pin_path, 0700) && errno != EEXIST) {
		snprintf(err, errlen, "cannot create pin path %s: %s", l->pin_path, strerror(errno));
		return -1;
	}
	l->pin_dir_fd = open(l->pin_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (l->pin_dir_fd < 0) {
		snprintf(err, errlen, "cannot open pin path %s: %s", l->pin_path, strerror(errno));
		return -1;
	}
	if (flock(l->pin_dir_fd, LOCK_EX | LOCK_NB)) {
		snprintf(err, errlen,
			 "pin path %s is in use by another socklb agent: stop it first, or give "
			 "this one its own --pin-path",
			 l->pin_path);
		close(l->pin_dir_fd);
		l->pin_dir_fd = -1;
		return -1;
	}
	return 0;
}

static void set_map_sizes(struct socklb_bpf *skel, const struct loader_opts *o)
{
	/* Backend id 0 means "none", so the arrays hold one more entry. */
	bpf_map__set_max_entries(skel->maps.services, o->max_services);
	bpf_map__set_max_entries(skel->maps.backend_slots, 2 * o->max_backends);
	bpf_map__set_max_entries(skel->maps.backends, o->max_backends + 1);
	bpf_map__set_max_entries(skel->maps.backend_stats, o->max_backends + 1);
	bpf_map__set_max_entries(skel->maps.end_budgets, o->max_backends + 1);
	bpf_map__set_max_entries(skel->maps.sockets, o->max_sockets);
}

/*
 * With --persist, maps already pinned by an earlier agent are reused as they
 * are (libbpf checks that their layout matches), so counts and tracked
 * connections survive a restart; otherwise a crashed agent's pins are
 * replaced (the lock says that agent is gone).
 */
static int prepare_map_pins(struct loader *l, char *err, size_t errlen)
{
	size_t found = 0;

	for (size_t i = 0; i < LB_MAP_COUNT; i++) {
		struct bpf_map *m = bpf_object__find_map_by_name(l->skel->obj, lb_map_names[i]);
		char path[4200];

		map_pin_path(l, lb_map_names[i], path, sizeof(path));
		found += access(path, F_OK) == 0;
		if (l->persist && bpf_map__set_pin_path(m, path)) {
			snprintf(err, errlen, "cannot set pin path %s: %s", path, strerror(errno));
			return -1;
		}
	}
	l->adopted = l->persist && found == LB_MAP_COUNT;
	if (l->persist && found && !l->adopted) {
		snprintf(err, errlen,
			 "pin path %s holds only part of socklb's maps: remove them with "
			 "'socklb agent --cleanup --pin-path %s'",
			 l->pin_path, l->pin_path);
		return -1;
	}
	if (!l->persist) {
		unpin_links(l);
		unpin_maps(l);
	}
	return 0;
}

static int pin_maps(struct loader *l, char *err, size_t errlen)
{
	struct bpf_map *maps[LB_MAP_COUNT] = {
		l->skel->maps.services, l->skel->maps.backend_slots, l->skel->maps.backends,
		l->skel->maps.backend_stats, l->skel->maps.sockets, l->skel->maps.end_budgets,
		l->skel->maps.end_stats,
	};

	l->maps_pinned = true;
	for (size_t i = 0; i < LB_MAP_COUNT && !l->persist; i++) {
		char path[4200];

		map_pin_path(l, lb_map_names[i], path, sizeof(path));
		if (bpf_map__pin(maps[i], path)) {
			snprintf(err, errlen, "cannot pin map %s: %s", path, strerror(errno));
			return -1;
		}
	}
	l->maps.services = bpf_map__fd(l->skel->maps.services);
	l->maps.backend_slots = bpf_map__fd(l->skel->maps.backend_slots);
	l->maps.backends = bpf_map__fd(l->skel->maps.backends);
	l->maps.backend_stats = bpf_map__fd(l->skel->maps.backend_stats);
	l->maps.sockets = bpf_map__fd(l->skel->maps.sockets);
	l->maps.end_budgets = bpf_map__fd(l->skel->maps.end_budgets);
	l->maps.end_stats = bpf_map__fd(l->skel->maps.end_stats);
	return 0;
}

/* A pinned link must be attached to the cgroup we were asked for. */
static int check_link_cgroup(struct loader *l, struct bpf_link *link, char *err, size_t errlen)
{
	struct bpf_link_info info;
	__u32 len = sizeof(info);
	struct stat st;

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(bpf_link__fd(link), &info, &len) || fstat(l->cgroup_fd, &st))
		return 0; /* cannot tell: trust the pin */
	if (info.type == BPF_LINK_TYPE_CGROUP && info.cgroup.cgroup_id != (__u64)st.st_ino) {
		snprintf(err, errlen,
			 "the programs pinned in %s are attached to another cgroup: run "
			 "'socklb agent --cleanup --pin-path %s' first to move them",
			 l->pin_path, l->pin_path);
		return -1;
	}
	return 0;
}

/*
 * A link pinned by an earlier agent gets the new program swapped in
 * atomically: connects are never left without a hook during a restart.
 */
static struct bpf_link *adopt_link(struct loader *l, struct bpf_program *prog, const char *path,
				   char *err, size_t errlen)
{
	struct bpf_link *link = bpf_link__open(path);

	if (!link) {
		snprintf(err, errlen, "cannot open pinned link %s: %s", path, strerror(errno));
		return NULL;
	}
	/* Closing our fd of a pinned link leaves it attached, as it was. */
	if (check_link_cgroup(l, link, err, errlen)) {
		bpf_link__destroy(link);
		return NULL;
	}
	if (bpf_link__update_program(link, prog)) {
		snprintf(err, errlen, "cannot replace the program in %s: %s", path, strerror(errno));
		bpf_link__destroy(link);
		return NULL;
	}
	return link;
}

static struct bpf_link *attach_one(struct loader *l, struct bpf_program *prog, char *err,
				   size_t errlen)
{
	struct bpf_link *link;
	char path[4200];

	link_pin_path(l, prog, path, sizeof(path));
	if (l->persist && access(path, F_OK) == 0)
		return adopt_link(l, prog, path, err, errlen);
	link = bpf_program__attach_cgroup(prog, l->cgroup_fd);
	if (!link) {
		snprintf(err, errlen, "cannot attach %s to the cgroup: %s", bpf_program__name(prog),
			 strerror(errno));
		return NULL;
	}
	if (l->persist && bpf_link__pin(link, path)) {
		snprintf(err, errlen, "cannot pin link %s: %s", path, strerror(errno));
		bpf_link__destroy(link);
		return NULL;
	}
	return link;
}

static int attach_all(struct loader *l, char *err, size_t errlen)
{
	struct bpf_program *progs[] = {
		l->skel->progs.socklb_sockops,	   l->skel->progs.socklb_connect4,
		l->skel->progs.socklb_connect6,	   l->skel->progs.socklb_getpeername4,
		l->skel->progs.socklb_getpeername6,
	};

	/* sockops first, so that no balanced connection goes uncounted. */
	for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
		struct bpf_link *link = attach_one(l, progs[i], err, errlen);

		if (!link)
			return -1;
		l->links[l->n_links++] = link;
	}
	return 0;
}

static int load(struct loader *l, const struct loader_opts *o, char *err, size_t errlen)
{
	int ret;

	l->skel = socklb_bpf__open();
	if (!l->skel) {
		snprintf(err, errlen, "cannot open the BPF object: %s", strerror(errno));
		return -1;
	}
	l->skel->rodata->lb_policy = o->policy;
	set_map_sizes(l->skel, o);
	if (prepare_map_pins(l, err, errlen))
		return -1;
	ret = socklb_bpf__load(l->skel);
	if (ret && l->adopted) {
		snprintf(err, errlen,
			 "the maps pinned in %s do not fit this agent (another socklb version, or "
			 "other --max-* sizes): keep the sizes, or start over with 'socklb agent "
			 "--cleanup --pin-path %s' (this ends socklb's tracking of open "
			 "connections)",
			 l->pin_path, l->pin_path);
		return -1;
	}
	if (ret) {
		snprintf(err, errlen,
			 "the kernel refused socklb's BPF programs: %s (run with --verbose for "
			 "the verifier log)",
			 strerror(-ret));
		return -1;
	}
	return 0;
}

int loader_start(struct loader *l, const struct loader_opts *o, char *err, size_t errlen)
{
	memset(l, 0, sizeof(*l));
	l->cgroup_fd = -1;
	l->pin_dir_fd = -1;
	snprintf(l->pin_path, sizeof(l->pin_path), "%s", o->pin_path);
	l->persist = o->persist;
	l->cgroup_fd = open(o->cgroup_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (l->cgroup_fd < 0) {
		snprintf(err, errlen, "cannot open cgroup %s: %s", o->cgroup_path, strerror(errno));
		return -1;
	}
	if (lock_pin_dir(l, err, errlen) || load(l, o, err, errlen) || pin_maps(l, err, errlen) ||
	    attach_all(l, err, errlen)) {
		loader_stop(l);
		return -1;
	}
	return 0;
}

void loader_stop(struct loader *l)
{
	/* Closing a pinned link leaves it attached; closing another detaches. */
	for (size_t i = 0; i < l->n_links; i++)
		bpf_link__destroy(l->links[i]);
	l->n_links = 0;
	if (l->maps_pinned && !l->persist)
		unpin_maps(l);
	socklb_bpf__destroy(l->skel);
	l->skel = NULL;
	if (l->pin_dir_fd >= 0) {
		/* Only an empty directory goes: anything else there is not ours. */
		if (rmdir(l->pin_path) && errno != ENOTEMPTY && errno != ENOENT)
			log_warn("msg=\"cannot remove pin path\" path=%s error=\"%s\"", l->pin_path,
				 strerror(errno));
		close(l->pin_dir_fd);
		l->pin_dir_fd = -1;
	}
	if (l->cgroup_fd >= 0)
		close(l->cgroup_fd);
	l->cgroup_fd = -1;
}

int loader_cleanup(const char *pin_path, char *err, size_t errlen)
{
	struct loader l;

	memset(&l, 0, sizeof(l));
	l.cgroup_fd = -1;
	snprintf(l.pin_path, sizeof(l.pin_path), "%s", pin_path);
	if (access(pin_path, F_OK)) {
		log_info("msg=\"nothing to clean up\" pin_path=%s", pin_path);
		return 0;
	}
	if (lock_pin_dir(&l, err, errlen))
		return -1;
	l.skel = socklb_bpf__open();
	if (!l.skel) {
		snprintf(err, errlen, "cannot open the BPF object: %s", strerror(errno));
		close(l.pin_dir_fd);
		return -1;
	}
	unpin_links(&l);
	unpin_maps(&l);
	log_info("msg=\"cleaned up: programs detached, maps unpinned\" pin_path=%s", pin_path);
	loader_stop(&l);
	return 0;
}
