// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "datapath/preflight.h"

#include <errno.h>
#include <linux/magic.h>
#include <mntent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#define VMLINUX_BTF "/sys/kernel/btf/vmlinux"

/* Capability bits (linux/capability.h numbering). */
#define CAP_SYS_PTRACE_BIT 19
#define CAP_SYS_ADMIN_BIT 21
#define CAP_BPF_BIT 39

static unsigned long long effective_caps(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	unsigned long long caps = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "CapEff: %llx", &caps) == 1)
			break;
	}
	fclose(f);
	return caps;
}

/*
 * CAP_SYS_ADMIN is the one capability the agent cannot start without: it
 * covers CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN for bpf() (loading the
 * tracing iterator, attaching cgroup programs), the runtimes' default
 * seccomp profiles allow bpf() and setns() only with it, and setns() into a
 * network namespace needs it.
 */
int preflight_privileges(char *err, size_t errlen)
{
	unsigned long long caps = effective_caps();

	if (caps & 1ULL << CAP_SYS_ADMIN_BIT)
		return 0;
	if (geteuid() == 0)
		snprintf(err, errlen,
			 "socklb agent needs CAP_SYS_ADMIN (effective capabilities: %#llx%s): "
			 "this root process runs without it (a container or a restricted "
			 "service): add SYS_ADMIN to its capabilities (Kubernetes: "
			 "securityContext.capabilities.add)",
			 caps, caps & (1ULL << CAP_BPF_BIT) ? "; CAP_BPF alone is not enough" : "");
	else
		snprintf(err, errlen,
			 "socklb agent needs CAP_SYS_ADMIN (effective capabilities: %#llx): run it "
			 "as root, e.g. with sudo",
			 caps);
	return -EPERM;
}

size_t preflight_missing_privileges(struct missing_privilege *out, size_t max)
{
	static const struct missing_privilege optional[] = {
	    {CAP_SYS_PTRACE_BIT, "CAP_SYS_PTRACE",
	     "cannot enter network namespaces of other processes: rebalancing, --max-age and "
	     "removal ends reach only connections made in the agent's own network namespace"},
	};
	unsigned long long caps = effective_caps();
	size_t n = 0;

	for (size_t i = 0; i < sizeof(optional) / sizeof(optional[0]); i++) {
		if (caps & 1ULL << optional[i].bit)
			continue;
		if (n < max)
			out[n] = optional[i];
		n++;
	}
	return n;
}

int preflight_btf(char *err, size_t errlen)
{
	if (access(VMLINUX_BTF, R_OK) == 0)
		return 0;
	snprintf(err, errlen,
		 "kernel BTF not found at %s (%s): socklb needs a kernel built with "
		 "CONFIG_DEBUG_INFO_BTF=y (5.8 or newer; 6.5+ for connection rebalancing)",
		 VMLINUX_BTF, strerror(errno));
	return -ENOENT;
}

static void parent_dir(const char *path, char *out, size_t outlen)
{
	char *slash;

	snprintf(out, outlen, "%s", path);
	slash = strrchr(out, '/');
	if (slash == out)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		snprintf(out, outlen, ".");
}

int preflight_bpffs(const char *pin_path, char *err, size_t errlen)
{
	char parent[4096];
	struct statfs st;

	if (pin_path[0] != '/') {
		snprintf(err, errlen, "pin path '%s' must be absolute, e.g. /sys/fs/bpf/socklb",
			 pin_path);
		return -EINVAL;
	}
	parent_dir(pin_path, parent, sizeof(parent));
	if (statfs(parent, &st) == 0 && st.f_type == BPF_FS_MAGIC)
		return 0;
	snprintf(err, errlen,
		 "pin path %s: %s is not on a BPF filesystem: mount one with "
		 "'mount -t bpf bpf %s' or choose --pin-path under a bpffs mount",
		 pin_path, parent, parent);
	return -EINVAL;
}

int preflight_cgroup(const char *cgroup_path, char *err, size_t errlen)
{
	struct statfs st;

	if (statfs(cgroup_path, &st)) {
		snprintf(err, errlen,
			 "cgroup %s: %s: give --cgroup the path of a cgroup v2 directory",
			 cgroup_path, strerror(errno));
		return -EINVAL;
	}
	if (st.f_type != CGROUP2_SUPER_MAGIC) {
		snprintf(err, errlen,
			 "cgroup %s is not a cgroup v2 directory: give --cgroup a directory under "
			 "the cgroup2 mount (see 'mount -t cgroup2')",
			 cgroup_path);
		return -EINVAL;
	}
	return 0;
}

int find_cgroup2_root(char *out, size_t outlen, char *err, size_t errlen)
{
	FILE *f = setmntent("/proc/self/mounts", "r");
	struct mntent *m;
	int ret = -ENOENT;

	if (!f) {
		snprintf(err, errlen, "cannot read /proc/self/mounts: %s", strerror(errno));
		return -EINVAL;
	}
	while ((m = getmntent(f))) {
		if (!strcmp(m->mnt_type, "cgroup2")) {
			snprintf(out, outlen, "%s", m->mnt_dir);
			ret = 0;
			break;
		}
	}
	endmntent(f);
	if (ret)
		snprintf(err, errlen,
			 "no cgroup v2 mount found in /proc/self/mounts: mount one "
			 "('mount -t cgroup2 none /sys/fs/cgroup/unified') or pass --cgroup");
	return ret;
}
