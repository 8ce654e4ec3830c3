/* SPDX-License-Identifier: BSD-3-Clause */
/* The guest kinds, by the lab file's word and by the name state files keep. */
#include <string.h>

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
