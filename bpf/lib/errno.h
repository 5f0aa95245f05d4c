/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The errno values socklb's BPF workers return (vmlinux.h has none). */
#ifndef SOCKLB_BPF_ERRNO_H
#define SOCKLB_BPF_ERRNO_H

#define ENOENT 2
#define ENOMEM 12
#define EAFNOSUPPORT 97
#define ECONNREFUSED 111

#endif
