/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Program-level tests of socklb's BPF (root, a kernel with BTF); main.c runs them all. */
#ifndef SOCKLB_BPF_SUITES_H
#define SOCKLB_BPF_SUITES_H

#include <check.h>

Suite *bpf_connect_suite(void);
Suite *bpf_iter_suite(void);
Suite *bpf_goaway_suite(void);

#endif
