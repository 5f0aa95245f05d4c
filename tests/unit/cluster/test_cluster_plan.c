// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* cluster/cluster_plan: targets, splits and moves that every node computes alike. */
#include <stdlib.h>
#include <string.h>

#include "cluster/cluster_plan.h"
#include "suites.h"

#define MAX_N 16
#define MAX_B 12

/* Applies every move to counts (node-major) and checks the result. */
static void apply_and_check(size_t nn, size_t nb, __u32 *counts, const __u64 *rank)
{
	struct plan_input in = {nn, nb, counts, rank};
	struct plan_move moves[256];
	__u32 target[MAX_B], before[MAX_B] = {0}, after[MAX_B] = {0}, over = 0, moved = 0;
	size_t n = cluster_plan(&in, target, moves, 256);

	ck_assert_uint_le(n, 256);
	for (size_t b = 0; b < nb; b++)
		for (size_t k = 0; k < nn; k++)
			before[b] += counts[k * nb + b];
	for (size_t i = 0; i < n; i++) {
		__u32 *from = &counts[moves[i].node * nb + moves[i].from];

		ck_assert_msg(*from >= moves[i].n, "node %u moves %u of its %u", moves[i].node,
			      moves[i].n, *from);
		ck_assert_uint_ne(moves[i].from, moves[i].to);
		*from -= moves[i].n;
		counts[moves[i].node * nb + moves[i].to] += moves[i].n;
		moved += moves[i].n;
	}
	for (size_t b = 0; b < nb; b++) {
		for (size_t k = 0; k < nn; k++)
			after[b] += counts[k * nb + b];
		ck_assert_uint_eq(after[b], target[b]);
		over += before[b] > target[b] ? before[b] - target[b] : 0;
	}
	/* The fewest moves: exactly the excess, each once. */
	ck_assert_uint_eq(moved, over);
	for (size_t b = 1; b < nb; b++) {
		__u32 lo = target[b] < target[0] ? target[b] : target[0];
		__u32 hi = target[b] > target[0] ? target[b] : target[0];

		ck_assert_uint_le(hi - lo, 1);
	}
}

START_TEST(test_ten_single_connection_nodes_on_one_pod)
{
	__u32 counts[10 * 5] = {0};
	__u64 rank[10];

	for (int k = 0; k < 10; k++) {
		counts[k * 5] = 1; /* every node's one connection on pod 0 */
		rank[k] = (__u64)(k * 7919 % 10);
	}
	apply_and_check(10, 5, counts, rank);
	for (int b = 0; b < 5; b++) {
		__u32 sum = 0;

		for (int k = 0; k < 10; k++)
			sum += counts[k * 5 + b];
		ck_assert_uint_eq(sum, 2);
	}
}
END_TEST

START_TEST(test_balanced_moves_nothing)
{
	__u32 counts[3 * 5] = {1, 1, 2, 1, 1, 1, 1, 0, 1, 1, 2, 2, 2, 2, 2};
	__u64 rank[3] = {3, 1, 2};
	struct plan_input in = {3, 5, counts, rank};
	struct plan_move moves[8];
	__u32 target[5];

	/* 4, 4, 4, 4, 4 per backend: nothing to do. */
	ck_assert_uint_eq(cluster_plan(&in, target, moves, 8), 0);
	for (int b = 0; b < 5; b++)
		ck_assert_uint_eq(target[b], 4);
}
END_TEST

START_TEST(test_uneven_total_keeps_the_extra_where_it_is)
{
	/* 7 over 5: 2, 2, 1, 1, 1 with the 2s where there are most now (backends 3 and 4). */
	__u32 counts[1 * 5] = {0, 1, 1, 2, 3};
	__u64 rank[1] = {0};
	struct plan_input in = {1, 5, counts, rank};
	struct plan_move moves[8];
	__u32 target[5];
	size_t n = cluster_plan(&in, target, moves, 8);

	ck_assert_uint_eq(target[0], 1);
	ck_assert_uint_eq(target[3], 2);
	ck_assert_uint_eq(target[4], 2);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(moves[0].from, 4);
	ck_assert_uint_eq(moves[0].to, 0);
	apply_and_check(1, 5, counts, rank);
}
END_TEST

START_TEST(test_random_clusters_reach_their_targets)
{
	unsigned seed = 12345;

	for (int trial = 0; trial < 500; trial++) {
		size_t nn = 1 + rand_r(&seed) % MAX_N, nb = 1 + rand_r(&seed) % MAX_B;
		__u32 counts[MAX_N * MAX_B];
		__u64 rank[MAX_N];

		for (size_t k = 0; k < nn; k++) {
			rank[k] = rand_r(&seed);
			for (size_t b = 0; b < nb; b++)
				counts[k * nb + b] = rand_r(&seed) % 4 == 0 ? rand_r(&seed) % 9 : 0;
		}
		apply_and_check(nn, nb, counts, rank);
	}
}
END_TEST

START_TEST(test_split_keeps_an_equal_part_each)
{
	__u32 held[4] = {6, 3, 1, 0}, share[4];
	__u64 rank[4] = {4, 3, 2, 1};

	/* 5 of 10 move: the 5 kept are 2, 2, 1 (at most 2 each), the rest moves. */
	cluster_split(5, held, rank, 4, share);
	ck_assert(share[0] == 4 && share[1] == 1 && share[2] == 0 && share[3] == 0);
	/* 4 move: 6 kept, 2, 2, 1 and one more for the lower rank of those above 2. */
	cluster_split(4, held, rank, 4, share);
	ck_assert(share[0] == 4 && share[1] == 0 && share[2] == 0 && share[3] == 0);
	rank[0] = 1;
	rank[3] = 4;
	cluster_split(4, held, rank, 4, share);
	ck_assert(share[0] == 3 && share[1] == 1 && share[2] == 0 && share[3] == 0);
	/* More than held: everything, no more. */
	cluster_split(50, held, rank, 4, share);
	ck_assert(share[0] == 6 && share[1] == 3 && share[2] == 1 && share[3] == 0);
	cluster_split(0, held, rank, 4, share);
	ck_assert(share[0] == 0 && share[1] == 0 && share[2] == 0 && share[3] == 0);
}
END_TEST

/*
 * The property the split exists for: once a node has moved x of its share,
 * the split of what is left gives every other node the same share as
 * before, and that node x less.  (A proportional split fails this: 3 and 1
 * holding a backend whose target is 1 move 2 and 1; after the first moved
 * its 2, 1 and 1 holding it split the last move 1 to 1, and a tie gives
 * it to the first, which has already done its part: 4 moves for 3.)
 */
START_TEST(test_moving_part_of_a_share_leaves_the_others_share)
{
	unsigned seed = 777;

	for (int trial = 0; trial < 2000; trial++) {
		size_t count = 1 + rand_r(&seed) % MAX_N;
		__u32 held[MAX_N], share[MAX_N], again[MAX_N], total = 0, n, k, x;
		__u64 rank[MAX_N];

		for (size_t i = 0; i < count; i++) {
			held[i] = rand_r(&seed) % 3 ? rand_r(&seed) % 7 : 0;
			rank[i] = (__u64)rand_r(&seed) * MAX_N + i; /* all different */
			total += held[i];
		}
		n = total ? (__u32)(rand_r(&seed) % (total + 1)) : 0;
		cluster_split(n, held, rank, count, share);
		for (size_t i = 0, sum = 0; i <= count; i++) {
			if (i == count) {
				ck_assert_uint_eq(sum, n);
				break;
			}
			ck_assert_uint_le(share[i], held[i]);
			sum += share[i];
		}
		k = (__u32)(rand_r(&seed) % count);
		x = share[k] ? (__u32)(rand_r(&seed) % (share[k] + 1)) : 0;
		held[k] -= x;
		cluster_split(n - x, held, rank, count, again);
		for (size_t i = 0; i < count; i++)
			ck_assert_msg(
			    again[i] == (i == k ? share[i] - x : share[i]),
			    "trial %d: holder %zu had %u to move, now %u (holder %u moved %u)",
			    trial, i, share[i], again[i], k, x);
	}
}
END_TEST

Suite *cluster_plan_suite(void)
{
	Suite *s = suite_create("cluster_plan");
	TCase *tc = tcase_create("plan");

	tcase_add_test(tc, test_ten_single_connection_nodes_on_one_pod);
	tcase_add_test(tc, test_balanced_moves_nothing);
	tcase_add_test(tc, test_uneven_total_keeps_the_extra_where_it_is);
	tcase_add_test(tc, test_random_clusters_reach_their_targets);
	tcase_add_test(tc, test_split_keeps_an_equal_part_each);
	tcase_add_test(tc, test_moving_part_of_a_share_leaves_the_others_share);
	suite_add_tcase(s, tc);
	return s;
}
