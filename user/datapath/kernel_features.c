// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "datapath/kernel_features.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <errno.h>
#include <linux/bpf.h>
#include <stdlib.h>
#include <unistd.h>

/* A tracing program of the iterator kind named (bpf_iter_<target>): loads? */
static bool iter_loads(const char *target_func)
{
	const struct bpf_insn insns[] = {
	    {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0},
	    {.code = BPF_JMP | BPF_EXIT},
	};
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = BPF_TRACE_ITER);
	struct btf *vmlinux = btf__load_vmlinux_btf();
	int id, fd;

	if (!vmlinux)
		return false;
	id = btf__find_by_name_kind(vmlinux, target_func, BTF_KIND_FUNC);
	btf__free(vmlinux);
	if (id <= 0)
		return false;
	opts.attach_btf_id = (__u32)id;
	fd = bpf_prog_load(BPF_PROG_TYPE_TRACING, "socklb_probe", "GPL", insns, 2, &opts);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

bool kernel_has_map_elem_iters(void)
{
	static int known = -1;

	/* The tests' way to run the fallback on a kernel that does not need it. */
	if (known < 0 && getenv("SOCKLB_TEST_NO_MAP_ELEM_ITERS"))
		known = 0;
	if (known < 0)
		known = iter_loads("bpf_iter_bpf_sk_storage_map");
	return known;
}
