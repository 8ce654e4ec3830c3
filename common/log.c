/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

static enum hv_log_level log_level = HV_LOG_INFO;
static const char *log_ident = "hvnet";

static const char *const level_names[] = {"err", "warn", "info", "debug"};

void
hv_log_set_level(enum hv_log_level level)
{
	log_level = level;
}

int
hv_log_level_parse(const char *s, enum hv_log_level *out)
{
	for (unsigned i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum hv_log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

void
hv_log_set_ident(const char *ident)
{
	log_ident = ident;
}

void
hv_vlog(enum hv_log_level level, const char *fmt, va_list ap)
{
	char line[1024];
	struct timespec ts;
	struct tm tm;
	int n;

	if (level > log_level)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	n = snprintf(line, sizeof(line), "%02d:%02d:%02d.%03ld %s %s: ", tm.tm_hour, tm.tm_min,
		     tm.tm_sec, ts.tv_nsec / 1000000, log_ident, level_names[level]);
	if (n < 0)
		return;
	n += vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	if (n >= (int)sizeof(line) - 1)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	/* One write per line so that concurrent lines never interleave. */
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		return;
}

void
hv_log(enum hv_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	hv_vlog(level, fmt, ap);
	va_end(ap);
}

void
hv_ratelimit_init(struct hv_ratelimit *rl, uint32_t per_sec, uint32_t burst)
{
	rl->last_ns = 0;
	rl->tokens = burst;
	rl->burst = burst;
	rl->per_sec = per_sec;
	rl->suppressed = 0;
}

bool
hv_ratelimit_allow(struct hv_ratelimit *rl, uint64_t now_ns)
{
	if (rl->per_sec != 0 && now_ns > rl->last_ns) {
		uint64_t add = (now_ns - rl->last_ns) * rl->per_sec / 1000000000ull;

		if (add > 0) {
			rl->tokens = add + rl->tokens > rl->burst ? rl->burst : rl->tokens + add;
			rl->last_ns = now_ns;
		}
	}
	if (rl->tokens == 0) {
		rl->suppressed++;
		return false;
	}
	rl->tokens--;
	return true;
}
