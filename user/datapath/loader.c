// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "datapath/loader.h"
#include "datapath/kernel_features.h"
#include "lib/log.h"
#include "goaway.skel.h"
#include "rebalance.skel.h"
#include "socklb.skel.h"
#include "lib/util.h"

#include <bpf/bpf.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* Maps are pinned by name (bpf/lib/maps.h): these walk the object's own list. */
static void unpin_maps(struct bpf_object *obj)
{
	struct bpf_map *map;

	bpf_object__for_each_map(map, obj)
	{
		const char *path = bpf_map__pin_path(map);

		if (path && unlink(path) && errno != ENOENT)
			log_warn("msg=\"cannot unpin map\" path=%s error=%s", log_q(path),
				 log_q(strerror(errno)));
	}
}

/*
 * How many of obj's maps are pinned already, of how many it has; maps the
 * agent rebuilds (lb_maps_rebuilt) do not count: libbpf creates them if an
 * older agent left none.
 */
static size_t count_pinned(struct bpf_object *obj, size_t *total)
{
	struct bpf_map *map;
	size_t found = 0;

	*total = 0;
	bpf_object__for_each_map(map, obj)
	{
		const char *path = bpf_map__pin_path(map);

		if (!path || lb_maps_rebuilt(bpf_map__name(map)))
			continue;
		(*total)++;
		found += access(path, F_OK) == 0;
	}
	return found;
}

static void link_pin_path(const char *pin_path, const struct bpf_program *prog, char *out,
			  size_t outlen)
{
	snprintf(out, outlen, "%s/link_%s", pin_path, bpf_program__name(prog));
}

/* Pinned links keep programs attached without an agent: unpinning detaches. */
static void unpin_links(const char *pin_path, struct bpf_object *obj)
{
	struct bpf_program *prog;

	bpf_object__for_each_program(prog, obj)
	{
		char path[4200];

		link_pin_path(pin_path, prog, path, sizeof(path));
		if (unlink(path) && errno != ENOENT)
			log_warn("msg=\"cannot unpin link\" path=%s error=%s", log_q(path),
				 log_q(strerror(errno)));
	}
}

static int lock_pin_dir(struct loader *l, char *err, size_t errlen)
{
	int ret;

	if (mkdir(l->pin_path, 0700) && errno != EEXIST) {
		ret = -errno;
		snprintf(err, errlen, "cannot create pin path %s: %s", l->pin_path,
			 strerror(errno));
		return ret;
	}
	l->pin_dir_fd = open(l->pin_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (l->pin_dir_fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "cannot open pin path %s: %s", l->pin_path, strerror(errno));
		return ret;
	}
	if (flock(l->pin_dir_fd, LOCK_EX | LOCK_NB)) {
		snprintf(err, errlen,
			 "pin path %s is in use by another socklb agent: stop it first, or give "
			 "this one its own --pin-path",
			 l->pin_path);
		close(l->pin_dir_fd);
		l->pin_dir_fd = -1;
		return -EBUSY;
	}
	return 0;
}

static struct socklb_bpf *open_object(const char *pin_path, char *err, size_t errlen)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = pin_path);
	struct socklb_bpf *skel = socklb_bpf__open_opts(&opts);

	if (!skel)
		snprintf(err, errlen, "cannot open the BPF object: %s", strerror(errno));
	return skel;
}

/* Pins of older layouts that this object no longer declares. */
static const char *const legacy_pins[] = {"sockets"};

static void unpin_legacy(const char *pin_path)
{
	for (size_t i = 0; i < ARRAY_SIZE(legacy_pins); i++) {
		char path[4200];

		snprintf(path, sizeof(path), "%s/%s", pin_path, legacy_pins[i]);
		if (unlink(path) && errno != ENOENT)
			log_warn("msg=\"cannot unpin map\" path=%s error=%s", log_q(path),
				 log_q(strerror(errno)));
	}
}

/*
 * Maps another socklb left under the pin path must be of this layout:
 * reading another one as if it were ours would misread every entry.
 */
static int check_layout(struct loader *l, char *err, size_t errlen)
{
	char path[4200];
	__u32 version = 1; /* no layout map: the first layout */
	int ret;

	snprintf(path, sizeof(path), "%s/layout", l->pin_path);
	ret = lb_maps_pinned_layout(path, &version);
	if (ret && ret != -ENOENT) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(-ret));
		return ret;
	}
	if (version == SOCKLB_LAYOUT_VERSION)
		return 0;
	snprintf(err, errlen,
		 "the maps pinned in %s are of socklb's map layout %u; this agent uses layout %u "
		 "and cannot adopt them: run 'socklb agent --cleanup --pin-path %s' first "
		 "(open connections keep working; socklb forgets them, so they are neither "
		 "counted nor moved until they reconnect)",
		 l->pin_path, version, SOCKLB_LAYOUT_VERSION, l->pin_path);
	return -EPROTO;
}

/*
 * With --persist, maps already pinned by an earlier agent are reused as they
 * are (libbpf checks that their layout matches), so counts and tracked
 * connections survive a restart; otherwise a crashed agent's pins are
 * replaced (the lock says that agent is gone).
 */
static int prepare_pins(struct loader *l, char *err, size_t errlen)
{
	size_t total, found = count_pinned(l->skel->obj, &total);
	int ret;

	if (l->persist && found) {
		ret = check_layout(l, err, errlen);
		if (ret)
			return ret;
	}
	l->adopted = l->persist && found == total;
	if (l->persist && found && !l->adopted) {
		snprintf(err, errlen,
			 "pin path %s holds only part of socklb's maps: remove them with "
			 "'socklb agent --cleanup --pin-path %s'",
			 l->pin_path, l->pin_path);
		return -EEXIST;
	}
	if (!l->persist) {
		unpin_links(l->pin_path, l->skel->obj);
		unpin_maps(l->skel->obj);
		unpin_legacy(l->pin_path);
	}
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
		return -EXDEV;
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
		snprintf(err, errlen, "cannot replace the program in %s: %s", path,
			 strerror(errno));
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

	link_pin_path(l->pin_path, prog, path, sizeof(path));
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
	    l->skel->progs.socklb_sockops,	l->skel->progs.socklb_connect4,
	    l->skel->progs.socklb_connect6,	l->skel->progs.socklb_getpeername4,
	    l->skel->progs.socklb_getpeername6,
	};

	/* sockops first, so that no balanced connection goes uncounted. */
	for (size_t i = 0; i < ARRAY_SIZE(progs); i++) {
		struct bpf_link *link = attach_one(l, progs[i], err, errlen);

		if (!link)
			return -errno ? -errno : -EINVAL;
		l->links[l->n_links++] = link;
	}
	return 0;
}

static void connections_pin_path(const char *pin_path, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s/connections", pin_path);
}

/*
 * The iterator over every balanced connection, pinned for `socklb status`
 * (reading the pin runs it).  Replaced on every start: it holds no state.
 */
static int pin_connections_iter(struct loader *l, char *err, size_t errlen)
{
	union bpf_iter_link_info info = {.map.map_fd = bpf_map__fd(l->skel->maps.sock_state)};
	LIBBPF_OPTS(bpf_iter_attach_opts, opts, .link_info = &info, .link_info_len = sizeof(info));
	char path[4200];

	connections_pin_path(l->pin_path, path, sizeof(path));
	if (unlink(path) && errno != ENOENT)
		log_warn("msg=\"cannot unpin the connections iterator\" path=%s error=%s",
			 log_q(path), log_q(strerror(errno)));
	if (l->conns_per_netns)
		l->conn_iter =
		    bpf_program__attach_iter(l->skel->progs.socklb_connections_netns, NULL);
	else
		l->conn_iter = bpf_program__attach_iter(l->skel->progs.socklb_connections, &opts);
	if (!l->conn_iter || bpf_link__pin(l->conn_iter, path)) {
		int ret = errno ? -errno : -EIO;

		snprintf(err, errlen, "cannot pin the connections iterator %s: %s", path,
			 strerror(-ret));
		return ret;
	}
	return 0;
}

/*
 * One of the two connections iterators is loaded: over the socket-local
 * storage, or, where the kernel refuses that kind, over one namespace's TCP
 * sockets (then run in each, user/datapath/conn_walk.c).
 */
static void choose_connections_iter(struct loader *l)
{
	l->conns_per_netns = !kernel_has_map_elem_iters();
	l->skel->rodata->socklb_cfg.netns_registry = l->conns_per_netns;
	bpf_program__set_autoload(l->skel->progs.socklb_connections, !l->conns_per_netns);
	bpf_program__set_autoload(l->skel->progs.socklb_connections_netns, l->conns_per_netns);
	if (l->conns_per_netns)
		log_warn(
		    "msg=\"this kernel refuses iterators over map elements: connections are "
		    "listed namespace by namespace\" effect=\"the rebalancer and status enter "
		    "each network namespace holding balanced connections (netns_conns) instead "
		    "of one walk\"");
}

static int load(struct loader *l, const struct loader_opts *o, char *err, size_t errlen)
{
	int ret;

	l->skel = open_object(l->pin_path, err, errlen);
	if (!l->skel)
		return -errno;
	l->skel->rodata->socklb_cfg = o->cfg;
	l->skel->rodata->socklb_cfg.nr_cpus = (__u32)libbpf_num_possible_cpus();
	lb_maps_set_sizes(l->skel->obj, &o->sizes);
	ret = prepare_pins(l, err, errlen);
	if (ret)
		return ret;
	choose_connections_iter(l);
	ret = socklb_bpf__load(l->skel);
	if (ret && l->adopted) {
		snprintf(err, errlen,
			 "the maps pinned in %s do not fit this agent (another socklb version, or "
			 "other --max-* sizes): keep the sizes, or start over with 'socklb agent "
			 "--cleanup --pin-path %s' (this ends socklb's tracking of open "
			 "connections)",
			 l->pin_path, l->pin_path);
		return ret;
	}
	if (ret) {
		snprintf(err, errlen,
			 "the kernel refused socklb's BPF programs: %s (run with --verbose for "
			 "the verifier log)",
			 strerror(-ret));
		return ret;
	}
	l->loaded = true;
	l->maps.obj = l->skel;
	if (!l->adopted) {
		ret = lb_maps_write_layout(&l->maps);
		if (ret) {
			snprintf(err, errlen, "cannot stamp the maps' layout: %s", strerror(-ret));
			return ret;
		}
	}
	return 0;
}

/*
 * The GOAWAY follower (goaway.bpf.c) on the same pinned maps, its verdict
 * attached to h2_socks before sockops can put a socket there: a socket
 * joins a sockhash with the programs the map has at that moment.  Its
 * injector program goes on inject_socks, before the agent's injector
 * socket joins it (user/datapath/goaway_injector.c).  An earlier agent's
 * programs (--persist) are replaced in place.
 */
static int load_goaway(struct loader *l, char *err, size_t errlen)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = l->pin_path);
	int ret;

	if (!l->opts.cfg.graceful)
		return 0;
	l->goaway = goaway_bpf__open_opts(&opts);
	if (!l->goaway) {
		snprintf(err, errlen, "cannot open the GOAWAY BPF object: %s", strerror(errno));
		return -errno;
	}
	lb_maps_set_sizes(l->goaway->obj, &l->opts.sizes);
	ret = goaway_bpf__load(l->goaway);
	if (!ret)
		ret = bpf_prog_attach(bpf_program__fd(l->goaway->progs.socklb_h2_verdict),
				      bpf_map__fd(l->skel->maps.h2_socks),
				      BPF_SK_SKB_STREAM_VERDICT, 0);
	if (!ret)
		ret =
		    bpf_prog_attach(bpf_program__fd(l->goaway->progs.socklb_h2_inject),
				    bpf_map__fd(l->skel->maps.inject_socks), BPF_SK_MSG_VERDICT, 0);
	if (ret) {
		ret = ret < 0 ? ret : -EINVAL;
		snprintf(err, errlen,
			 "the kernel refused the GOAWAY follower: %s (--graceful=off moves "
			 "connections by destroy only)",
			 strerror(errno ? errno : -ret));
		return ret;
	}
	return 0;
}

static void unload_goaway(struct loader *l)
{
	if (!l->goaway)
		return;
	/* Pinned maps outlive the agent with --persist: the verdict stays with them. */
	if (!l->persist && l->loaded)
		bpf_prog_detach2(bpf_program__fd(l->goaway->progs.socklb_h2_verdict),
				 bpf_map__fd(l->skel->maps.h2_socks), BPF_SK_SKB_STREAM_VERDICT);
	if (!l->persist && l->loaded)
		bpf_prog_detach2(bpf_program__fd(l->goaway->progs.socklb_h2_inject),
				 bpf_map__fd(l->skel->maps.inject_socks), BPF_SK_MSG_VERDICT);
	goaway_bpf__destroy(l->goaway);
	l->goaway = NULL;
}

int loader_start(struct loader *l, const struct loader_opts *o, char *err, size_t errlen)
{
	int ret;

	memset(l, 0, sizeof(*l));
	l->cgroup_fd = -1;
	l->pin_dir_fd = -1;
	snprintf(l->pin_path, sizeof(l->pin_path), "%s", o->pin_path);
	l->persist = o->persist;
	l->opts = *o;
	l->opts.pin_path = l->pin_path;
	l->cgroup_fd = open(o->cgroup_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (l->cgroup_fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "cannot open cgroup %s: %s", o->cgroup_path, strerror(errno));
		return ret;
	}
	ret = lock_pin_dir(l, err, errlen);
	if (!ret)
		ret = load(l, o, err, errlen);
	if (!ret)
		ret = load_goaway(l, err, errlen);
	if (!ret)
		ret = attach_all(l, err, errlen);
	if (!ret)
		ret = pin_connections_iter(l, err, errlen);
	if (ret)
		loader_stop(l);
	return ret;
}

void loader_stop(struct loader *l)
{
	/* Closing a pinned link leaves it attached; closing another detaches. */
	for (size_t i = 0; i < l->n_links; i++)
		bpf_link__destroy(l->links[i]);
	l->n_links = 0;
	if (l->conn_iter && !l->persist)
		bpf_link__unpin(l->conn_iter);
	bpf_link__destroy(l->conn_iter);
	l->conn_iter = NULL;
	unload_goaway(l);
	if (l->loaded && !l->persist)
		unpin_maps(l->skel->obj);
	l->loaded = false;
	socklb_bpf__destroy(l->skel);
	l->skel = NULL;
	l->maps.obj = NULL;
	if (l->pin_dir_fd >= 0) {
		/* Only an empty directory goes: anything else there is not ours. */
		if (rmdir(l->pin_path) && errno != ENOTEMPTY && errno != ENOENT)
			log_warn("msg=\"cannot remove pin path\" path=%s error=%s",
				 log_q(l->pin_path), log_q(strerror(errno)));
		close(l->pin_dir_fd);
		l->pin_dir_fd = -1;
	}
	if (l->cgroup_fd >= 0)
		close(l->cgroup_fd);
	l->cgroup_fd = -1;
}

struct rebalance_bpf *loader_load_rebalance(const struct loader *l, char *err, size_t errlen)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = l->pin_path);
	struct rebalance_bpf *skel = rebalance_bpf__open_opts(&opts);
	int ret;

	if (!skel) {
		snprintf(err, errlen, "cannot open the rebalance BPF object: %s", strerror(errno));
		return NULL;
	}
	skel->rodata->socklb_cfg = l->opts.cfg;
	skel->rodata->socklb_cfg.netns_registry = l->conns_per_netns;
	/* Without map-element iterators the namespaces come from netns_conns (rebalancer.c). */
	bpf_program__set_autoload(skel->progs.socklb_find_work, !l->conns_per_netns);
	/* Sized as the data path's, so that its pinned maps are the ones reused. */
	lb_maps_set_sizes(skel->obj, &l->opts.sizes);
	ret = rebalance_bpf__load(skel);
	if (ret) {
		snprintf(err, errlen,
			 "the kernel refused the rebalancing iterator (bpf_sock_destroy needs "
			 "Linux 6.5 or newer): %s",
			 strerror(-ret));
		rebalance_bpf__destroy(skel);
		errno = -ret;
		return NULL;
	}
	if (!skel->kconfig->CONFIG_HZ)
		log_warn("msg=\"kernel CONFIG_HZ not found in /boot or /proc/config.gz, assuming "
			 "250\" effect=\"idle times may be off\"");
	return skel;
}

int loader_cleanup(const char *pin_path, char *err, size_t errlen)
{
	char path[4200];
	struct loader l;
	int ret;

	memset(&l, 0, sizeof(l));
	l.cgroup_fd = -1;
	snprintf(l.pin_path, sizeof(l.pin_path), "%s", pin_path);
	if (access(pin_path, F_OK)) {
		log_info("msg=\"nothing to clean up\" pin_path=%s", log_q(pin_path));
		return 0;
	}
	ret = lock_pin_dir(&l, err, errlen);
	if (ret)
		return ret;
	l.skel = open_object(pin_path, err, errlen);
	if (!l.skel) {
		ret = -errno;
		close(l.pin_dir_fd);
		return ret;
	}
	unpin_links(pin_path, l.skel->obj);
	unpin_maps(l.skel->obj);
	unpin_legacy(pin_path);
	connections_pin_path(pin_path, path, sizeof(path));
	if (unlink(path) && errno != ENOENT)
		log_warn("msg=\"cannot unpin the connections iterator\" path=%s error=%s",
			 log_q(path), log_q(strerror(errno)));
	log_info("msg=\"cleaned up: programs detached, maps unpinned\" pin_path=%s",
		 log_q(pin_path));
	loader_stop(&l);
	return 0;
}
