// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The time-fair rotation's place in the rebalancer (time_fair_pass.h has the
 * policy): its pass on the tick and at phase ends, its operations on the
 * maps, and the quick looks for an idle moment while one of its moves waits.
 */
#include "rebalance/rebalancer_impl.h"
#include "cluster/cluster.h"
#include "datapath/iter_read.h"
#include "datapath/loader.h"
#include "lib/array.h"
#include "lib/clock.h"
#include "lib/log.h"

#include <bpf/libbpf.h>
#include <errno.h>
#include <string.h>

#define CHASE_MIN_MS 10
#define CHASE_CPU_SHARE 20 /* an act() of T ms is repeated no sooner than 20 T later */

/*
 * A connection the rotation named is ended in an idle moment, and a client
 * calling every 100 ms is idle for a few tens of ms at a time: looked at
 * only on the 100-ms tick, the moment can be missed for seconds (the two
 * periods beat).  While such a move waits, or a GOAWAY waits for a moment
 * at rest to be injected in, look again every 10 ms (longer if an act()
 * costs more than 5 % of that).
 */

static void on_chase(void *arg)
{
	struct rebalancer *r = arg;

	rebalancer_act(r);
	rebalancer_chase(r);
}

void rebalancer_chase(struct rebalancer *r)
{
	double gap = r->act_ms * CHASE_CPU_SHARE;

	if (!(time_fair_pass_moving(r->time_fair) || r->goaways_waiting) ||
	    loop_timer_armed(&r->chase_timer))
		return;
	if (loop_timer_arm(r->loop, &r->chase_timer, gap > CHASE_MIN_MS ? (__u64)gap : CHASE_MIN_MS,
			   on_chase, r))
		log_error("msg=\"cannot schedule a look for idle connections\"");
}

static int collect_record(void *arg, const void *record)
{
	struct rebalancer *r = arg;

	if (ARRAY_RESERVE(r->recs, r->cap_recs, r->n_recs))
		return -ENOMEM;
	memcpy(&r->recs[r->n_recs++], record, sizeof(*r->recs));
	return 0;
}

/*
 * What the rotation may do with svc: nothing with a service whose
 * connections, counted cluster-wide, divide evenly (the cluster plan
 * balances it by counts); wait while the count rebalancer moves some of its
 * connections (an overloaded backend), so two policies never act at once.
 * A cluster service that does not divide is rotated by every node over its
 * own connections: each node's calls are spread evenly over the window, so
 * the cluster's are too; and each node starts its rotation where the
 * connections of the nodes before it end, so that at any moment the
 * cluster's connections are spread as well.
 */
static enum time_fair_say judge_service(void *arg, const struct agent_service *svc, __u32 *offset)
{
	struct rebalancer *r = arg;

	if (r->cluster && cluster_wants(svc)) {
		if (cluster_divides(r->cluster, svc))
			return TIME_FAIR_SKIP;
		*offset = cluster_rotation_offset(r->cluster, svc);
	}
	for (size_t i = 0; i < svc->backends.n; i++) {
		if (r->mem[svc->backends.items[i].id].overloaded_since_ms)
			return TIME_FAIR_HOLD;
	}
	return TIME_FAIR_PLAN;
}

static void report_time_fair(struct rebalancer *r)
{
	struct time_fair_stats now;

	time_fair_pass_stats(r->time_fair, &now);
	if (now.moves == r->shown.moves && now.moves_expired == r->shown.moves_expired &&
	    now.rotating == r->shown.rotating)
		return;
	r->shown = now;
	if (r->status_changed)
		r->status_changed(r->status_arg);
}

/*
 * The time-fair rotation's pass, when due: this node's connections from the
 * connections iterator (one read in the kernel, or one per namespace where
 * map-element iterators are refused: conn_walk.h), then the policy.
 */
void rebalancer_time_fair_tick(struct rebalancer *r)
{
	__u64 start = mono_now_ns();
	int ret;

	if (!time_fair_pass_due(r->time_fair, r->table, start / NS_PER_MS, wall_now_ms()))
		return;
	r->n_recs = 0;
	ret = conn_walk_read(&r->conns, collect_record, r);
	if (ret) {
		log_warn("msg=\"cannot list connections for the time-fair rotation\" error=%s",
			 log_q(strerror(-ret)));
		return;
	}
	time_fair_pass_run(r->time_fair, r->table, r->recs, r->n_recs, mono_now_ms(), wall_now_ms(),
			   judge_service, r);
	time_fair_pass_took(r->time_fair, (double)(mono_now_ns() - start) / (double)NS_PER_MS);
	report_time_fair(r);
}

/*
 * A rotating service's phase ends before the next tick: plan right then, so
 * that moves keep the phase's length to the millisecond, not to the tick.
 */
void rebalancer_arm_phase_end(struct rebalancer *r)
{
	__u64 in = time_fair_pass_next_phase_in(r->time_fair, wall_now_ms());

	if (in && in < r->opts.interval_ms && !loop_timer_armed(&r->kick_timer) &&
	    loop_timer_arm(r->loop, &r->kick_timer, in, rebalancer_on_kick, r))
		log_error("msg=\"cannot schedule the end of a time-fair phase\"");
}

/*
 * A change of hands: the next tick makes a full pass even if no connection
 * moved, so that the count rebalancer and the cluster plan take a service
 * the rotation let go at once (or yield one it took).
 */
static int steer_op(void *arg, struct agent_service *svc, bool on)
{
	struct rebalancer *r = arg;

	if (!(svc->slots.flags & SOCKLB_SERVICE_STEERED) != !on)
		r->dirty = true; /* steered every pass while it rotates: only a change counts */
	return service_table_set_steered(r->table, svc, on);
}

static int extra_op(void *arg, __u32 id, __u32 extra)
{
	return lb_maps_set_extra(((struct rebalancer *)arg)->maps, id, extra);
}

static int move_op(void *arg, __u64 cookie, const struct socklb_move_request *req)
{
	return lb_maps_request_move(((struct rebalancer *)arg)->maps, cookie, req->reason,
				    req->force_after_ns);
}

static int cancel_op(void *arg, __u64 cookie)
{
	return lb_maps_cancel_move(((struct rebalancer *)arg)->maps, cookie);
}

int rebalancer_start_time_fair(struct rebalancer *r, const struct loader *loader)
{
	struct time_fair_opts opts = {r->opts.time_fair_window_ms, r->opts.min_dwell_ms,
				      r->opts.drain_deadline_ms};
	struct time_fair_ops ops = {steer_op, extra_op, move_op, cancel_op, r};

	int ret = conn_walk_init(&r->conns, bpf_link__fd(loader->conn_iter), &r->netns, r->maps);

	if (ret)
		return ret;
	if (!r->opts.time_fair_window_ms)
		return 0;
	r->time_fair = time_fair_pass_new(&opts, r->opts.max_backends, &ops);
	return r->time_fair ? 0 : -ENOMEM;
}
