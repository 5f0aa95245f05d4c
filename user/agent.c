// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "agent.h"
#include "agent_services.h"
#include "config_file.h"
#include "loader.h"
#include "log.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

/* How often retired backends are checked for their last connection. */
#define AGENT_TICK_SEC 1

struct agent {
	const struct agent_config *cfg;
	struct loader loader;
	struct service_table table;
	int epoll_fd;
	int signal_fd;
	int timer_fd;
};

static void reload(struct agent *a)
{
	struct service_spec_list specs;
	char err[1024];

	if (!a->cfg->config_path) {
		log_info("msg=\"SIGHUP: no --config file to re-read\"");
		return;
	}
	if (config_gather(a->cfg->service_args, a->cfg->n_service_args, a->cfg->config_path, &specs,
			  err, sizeof(err))) {
		log_error("msg=\"reload failed, keeping the current services\" error=\"%s\"", err);
		return;
	}
	log_info("msg=\"reloading\" config=%s services=%zu", a->cfg->config_path, specs.n);
	service_table_apply(&a->table, &specs);
	service_spec_list_free(&specs);
}

static int watch_fd(struct agent *a, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	return epoll_ctl(a->epoll_fd, EPOLL_CTL_ADD, fd, &ev);
}

static int setup_events(struct agent *a)
{
	struct itimerspec tick = { { AGENT_TICK_SEC, 0 }, { AGENT_TICK_SEC, 0 } };
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL))
		return -1;
	a->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	a->signal_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	a->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (a->epoll_fd < 0 || a->signal_fd < 0 || a->timer_fd < 0)
		return -1;
	if (timerfd_settime(a->timer_fd, 0, &tick, NULL))
		return -1;
	return watch_fd(a, a->signal_fd) || watch_fd(a, a->timer_fd) ? -1 : 0;
}

/* Returns 1 when the agent should stop. */
static int handle_signal(struct agent *a)
{
	struct signalfd_siginfo si;

	while (read(a->signal_fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			reload(a);
		} else {
			log_info("msg=\"stopping\" signal=%s", strsignal((int)si.ssi_signo));
			return 1;
		}
	}
	return 0;
}

static void handle_tick(struct agent *a)
{
	__u64 expirations;

	if (read(a->timer_fd, &expirations, sizeof(expirations)) > 0)
		service_table_reap_retired(&a->table);
}

static int event_loop(struct agent *a)
{
	for (;;) {
		struct epoll_event events[8];
		int n = epoll_wait(a->epoll_fd, events, 8, -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			log_error("msg=\"epoll_wait failed\" error=\"%s\"", strerror(errno));
			return EXIT_FAILURE;
		}
		for (int i = 0; i < n; i++) {
			if (events[i].data.fd == a->signal_fd && handle_signal(a))
				return EXIT_SUCCESS;
			if (events[i].data.fd == a->timer_fd)
				handle_tick(a);
		}
	}
}

static void close_events(struct agent *a)
{
	if (a->timer_fd >= 0)
		close(a->timer_fd);
	if (a->signal_fd >= 0)
		close(a->signal_fd);
	if (a->epoll_fd >= 0)
		close(a->epoll_fd);
}

static int start(struct agent *a, const struct service_spec_list *specs)
{
	struct loader_opts opts = {
		.cgroup_path = a->cfg->cgroup_path,
		.pin_path = a->cfg->pin_path,
		.policy = a->cfg->policy,
		.max_services = a->cfg->max_services,
		.max_backends = a->cfg->max_backends,
		.max_sockets = a->cfg->max_sockets,
	};
	char err[1024];

	if (setup_events(a)) {
		log_error("msg=\"cannot set up the event loop\" error=\"%s\"", strerror(errno));
		return -1;
	}
	if (loader_start(&a->loader, &opts, err, sizeof(err))) {
		log_error("msg=\"%s\"", err);
		return -1;
	}
	service_table_init(&a->table, &a->loader.maps, a->cfg->max_services, a->cfg->max_backends);
	if (service_table_apply(&a->table, specs)) {
		log_error("msg=\"cannot load the configured services (see above)\"");
		return -1;
	}
	return 0;
}

int agent_run(const struct agent_config *cfg, const struct service_spec_list *specs)
{
	struct agent a = { .cfg = cfg, .epoll_fd = -1, .signal_fd = -1, .timer_fd = -1 };
	int status = EXIT_FAILURE;

	a.loader.cgroup_fd = -1;
	a.loader.pin_dir_fd = -1;
	if (start(&a, specs) == 0) {
		log_info("msg=ready cgroup=%s pin_path=%s policy=%s services=%zu", cfg->cgroup_path,
			 cfg->pin_path, cfg->policy == SOCKLB_POLICY_RANDOM ? "random" : "least-conn",
			 specs->n);
		status = event_loop(&a);
	}
	loader_stop(&a.loader);
	service_table_free(&a.table);
	close_events(&a);
	log_info("msg=stopped detail=\"programs detached, maps unpinned\" exit_status=%d", status);
	return status;
}
