/* SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include "common/drop.h"

static const struct {
	const char *name;
	const char *stage;
	const char *help;
} drop_info[HV_DROP_MAX] = {[HV_DROP_NONE] = {"none", "none", "not dropped"},
#define HV_DROP_INFO_(sym, n, s, h) [HV_DROP_##sym] = {n, s, h},
			    HV_DROP_REASONS(HV_DROP_INFO_)
#undef HV_DROP_INFO_
};

const char *
hv_drop_name(enum hv_drop_reason r)
{
	return (unsigned)r < HV_DROP_MAX ? drop_info[r].name : "unknown";
}

const char *
hv_drop_stage(enum hv_drop_reason r)
{
	return (unsigned)r < HV_DROP_MAX ? drop_info[r].stage : "unknown";
}

const char *
hv_drop_help(enum hv_drop_reason r)
{
	return (unsigned)r < HV_DROP_MAX ? drop_info[r].help : "unknown";
}

enum hv_drop_reason
hv_drop_from_name(const char *name)
{
	for (unsigned i = 0; i < HV_DROP_MAX; i++)
		if (strcmp(drop_info[i].name, name) == 0)
			return (enum hv_drop_reason)i;
	return HV_DROP_MAX;
}
