/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The kernel's CONFIG_HZ: TCP's activity stamps are in jiffies. */
#ifndef SOCKLB_KERNEL_HZ_H
#define SOCKLB_KERNEL_HZ_H

/* From /boot/config-$(uname -r) or /proc/config.gz; 0 if neither says. */
unsigned int kernel_hz(void);

#endif
