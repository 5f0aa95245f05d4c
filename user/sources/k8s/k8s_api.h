/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * HTTPS requests to the Kubernetes API from inside the agent's event loop:
 * one libcurl multi handle whose sockets the loop watches
 * (CURLMOPT_SOCKETFUNCTION) and whose timeouts are loop timers
 * (CURLMOPT_TIMERFUNCTION).  Nothing blocks.  The server certificate is
 * always verified; the bearer token is read again for every request, so a
 * rotated (projected) token is picked up.
 *
 * Callbacks never run inside libcurl: data is buffered by curl's callbacks
 * and handed out after curl_multi_socket_action returns, so a callback may
 * start or cancel any request, its own included.
 */
#ifndef SOCKLB_K8S_API_H
#define SOCKLB_K8S_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lib/event_loop.h"

#define K8S_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"
#define K8S_DEFAULT_WATCH_TIMEOUT_MS 300000
#define K8S_MAX_NAMESPACES 32

/* The agent's k8s options, as given. */
struct k8s_options {
	const char *api_server;	   /* --api-server URL; NULL: in-cluster */
	const char *token_file;	   /* --token-file */
	const char *ca_file;	   /* --ca-file */
	bool discover;		   /* --k8s-discover */
	uint64_t watch_timeout_ms; /* --k8s-watch-timeout: timeoutSeconds of each watch */
	/* --k8s-namespace: watch only these (RBAC without cluster-wide list); 0: all */
	const char *namespaces[K8S_MAX_NAMESPACES];
	size_t n_namespaces;
};

/* Where and how to reach the API, once resolved. */
struct k8s_api_config {
	char server[512];      /* "https://10.96.0.1:443", no final '/' */
	char token_file[4096]; /* "": no token */
	char ca_file[4096];    /* "": the system's CA bundle */
	char ns[64];	       /* the agent's namespace in-cluster, else "" */
	bool in_cluster;
	uint64_t watch_timeout_ms;
};

/*
 * --api-server/--token-file/--ca-file, or the in-cluster config
 * (KUBERNETES_SERVICE_HOST and _PORT, the service account's token, ca.crt
 * and namespace).  -1 with a message naming what is missing.
 */
int k8s_api_config_resolve(const struct k8s_options *opts, struct k8s_api_config *out, char *err,
			   size_t errlen);

/*
 * Reads a small file (a token, a namespace) into buf, without trailing
 * blanks; -errno if it cannot be read.
 */
int k8s_read_small_file(const char *path, char *buf, size_t size);

struct k8s_api;
struct k8s_request;

/* How a request ended. */
struct k8s_result {
	long status;	    /* HTTP status; 0 if none arrived */
	bool ok;	    /* the transfer completed (whatever the status) */
	const char *error;  /* !ok: short reason ("connect-failed", "tls-verify-failed", ...) */
	const char *detail; /* !ok: libcurl's message */
	const char *body;   /* the body (not for a stream answered 200) */
	size_t body_len;
};

struct k8s_request_ops {
	/* The status line and headers arrived (status: the HTTP status). */
	void (*open)(void *arg, long status);
	/* stream, status 200: one line of the body (NUL-terminated, no "\n"). */
	void (*line)(void *arg, char *line, size_t len);
	/* The request is over; it is freed right after. */
	void (*done)(void *arg, const struct k8s_result *res);
};

/* What the agent's API client did, for metrics and the scale measurements. */
struct k8s_api_stats {
	unsigned long long requests;	/* started */
	unsigned long long connections; /* TCP connections opened */
	int http_version;		/* of the last answer: 0 (none yet), 1 or 2 */
	unsigned open_requests;		/* in flight now */
};

struct k8s_api *k8s_api_new(struct event_loop *loop, const struct k8s_api_config *cfg, char *err,
			    size_t errlen);
/* Cancels every request (no callbacks). */
void k8s_api_free(struct k8s_api *api);
const struct k8s_api_config *k8s_api_config(const struct k8s_api *api);
void k8s_api_stats(const struct k8s_api *api, struct k8s_api_stats *out);

/*
 * GETs path (from "/api/..."); stream: the body is handed out line by line
 * (a watch) and has no overall timeout.  NULL (err says why) if it could
 * not start, e.g. the token file is unreadable.
 */
struct k8s_request *k8s_request_start(struct k8s_api *api, const char *path, bool stream,
				      const struct k8s_request_ops *ops, void *arg, char *err,
				      size_t errlen);
/* What a request that writes sends: its method, and a body of that content type. */
struct k8s_send {
	const char *method;	  /* "POST", "PUT" or "PATCH" */
	const char *content_type; /* "application/json", "application/merge-patch+json" */
	const char *body;	  /* copied */
};

/* As k8s_request_start (not a stream), with a body: a create, replace or patch. */
struct k8s_request *k8s_request_send(struct k8s_api *api, const char *path,
				     const struct k8s_send *send, const struct k8s_request_ops *ops,
				     void *arg, char *err, size_t errlen);
/* Stops a request; its callbacks are not called again.  NULL is fine. */
void k8s_request_cancel(struct k8s_request *req);

/* Appends s to buf (at *used, of size len) URL-encoded (for query values). */
void k8s_url_escape(char *buf, size_t len, size_t *used, const char *s);

#endif
