// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Runs every BPF test suite; exits 1 if any check failed. */
#include <stdlib.h>

#include "fixture.h"
#include "lib/log.h"
#include "suites.h"

int main(void)
{
	SRunner *sr = srunner_create(bpf_connect_suite());
	int failed;

	log_set_level(LOG_WARN);
	srunner_add_suite(sr, bpf_iter_suite());
	srunner_add_suite(sr, bpf_goaway_suite());
	srunner_run_all(sr, CK_NORMAL);
	fixture_reap_stale();
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
