/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Mirror session configurations: checks, and the JSON of `mirror.add` and
 * `mirror show` (docs/control.md). No DPDK calls, so that the fuzz target
 * (tests/fuzz/fuzz_mirror.c) links this file with jansson alone.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "vswitch/mirror.h"

static const char *const dir_names[] = {"both", "ingress", "egress"};
static const char *const verdict_names[] = {"any", "allowed", "blocked"};

static bool
name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= HV_MIRROR_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			return false;
	return true;
}

int
hv_mirror_conf_check(const struct hv_mirror_conf *c, char *err, size_t errlen)
{
	if (!name_ok(c->name)) {
		snprintf(err, errlen,
			 "bad mirror name '%.64s' (1-%d letters, digits, '-', '_', '.')", c->name,
			 HV_MIRROR_NAME_MAX - 1);
		return -EINVAL;
	}
	if (c->n_segments > HV_MIRROR_MAX_SEL || c->n_ports > HV_MIRROR_MAX_SEL) {
		snprintf(err, errlen, "mirror '%s': at most %d segments and %d ports", c->name,
			 HV_MIRROR_MAX_SEL, HV_MIRROR_MAX_SEL);
		return -EINVAL;
	}
	for (unsigned i = 0; i < c->n_segments; i++)
		if (!name_ok(c->segments[i])) {
			snprintf(err, errlen, "mirror '%s': bad segment name '%.64s'", c->name,
				 c->segments[i]);
			return -EINVAL;
		}
	for (unsigned i = 0; i < c->n_ports; i++)
		if (!name_ok(c->ports[i])) {
			snprintf(err, errlen, "mirror '%s': bad port name '%.64s'", c->name,
				 c->ports[i]);
			return -EINVAL;
		}
	if (c->dir > HV_MIRROR_EGRESS || c->verdict > HV_MIRROR_V_BLOCKED) {
		snprintf(err, errlen, "mirror '%s': bad direction or verdict", c->name);
		return -EINVAL;
	}
	if (!c->delivered && c->dir == HV_MIRROR_EGRESS) {
		snprintf(
			err, errlen,
			"mirror '%s': direction egress needs tap delivered (the wire tap sees frames as they enter the switch)",
			c->name);
		return -EINVAL;
	}
	if (c->delivered && c->verdict == HV_MIRROR_V_BLOCKED) {
		snprintf(
			err, errlen,
			"mirror '%s': verdict blocked needs tap wire (blocked frames are never delivered)",
			c->name);
		return -EINVAL;
	}
	if (strnlen(c->filter, HV_MIRROR_FILTER_MAX) == HV_MIRROR_FILTER_MAX) {
		snprintf(err, errlen, "mirror '%s': filter longer than %d bytes", c->name,
			 HV_MIRROR_FILTER_MAX - 1);
		return -EINVAL;
	}
	if (c->snaplen != 0 && (c->snaplen < 64 || c->snaplen > 65535)) {
		snprintf(err, errlen, "mirror '%s': snaplen %u outside 64-65535", c->name,
			 c->snaplen);
		return -EINVAL;
	}
	if (c->sample > (1u << 30)) {
		snprintf(err, errlen, "mirror '%s': sample %u above 1073741824", c->name,
			 c->sample);
		return -EINVAL;
	}
	if (c->n_dests == 0 || c->n_dests > HV_MIRROR_MAX_DESTS) {
		snprintf(err, errlen, "mirror '%s': needs 1 to %d destinations", c->name,
			 HV_MIRROR_MAX_DESTS);
		return -EINVAL;
	}
	for (unsigned d = 0; d < c->n_dests; d++) {
		const struct hv_mirror_dest_conf *dc = &c->dests[d];

		switch (dc->kind) {
		case HV_MIRROR_TO_PCAPNG:
			if (dc->path[0] == '\0' ||
			    strnlen(dc->path, HV_MIRROR_PATH_MAX) == HV_MIRROR_PATH_MAX) {
				snprintf(
					err, errlen,
					"mirror '%s': destination %u: pcap path empty or longer than %d bytes",
					c->name, d + 1, HV_MIRROR_PATH_MAX - 1);
				return -EINVAL;
			}
			if ((dc->rotate_size != 0 && dc->rotate_size < 4096) ||
			    dc->keep > HV_MIRROR_KEEP_MAX) {
				snprintf(
					err, errlen,
					"mirror '%s': destination %u: rotate is at least 4096 bytes, keep at most %d files",
					c->name, d + 1, HV_MIRROR_KEEP_MAX);
				return -EINVAL;
			}
			break;
		case HV_MIRROR_TO_PORT:
			if (!name_ok(dc->port)) {
				snprintf(err, errlen, "mirror '%s': destination %u: bad port name",
					 c->name, d + 1);
				return -EINVAL;
			}
			break;
		case HV_MIRROR_TO_FD:
			break;
		case HV_MIRROR_TO_VXLAN:
		case HV_MIRROR_TO_ERSPAN:
			if (!name_ok(dc->port) ||
			    (dc->kind == HV_MIRROR_TO_VXLAN &&
			     (dc->vni == 0 || dc->vni > 0xffffff)) ||
			    (dc->kind == HV_MIRROR_TO_ERSPAN && dc->vni > 1023) ||
			    (dc->remote[0] | dc->remote[1] | dc->remote[2] | dc->remote[3]) == 0) {
				snprintf(
					err, errlen,
					"mirror '%s': destination %u: a remote needs an IPv4 address, a VXLAN VNI of 1-16777215 or an ERSPAN session id of 0-1023, and the port it leaves by",
					c->name, d + 1);
				return -EINVAL;
			}
			break;
		default:
			snprintf(err, errlen, "mirror '%s': destination %u: unknown kind", c->name,
				 d + 1);
			return -EINVAL;
		}
	}
	return 0;
}

static int
get_str(const json_t *o, const char *key, char *out, size_t len, const char *what, char *err,
	size_t errlen)
{
	const json_t *v = json_object_get(o, key);

	if (v == NULL)
		return 0;
	if (!json_is_string(v) || json_string_length(v) >= len ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		snprintf(err, errlen, "%s: '%s' must be a string of at most %zu bytes", what, key,
			 len - 1);
		return -EINVAL;
	}
	memcpy(out, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

static int
get_u64(const json_t *o, const char *key, uint64_t max, uint64_t *out, const char *what, char *err,
	size_t errlen)
{
	const json_t *v = json_object_get(o, key);

	if (v == NULL)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    (uint64_t)json_integer_value(v) > max) {
		snprintf(err, errlen, "%s: '%s' must be an integer from 0 to %llu", what, key,
			 (unsigned long long)max);
		return -EINVAL;
	}
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

static int
get_enum(const json_t *o, const char *key, const char *const *names, unsigned n, unsigned *out,
	 char *err, size_t errlen)
{
	char s[16] = "";

	if (get_str(o, key, s, sizeof(s), "mirror", err, errlen) != 0)
		return -EINVAL;
	if (s[0] == '\0')
		return 0;
	for (unsigned i = 0; i < n; i++)
		if (strcmp(s, names[i]) == 0) {
			*out = i;
			return 0;
		}
	snprintf(err, errlen, "mirror: unknown %s '%s'", key, s);
	return -EINVAL;
}

static int
get_names(const json_t *o, const char *key, char (*out)[HV_MIRROR_NAME_MAX], unsigned *n, char *err,
	  size_t errlen)
{
	const json_t *a = json_object_get(o, key), *v;
	size_t i;

	if (a == NULL)
		return 0;
	if (!json_is_array(a) || json_array_size(a) > HV_MIRROR_MAX_SEL) {
		snprintf(err, errlen, "mirror: '%s' must be an array of at most %d names", key,
			 HV_MIRROR_MAX_SEL);
		return -EINVAL;
	}
	json_array_foreach(a, i, v) {
		if (!json_is_string(v) || json_string_length(v) >= HV_MIRROR_NAME_MAX ||
		    !name_ok(json_string_value(v))) {
			snprintf(err, errlen, "mirror: '%s'[%zu] is not a valid name", key, i);
			return -EINVAL;
		}
		strcpy(out[i], json_string_value(v));
	}
	*n = (unsigned)json_array_size(a);
	return 0;
}

static int
dest_from_json(const json_t *o, struct hv_mirror_dest_conf *dc, unsigned idx, char *err,
	       size_t errlen)
{
	char what[32];
	uint64_t v;

	snprintf(what, sizeof(what), "mirror: to[%u]", idx);
	memset(dc, 0, sizeof(*dc));
	dc->fd = -1;
	if (!json_is_object(o)) {
		snprintf(err, errlen, "%s must be an object", what);
		return -EINVAL;
	}
	if (json_object_get(o, "pcap") != NULL) {
		dc->kind = HV_MIRROR_TO_PCAPNG;
		if (get_str(o, "pcap", dc->path, sizeof(dc->path), what, err, errlen) != 0 ||
		    get_u64(o, "rotate", UINT64_MAX / 2, &dc->rotate_size, what, err, errlen) != 0)
			return -EINVAL;
		v = 0;
		if (get_u64(o, "every", UINT32_MAX, &v, what, err, errlen) != 0)
			return -EINVAL;
		dc->rotate_secs = (uint32_t)v;
		v = 0;
		if (get_u64(o, "keep", HV_MIRROR_KEEP_MAX, &v, what, err, errlen) != 0)
			return -EINVAL;
		dc->keep = (uint32_t)v;
		return 0;
	}
	if (json_object_get(o, "port") != NULL) {
		const json_t *t = json_object_get(o, "vlan_tag");

		dc->kind = HV_MIRROR_TO_PORT;
		if (get_str(o, "port", dc->port, sizeof(dc->port), what, err, errlen) != 0)
			return -EINVAL;
		if (t != NULL && !json_is_boolean(t)) {
			snprintf(err, errlen, "%s: 'vlan_tag' must be true or false", what);
			return -EINVAL;
		}
		dc->vlan_tag = json_is_true(t);
		return 0;
	}
	if (json_object_get(o, "remote") != NULL) {
		char addr[64] = "", src[64] = "", mac[32] = "";
		unsigned m[6];

		dc->kind = HV_MIRROR_TO_VXLAN;
		memset(dc->mac, 0xff, 6); /* broadcast unless told */
		v = 0;
		if (get_str(o, "remote", addr, sizeof(addr), what, err, errlen) != 0 ||
		    get_str(o, "source", src, sizeof(src), what, err, errlen) != 0 ||
		    get_str(o, "mac", mac, sizeof(mac), what, err, errlen) != 0 ||
		    get_str(o, "via", dc->port, sizeof(dc->port), what, err, errlen) != 0 ||
		    get_u64(o, "vxlan", 0xffffff, &v, what, err, errlen) != 0)
			return -EINVAL;
		if (json_object_get(o, "erspan") != NULL) {
			if (json_object_get(o, "vxlan") != NULL) {
				snprintf(err, errlen, "%s: 'vxlan' or 'erspan', not both", what);
				return -EINVAL;
			}
			dc->kind = HV_MIRROR_TO_ERSPAN;
			if (get_u64(o, "erspan", 1023, &v, what, err, errlen) != 0)
				return -EINVAL;
		}
		dc->vni = (uint32_t)v;
		if (inet_pton(AF_INET, addr, dc->remote) != 1 ||
		    (src[0] != '\0' && inet_pton(AF_INET, src, dc->source) != 1)) {
			snprintf(
				err, errlen,
				"%s: 'remote' and 'source' must be IPv4 addresses (IPv6 collectors are not supported yet)",
				what);
			return -EINVAL;
		}
		if (mac[0] != '\0') {
			int n = -1;

			if (sscanf(mac, "%2x:%2x:%2x:%2x:%2x:%2x%n", &m[0], &m[1], &m[2], &m[3],
				   &m[4], &m[5], &n) != 6 ||
			    n != (int)strlen(mac)) {
				snprintf(err, errlen, "%s: 'mac' must look like 02:00:00:00:00:01",
					 what);
				return -EINVAL;
			}
			for (int k = 0; k < 6; k++)
				dc->mac[k] = (uint8_t)m[k];
		}
		return 0;
	}
	snprintf(err, errlen, "%s: needs 'pcap', 'port' or 'remote'", what);
	return -EINVAL;
}

int
hv_mirror_conf_from_json(const struct json_t *args, struct hv_mirror_conf *c, char *err,
			 size_t errlen)
{
	const json_t *to, *d;
	unsigned e = 0;
	uint64_t v;
	size_t i;

	memset(c, 0, sizeof(*c));
	c->owner = -1;
	if (!json_is_object(args)) {
		snprintf(err, errlen, "mirror: arguments must be an object");
		return -EINVAL;
	}
	if (get_str(args, "name", c->name, sizeof(c->name), "mirror", err, errlen) != 0 ||
	    get_names(args, "segments", c->segments, &c->n_segments, err, errlen) != 0 ||
	    get_names(args, "ports", c->ports, &c->n_ports, err, errlen) != 0 ||
	    get_str(args, "filter", c->filter, sizeof(c->filter), "mirror", err, errlen) != 0)
		return -EINVAL;
	if (get_enum(args, "direction", dir_names, 3, &e, err, errlen) != 0)
		return -EINVAL;
	c->dir = (enum hv_mirror_dir)e;
	e = 0;
	if (get_enum(args, "verdict", verdict_names, 3, &e, err, errlen) != 0)
		return -EINVAL;
	c->verdict = (enum hv_mirror_verdict)e;
	e = 0;
	if (get_enum(args, "tap", (const char *const[]){"wire", "delivered"}, 2, &e, err, errlen) !=
	    0)
		return -EINVAL;
	c->delivered = e == 1;
	v = 0;
	if (get_u64(args, "snaplen", 65535, &v, "mirror", err, errlen) != 0)
		return -EINVAL;
	c->snaplen = (uint32_t)v;
	v = 0;
	if (get_u64(args, "sample", 1u << 30, &v, "mirror", err, errlen) != 0)
		return -EINVAL;
	c->sample = (uint32_t)v;
	to = json_object_get(args, "to");
	if (to == NULL || !json_is_array(to) || json_array_size(to) == 0 ||
	    json_array_size(to) > HV_MIRROR_MAX_DESTS) {
		snprintf(err, errlen, "mirror: 'to' must be an array of 1 to %d destinations",
			 HV_MIRROR_MAX_DESTS);
		return -EINVAL;
	}
	json_array_foreach(to, i, d) {
		if (dest_from_json(d, &c->dests[i], (unsigned)i, err, errlen) != 0)
			return -EINVAL;
	}
	c->n_dests = (unsigned)json_array_size(to);
	return hv_mirror_conf_check(c, err, errlen);
}

struct json_t *
hv_mirror_conf_to_json(const struct hv_mirror_conf *c)
{
	json_t *segs = json_array(), *ports = json_array(), *to = json_array();

	for (unsigned i = 0; i < c->n_segments; i++)
		json_array_append_new(segs, json_string(c->segments[i]));
	for (unsigned i = 0; i < c->n_ports; i++)
		json_array_append_new(ports, json_string(c->ports[i]));
	for (unsigned d = 0; d < c->n_dests; d++) {
		const struct hv_mirror_dest_conf *dc = &c->dests[d];

		if (dc->kind == HV_MIRROR_TO_PCAPNG)
			json_array_append_new(
				to, json_pack("{s:s, s:I, s:i, s:i}", "pcap", dc->path, "rotate",
					      (json_int_t)dc->rotate_size, "every",
					      (int)dc->rotate_secs, "keep", (int)dc->keep));
		else if (dc->kind == HV_MIRROR_TO_PORT)
			json_array_append_new(to, json_pack("{s:s, s:b}", "port", dc->port,
							    "vlan_tag", dc->vlan_tag));
		else if (HV_MIRROR_IS_REMOTE(dc->kind)) {
			char r[16], s[16], m[18];

			inet_ntop(AF_INET, dc->remote, r, sizeof(r));
			inet_ntop(AF_INET, dc->source, s, sizeof(s));
			snprintf(m, sizeof(m), "%02x:%02x:%02x:%02x:%02x:%02x", dc->mac[0],
				 dc->mac[1], dc->mac[2], dc->mac[3], dc->mac[4], dc->mac[5]);
			json_array_append_new(
				to,
				json_pack("{s:s, s:i, s:s, s:s, s:s}", "remote", r,
					  dc->kind == HV_MIRROR_TO_ERSPAN ? "erspan" : "vxlan",
					  (int)dc->vni, "via", dc->port, "source", s, "mac", m));
		} else
			json_array_append_new(to, json_pack("{s:s}", "capture", "pcap"));
	}
	return json_pack("{s:s, s:o, s:o, s:s, s:s, s:s, s:s, s:i, s:i, s:I, s:o, s:b}", "name",
			 c->name, "segments", segs, "ports", ports, "direction",
			 dir_names[c->dir <= HV_MIRROR_EGRESS ? c->dir : 0], "verdict",
			 verdict_names[c->verdict <= HV_MIRROR_V_BLOCKED ? c->verdict : 0], "tap",
			 c->delivered ? "delivered" : "wire", "filter", c->filter, "snaplen",
			 (int)c->snaplen, "sample", (int)(c->sample ? c->sample : 1), "count",
			 (json_int_t)c->count, "to", to, "from_policy", c->from_policy);
}
