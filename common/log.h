/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef HV_COMMON_LOG_H
#define HV_COMMON_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

/*
 * Logging for programs (hvnetd, hvnetctl, tools). Library code does not log:
 * it returns -errno and, where useful, fills an error buffer for its caller.
 *
 * Thread-safe: each call writes one line with one write(2).
 */
enum hv_log_level {
	HV_LOG_ERR = 0,
	HV_LOG_WARN,
	HV_LOG_INFO,
	HV_LOG_DEBUG,
};

/* Set the most verbose level that is printed (default HV_LOG_INFO). */
void hv_log_set_level(enum hv_log_level level);
/* Parse "err|warn|info|debug"; returns 0 or -EINVAL. */
int hv_log_level_parse(const char *s, enum hv_log_level *out);
/* Prefix each line with @ident (e.g. "hvnetd"); the string must outlive the program. */
void hv_log_set_ident(const char *ident);

void hv_log(enum hv_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void hv_vlog(enum hv_log_level level, const char *fmt, va_list ap);

#define HV_ERR(...)   hv_log(HV_LOG_ERR, __VA_ARGS__)
#define HV_WARN(...)  hv_log(HV_LOG_WARN, __VA_ARGS__)
#define HV_INFO(...)  hv_log(HV_LOG_INFO, __VA_ARGS__)
#define HV_DEBUG(...) hv_log(HV_LOG_DEBUG, __VA_ARGS__)

/*
 * Token-bucket rate limiter for messages from the fast path: at most @burst
 * messages, refilled at @per_sec per second. One limiter per lcore (not
 * thread-safe). Time comes from the caller in nanoseconds.
 */
struct hv_ratelimit {
	uint64_t last_ns;
	uint32_t tokens;
	uint32_t burst;
	uint32_t per_sec;
	uint64_t suppressed;
};

void hv_ratelimit_init(struct hv_ratelimit *rl, uint32_t per_sec, uint32_t burst);
/* True when a message may be printed now; counts the ones suppressed. */
bool hv_ratelimit_allow(struct hv_ratelimit *rl, uint64_t now_ns);

#endif
