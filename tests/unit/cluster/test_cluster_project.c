// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * cluster/cluster_project: what each node makes of the cluster plan, and a
 * whole cluster of such nodes simulated: every node plans from the same
 * counts, ends its own part, and its clients reconnect by least-conn over
 * its own counts plus backend_extra, as connect4 does.  The moves of every
 * step are printed and checked: no over-correction, no oscillation.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/cluster_project.h"
#include "suites.h"

#define MAX_NODES 24
#define MAX_BE 12

struct sim {
	size_t nodes, backends;
	__u32 counts[MAX_NODES][MAX_BE];
	char names[MAX_NODES][16];
	unsigned seed;
};

static void sim_init(struct sim *s, size_t nodes, size_t backends, unsigned seed)
{
	memset(s, 0, sizeof(*s));
	s->nodes = nodes;
	s->backends = backends;
	s->seed = seed;
	for (size_t k = 0; k < nodes; k++)
		snprintf(s->names[k], sizeof(s->names[k]), "node-%zu", k + 1);
}

/* What node self makes of the plan, from the counts every node published. */
static void project(const struct sim *s, size_t self, __u32 *extra, __u32 *out, __u32 *target,
		    size_t *moves)
{
	struct cluster_node_counts nodes[MAX_NODES];
	__u32 cluster[MAX_BE];
	struct cluster_projection p = {cluster, target, extra, out, 0};

	for (size_t k = 0; k < s->nodes; k++)
		nodes[k] = (struct cluster_node_counts){s->names[k], s->counts[k]};
	ck_assert_int_eq(cluster_project(nodes, s->nodes, self, s->backends, 0, &p), 0);
	*moves = p.moves;
}

/* connect4's least-conn over the node's own counts plus extra; ties from a random start. */
static size_t least_conn(struct sim *s, size_t node, const __u32 *extra)
{
	size_t start = (size_t)rand_r(&s->seed) % s->backends, best = start;

	for (size_t i = 0; i < s->backends; i++) {
		size_t b = (start + i) % s->backends;

		if (s->counts[node][b] + extra[b] < s->counts[node][best] + extra[best])
			best = b;
	}
	return best;
}

static __u32 total_on(const struct sim *s, size_t b)
{
	__u32 sum = 0;

	for (size_t k = 0; k < s->nodes; k++)
		sum += s->counts[k][b];
	return sum;
}

static bool balanced(const struct sim *s)
{
	__u32 lo = ~0u, hi = 0;

	for (size_t b = 0; b < s->backends; b++) {
		__u32 t = total_on(s, b);

		lo = t < lo ? t : lo;
		hi = t > hi ? t : hi;
	}
	return hi - lo <= 1;
}

/*
 * One step: every node plans from the same counts (the ones published
 * before the step), then ends its part and reconnects it; returns the
 * connections moved.  Reconnects see the others' projected counts only
 * (what backend_extra holds), not their real ones, as on real nodes.
 */
static size_t step(struct sim *s)
{
	__u32 extra[MAX_NODES][MAX_BE], out[MAX_NODES][MAX_BE], target[MAX_BE];
	size_t moved = 0, plan_moves = 0, first_moves = 0;

	for (size_t k = 0; k < s->nodes; k++) {
		project(s, k, extra[k], out[k], target, &plan_moves);
		if (k == 0)
			first_moves = plan_moves;
		ck_assert_uint_eq(plan_moves, first_moves); /* every node, the same plan */
	}
	for (size_t k = 0; k < s->nodes; k++) {
		for (size_t b = 0; b < s->backends; b++) {
			ck_assert_uint_le(out[k][b], s->counts[k][b]);
			s->counts[k][b] -= out[k][b];
			moved += out[k][b];
		}
		for (size_t b = 0; b < s->backends; b++) {
			for (__u32 i = 0; i < out[k][b]; i++)
				s->counts[k][least_conn(s, k, extra[k])]++;
		}
	}
	ck_assert_uint_eq(moved, first_moves); /* each node its own part: the plan, once */
	return moved;
}

/* Steps until nothing moves (at most max); the moves of each step into moves[]. */
static size_t settle(struct sim *s, size_t *moves, size_t max)
{
	size_t n = 0;

	while (n < max && (moves[n] = step(s)) > 0)
		n++;
	ck_assert_msg(n < max, "still moving after %zu steps", max);
	return n;
}

static void print_steps(const char *what, const size_t *moves, size_t n)
{
	printf("  cluster plan, %s: moves per step", what);
	for (size_t i = 0; i <= n; i++)
		printf(" %zu", moves[i]);
	printf("\n");
}

START_TEST(test_ten_nodes_one_connection_each_scale_out_one_to_five)
{
	struct sim s;
	size_t moves[8], n;

	sim_init(&s, 10, 5, 42);
	for (size_t k = 0; k < 10; k++)
		s.counts[k][0] = 1; /* all on pod-1 before the scale-out */
	n = settle(&s, moves, 8);
	print_steps("10 nodes x 1, 1 -> 5 pods", moves, n);
	/* 8 of the 10 move, once: each lands exactly where the plan sends it. */
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(moves[0], 8);
	for (size_t b = 0; b < 5; b++)
		ck_assert_uint_eq(total_on(&s, b), 2);
}
END_TEST

/* The connection a node ends reconnects, by least-conn with extra, to its planned backend. */
START_TEST(test_a_moved_connection_sees_its_destination_lightest)
{
	struct sim s;
	__u32 extra[MAX_BE], out[MAX_BE], target[MAX_BE];
	size_t moves, movers = 0;

	sim_init(&s, 10, 5, 1);
	for (size_t k = 0; k < 10; k++)
		s.counts[k][0] = 1;
	for (size_t k = 0; k < 10; k++) {
		__u32 lo = ~0u, n_lo = 0;

		project(&s, k, extra, out, target, &moves);
		if (!out[0]) {
			/* Those that stay: the others hold 1 on pod-1 after their moves. */
			ck_assert_uint_eq(extra[0], 1);
			continue;
		}
		movers++;
		s.counts[k][0]--;
		for (size_t b = 0; b < 5; b++) {
			__u32 load = s.counts[k][b] + extra[b];

			n_lo = load < lo ? 1 : n_lo + (load == lo);
			lo = load < lo ? load : lo;
		}
		s.counts[k][0]++;
		ck_assert_uint_eq(lo, 1); /* its destination: 2 planned, the other one is there */
		ck_assert_uint_eq(n_lo, 1);
	}
	ck_assert_uint_eq(movers, 8);
}
END_TEST

START_TEST(test_three_nodes_four_clients_over_the_story)
{
	const size_t story[] = {5, 10, 3};
	struct sim s;
	size_t moves[8], n;

	sim_init(&s, 3, 1, 7);
	for (size_t k = 0; k < 3; k++)
		s.counts[k][0] = 4;
	for (size_t i = 0; i < 3; i++) {
		size_t pods = story[i];
		char what[64];

		/* A scale-in: the removed pods' connections reconnect by least-conn. */
		for (size_t k = 0; k < 3 && pods < s.backends; k++) {
			__u32 none[MAX_BE] = {0}, back = 0;
			size_t before = s.backends;

			for (size_t b = pods; b < before; b++) {
				back += s.counts[k][b];
				s.counts[k][b] = 0;
			}
			s.backends = pods;
			for (__u32 j = 0; j < back; j++)
				s.counts[k][least_conn(&s, k, none)]++;
			s.backends = before;
		}
		s.backends = pods;
		n = settle(&s, moves, 8);
		snprintf(what, sizeof(what), "3 nodes x 4, -> %zu pods", pods);
		print_steps(what, moves, n);
		ck_assert(balanced(&s));
		ck_assert_uint_le(n, 2);
	}
}
END_TEST

/*
 * Random clusters, random starts: every step plans exactly its excess, and
 * the cluster is balanced (every backend at floor or ceil) within 3 steps:
 * a reconnect that ties goes to an equally light backend, which a second
 * step may correct, and then nothing moves.
 */
START_TEST(test_random_clusters_settle_without_oscillation)
{
	unsigned seed = 2024;
	size_t worst = 0, total = 0, first = 0;

	for (int trial = 0; trial < 300; trial++) {
		struct sim s;
		size_t moves[8], n;

		sim_init(&s, 1 + rand_r(&seed) % 20, 1 + rand_r(&seed) % MAX_BE, seed);
		for (size_t k = 0; k < s.nodes; k++) {
			for (size_t b = 0; b < s.backends; b++)
				s.counts[k][b] = rand_r(&seed) % 3 ? 0 : rand_r(&seed) % 5;
		}
		n = settle(&s, moves, 8);
		ck_assert(balanced(&s));
		ck_assert_uint_le(n, 3);
		worst = n > worst ? n : worst;
		first += n ? moves[0] : 0;
		for (size_t i = 0; i < n; i++)
			total += moves[i];
	}
	printf("  cluster plan, 300 random clusters: at most %zu steps; %zu moves, %zu of them "
	       "in the first step\n",
	       worst, total, first);
}
END_TEST

START_TEST(test_threshold_leaves_small_excess_alone)
{
	__u32 a[3] = {4, 1, 1}, b[3] = {0, 0, 0};
	struct cluster_node_counts nodes[2] = {{"a", a}, {"b", b}};
	__u32 cluster[3], target[3], extra[3], out[3];
	struct cluster_projection p = {cluster, target, extra, out, 0};

	/* 6 over 3: 2 each; pod-1 holds 4, 2 above: moved at threshold 0 and 1. */
	ck_assert_int_eq(cluster_project(nodes, 2, 0, 3, 1, &p), 0);
	ck_assert_uint_eq(out[0], 2);
	ck_assert_int_eq(cluster_project(nodes, 2, 0, 3, 2, &p), 0);
	ck_assert_uint_eq(out[0], 0);
	ck_assert_uint_eq(p.moves, 0);
	/* The other node's view: a's connections are its extra, as they are. */
	ck_assert_int_eq(cluster_project(nodes, 2, 1, 3, 0, &p), 0);
	ck_assert(extra[0] == 2 && extra[1] == 2 && extra[2] == 2);
	ck_assert(out[0] == 0 && out[1] == 0 && out[2] == 0);
}
END_TEST

START_TEST(test_rank_is_fnv1a_and_order_is_everyones)
{
	__u32 x[2] = {2, 0}, y[2] = {2, 0};
	struct cluster_node_counts one[2] = {{"x", x}, {"y", y}}, other[2] = {{"y", y}, {"x", x}};
	__u32 cluster[2], target[2], extra[2], out_x1[2], out_x2[2];
	struct cluster_projection p1 = {cluster, target, extra, out_x1, 0};
	struct cluster_projection p2 = {cluster, target, extra, out_x2, 0};

	ck_assert_uint_eq(cluster_node_rank(""), 0xcbf29ce484222325ULL);
	ck_assert_uint_eq(cluster_node_rank("a"), 0xaf63dc4c8601ec8cULL);
	/* Whatever order a node lists the nodes in, x gets the same part. */
	ck_assert_int_eq(cluster_project(one, 2, 0, 2, 0, &p1), 0);
	ck_assert_int_eq(cluster_project(other, 2, 1, 2, 0, &p2), 0);
	ck_assert(out_x1[0] == out_x2[0] && out_x1[1] == out_x2[1]);
	ck_assert_uint_eq(p1.moves, 2);
}
END_TEST

Suite *cluster_project_suite(void)
{
	Suite *s = suite_create("cluster_project");
	TCase *tc = tcase_create("project");

	tcase_add_test(tc, test_ten_nodes_one_connection_each_scale_out_one_to_five);
	tcase_add_test(tc, test_a_moved_connection_sees_its_destination_lightest);
	tcase_add_test(tc, test_three_nodes_four_clients_over_the_story);
	tcase_add_test(tc, test_random_clusters_settle_without_oscillation);
	tcase_add_test(tc, test_threshold_leaves_small_excess_alone);
	tcase_add_test(tc, test_rank_is_fnv1a_and_order_is_everyones);
	suite_add_tcase(s, tc);
	return s;
}
