/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * All load-time settings of socklb's BPF programs.  The agent writes the
 * whole struct into each object's read-only data before load (libbpf-tools'
 * `const volatile` idiom), so every setting is a constant to the verifier
 * and costs nothing at run time.
 */
#ifndef SOCKLB_BPF_CONFIG_H
#define SOCKLB_BPF_CONFIG_H

#include "socklb.h"

const volatile struct socklb_config socklb_cfg = {
    .policy = SOCKLB_POLICY_LEAST_CONN,
};

/*
 * The kernel's tick rate, for times kept in jiffies (tcp_sock's lsndtime);
 * libbpf reads it from the kernel config, as the kernel's bpf_cubic.c does.
 * Weak: without a readable kernel config it is 0, the agent warns, and 250
 * (the most common value) is assumed.
 */
extern unsigned long CONFIG_HZ __kconfig __weak;

#define SOCKLB_ASSUMED_HZ 250

static __always_inline __u32 ns_to_jiffies(__u64 ns)
{
	unsigned long hz = CONFIG_HZ ? CONFIG_HZ : SOCKLB_ASSUMED_HZ;

	return (__u32)(ns * hz / 1000000000ULL);
}

#endif
