/* SPDX-License-Identifier: BSD-3-Clause */
/* The guest kinds, by the lab file's word and by the name state files keep. */
#include <dirent.h>
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmm/vmm.h"

const struct hv_vmm_kind *
hv_vmm_kind_of(enum hv_guest_kind kind)
{
	switch (kind) {
	case HV_GUEST_NETNS:
		return &hv_vmm_netns;
	case HV_GUEST_QEMU:
		return &hv_vmm_qemu;
	}
	return NULL;
}

const struct hv_vmm_kind *
hv_vmm_kind_find(const char *name)
{
	if (strcmp(name, hv_vmm_netns.name) == 0)
		return &hv_vmm_netns;
	if (strcmp(name, hv_vmm_qemu.name) == 0)
		return &hv_vmm_qemu;
	return NULL;
}

void
hv_vmm_nic_gateways(const struct hv_segment *seg, const struct hv_nic *n, struct hv_prefix *gw4,
		    struct hv_prefix *gw6)
{
	for (size_t k = 0; k < seg->gateways.n; k++) {
		const struct hv_prefix *gw = &seg->gateways.v[k].p;
		bool inside = false;

		for (size_t a = 0; a < n->ips.n && !inside; a++) {
			struct hv_prefix host = n->ips.v[a].p;

			if (host.family != gw->family)
				continue; /* no address of the family: no route of it */
			host.plen = host.family == 4 ? 32 : 128;
			for (size_t s = 0; s < seg->subnets.n && !inside; s++)
				inside = hv_prefix_contains(&seg->subnets.v[s].p, &host);
		}
		if (inside)
			*(gw->family == 4 ? gw4 : gw6) = *gw;
	}
}

pid_t
hv_proc_find(bool (*match)(pid_t pid, const char *arg), const char *arg)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	pid_t found = 0;

	if (d == NULL)
		return 0;
	while (found == 0 && (e = readdir(d)) != NULL) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);

		if (*end == '\0' && pid > 0 && match((pid_t)pid, arg))
			found = (pid_t)pid;
	}
	closedir(d);
	return found;
}

bool
hv_path_beside_self(const char *rel, char *out, size_t size)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n <= 0)
		return false;
	self[n] = '\0';
	snprintf(out, size, "%s/%s", dirname(self), rel);
	return access(out, X_OK) == 0;
}
