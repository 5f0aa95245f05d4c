// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The option values every subcommand parses alike (cli/parse.c: counts and
 * durations) and --dns-server's IP[:PORT] list.  The first byte picks the
 * parser; the rest is the option's value as argv gives it.
 */
#include "fuzz.h"
#include "cli/cli.h"
#include "lib/duration.h"
#include "sources/dns/dns_resolver.h"

static void fuzz_count(const char *arg, bool zero_ok)
{
	__u32 value;

	if (cli_count_parse(arg, zero_ok, &value) == 0) {
		FUZZ_ASSERT(value <= (1u << 24));
		FUZZ_ASSERT(zero_ok || value > 0);
	}
}

static void fuzz_duration(const char *arg)
{
	__u64 ms;

	if (duration_parse_ms(arg, &ms) == 0)
		FUZZ_ASSERT(arg[0] >= '0' && arg[0] <= '9');
}

/* Twice, as repeated --dns-server options append to one list. */
static void fuzz_dns_servers(const char *arg)
{
	char *csv = NULL, err[256];

	if (dns_server_list_add(&csv, arg, err, sizeof(err)) == 0) {
		FUZZ_ASSERT(csv && csv[0]);
		FUZZ_ASSERT(dns_server_list_add(&csv, arg, err, sizeof(err)) == 0);
	}
	free(csv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t mode = fuzz_take_byte(&data, &size);
	char *arg = fuzz_str(data, size);

	switch (mode % 4) {
	case 0:
		fuzz_count(arg, false);
		break;
	case 1:
		fuzz_count(arg, true);
		break;
	case 2:
		fuzz_duration(arg);
		break;
	default:
		fuzz_dns_servers(arg);
		break;
	}
	free(arg);
	return 0;
}
