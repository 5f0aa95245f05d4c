/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Field access shared by k8s_service.c and k8s_slice.c (k8s_get_str is in k8s_objects.h). */
#ifndef SOCKLB_K8S_JSON_H
#define SOCKLB_K8S_JSON_H

#include "sources/k8s/k8s_objects.h"

/* obj at the dotted path ("metadata.name"), or NULL. */
json_object *k8s_json_path(json_object *obj, const char *path);
/* The array at path, or NULL if it is absent or not an array. */
json_object *k8s_json_array(json_object *obj, const char *path);
/* An integer port field: 0 if absent (or named), -1 if not a number in 1..65535. */
int k8s_json_port(json_object *obj, const char *key);
/* Copies src into dst[size]; -EINVAL (err says which `what`) if it does not fit. */
int k8s_copy_str(char *dst, size_t size, const char *src, const char *what, char *err,
		 size_t errlen);
/* A port's protocol is TCP (the default when absent). */
bool k8s_port_is_tcp(json_object *port);
/* obj is a JSON object of that kind (items of a List carry none); else -EINVAL. */
int k8s_check_kind(json_object *obj, const char *want, char *err, size_t errlen);
/* "10.96.0.10" or "fd00::10" (of family, 0: either) into a port-0 endpoint; -EINVAL. */
int k8s_parse_ip(const char *text, int family, struct endpoint *out);

#endif
