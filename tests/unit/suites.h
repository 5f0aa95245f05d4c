/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* One Check suite per module under test (tests/unit mirrors user/); main.c runs them all. */
#ifndef SOCKLB_UNIT_SUITES_H
#define SOCKLB_UNIT_SUITES_H

#include <check.h>

Suite *endpoint_suite(void);
Suite *service_spec_suite(void);
Suite *config_file_suite(void);
Suite *backend_set_suite(void);
Suite *id_pool_suite(void);
Suite *datapath_maps_suite(void);
Suite *service_table_suite(void);
Suite *rebalance_plan_suite(void);
Suite *vip_index_suite(void);
Suite *source_dns_suite(void);
Suite *source_k8s_suite(void);
Suite *state_file_suite(void);
Suite *event_loop_suite(void);
Suite *log_suite(void);
Suite *array_suite(void);
Suite *cluster_plan_suite(void);
Suite *time_fair_suite(void);
Suite *cluster_project_suite(void);
Suite *cluster_report_suite(void);
Suite *cluster_publish_policy_suite(void);

#endif
