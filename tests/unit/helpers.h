/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Shared by the unit tests: parsing shortcuts and real BPF maps to test on. */
#ifndef SOCKLB_UNIT_HELPERS_H
#define SOCKLB_UNIT_HELPERS_H

#include <check.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <string.h>

#include "model/endpoint.h"
#include "datapath/maps.h"
#include "model/service_spec.h"

#define ck_assert_str_contains(haystack, needle)                                                   \
	ck_assert_msg(strstr((haystack), (needle)) != NULL, "\"%s\" does not contain \"%s\"",      \
		      (haystack), (needle))

/* Parses text, failing the test if it is not a valid endpoint. */
struct endpoint ep(const char *text);
/* Parses a "VIP:PORT=SOURCE" text, failing the test if it is invalid. */
void spec(const char *text, struct service_spec *out);
/* Builds a spec list from texts, failing the test on any error. */
void spec_list(struct service_spec_list *list, const char *const *texts, size_t n);

/*
 * A file of tests/fixtures/k8s (the tests run from the repository root, as
 * `make unit-test` does, or SOCKLB_K8S_FIXTURES names the directory):
 * its text (free it; *len its length if len is not NULL), or parsed.
 */
char *test_read_fixture(const char *name, size_t *len);
json_object *test_fixture_json(const char *name);

#define TEST_MAX_SERVICES 16
#define TEST_MAX_BACKENDS 63

/*
 * Creates socklb's maps from its BPF object, unpinned (sizes NULL: the
 * TEST_MAX_* defaults).  Returns true with maps filled in.  Without
 * permission to create maps it fails the test, unless SOCKLB_UNIT_ALLOW_NO_BPF
 * is set: then it prints why the test is skipped and returns false, and the
 * caller returns (the test passes).
 */
bool test_maps_create(struct lb_maps *maps, const struct lb_map_sizes *sizes);
void test_maps_destroy(struct lb_maps *maps);
/* The fd of the map of that name; fails the test if there is none. */
int test_map_fd(const struct lb_maps *maps, const char *name);

#define REQUIRE_MAPS(maps, sizes)                                                                  \
	do {                                                                                       \
		if (!test_maps_create((maps), (sizes)))                                            \
			return;                                                                    \
	} while (0)

/* The backend id in one slot; -ENOENT if the slot is empty. */
int test_read_slot(const struct lb_maps *maps, __u32 service_id, __u32 half, __u32 index,
		   __u32 *id);
/* Every slot entry of a service, both halves. */
size_t test_count_slots(const struct lb_maps *maps, __u32 service_id);
/* Every entry of the backend_slots map. */
size_t test_count_all_slots(const struct lb_maps *maps);
/* The services map entry of vip; -ENOENT if there is none. */
int test_read_service(const struct lb_maps *maps, const struct endpoint *vip,
		      struct socklb_service *out);
void test_set_stats(const struct lb_maps *maps, __u32 id, __u64 live, __u64 connecting);
struct socklb_backend test_read_backend(const struct lb_maps *maps, __u32 id);

#endif
