// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Runs every unit test suite; exits 1 if any check failed. */
#include <stdlib.h>

#include "suites.h"

int main(void)
{
	SRunner *sr = srunner_create(endpoint_suite());
	int failed;

	srunner_add_suite(sr, service_spec_suite());
	srunner_add_suite(sr, config_file_suite());
	srunner_add_suite(sr, backend_set_suite());
	srunner_add_suite(sr, id_pool_suite());
	srunner_add_suite(sr, datapath_maps_suite());
	srunner_add_suite(sr, service_table_suite());
	srunner_add_suite(sr, rebalance_plan_suite());
	srunner_add_suite(sr, time_fair_suite());
	srunner_add_suite(sr, vip_index_suite());
	srunner_add_suite(sr, source_dns_suite());
	srunner_add_suite(sr, source_k8s_suite());
	srunner_add_suite(sr, state_file_suite());
	srunner_add_suite(sr, event_loop_suite());
	srunner_add_suite(sr, log_suite());
	srunner_add_suite(sr, array_suite());
	srunner_add_suite(sr, cluster_plan_suite());
	srunner_add_suite(sr, cluster_project_suite());
	srunner_add_suite(sr, cluster_report_suite());
	srunner_add_suite(sr, cluster_publish_policy_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
