/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * hvnetd: the switch daemon. Parses its options, builds the EAL arguments
 * (working defaults on a machine without hugepages), creates the segments
 * and ports given on the command line, starts the workers and serves the
 * control socket until SIGINT or SIGTERM.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>

#include "common/ctl.h"
#include "common/log.h"
#include "vswitch/control.h"
#include "vswitch/vswitch.h"

#define MAX_CLI_ITEMS 256

static void
usage(FILE *f)
{
	fprintf(f,
		"Usage: hvnetd [OPTIONS] [-- EAL-ARGS]\n"
		"\n"
		"The hvnet switch daemon: switches frames between guest ports, segment by\n"
		"segment, and answers hvnetctl on a unix control socket. Runs in the\n"
		"foreground; stop it with SIGINT or SIGTERM.\n"
		"\n"
		"Options:\n"
		"  --instance NAME        instance name (default hvnetd): the EAL file prefix\n"
		"                         is hvnet-NAME and the default socket /run/hvnet/NAME.sock,\n"
		"                         so that two instances run side by side\n"
		"  --socket PATH          control socket (mode 0660)\n"
		"  --segment NAME[:mac-limit=N]\n"
		"                         create a segment (repeatable)\n"
		"  --port NAME:KIND:SEGMENT[:KEY=VALUE,...]\n"
		"                         add a port (repeatable); kinds and keys:\n"
		"                           tap        iface= netns= ifname= mac= mtu=\n"
		"                           vhost-user path= mode=server|client\n"
		"                           af_packet  iface=\n"
		"                           pcap       rx=FILE tx=FILE\n"
		"                           ring, null (benchmarks)\n"
		"                         every kind: allow-vlan=yes|no mac-limit=N mtu=N\n"
		"  --poll adaptive|busy   adaptive (default) sleeps when idle and wakes within\n"
		"                         --max-sleep-us; busy spins (benchmarks)\n"
		"  --max-sleep-us N       longest idle sleep in adaptive mode (default 200)\n"
		"  --cpus LIST            CPUs: the first runs the control thread, each other\n"
		"                         one a datapath worker (default 0,1; one CPU: 0 for both)\n"
		"  --mem MB               memory for DPDK (default 512)\n"
		"  --hugepages auto|yes|no\n"
		"                         use hugepages when mounted and free (auto, default)\n"
		"  --mbufs N              packet buffers (default 16384)\n"
		"  --mac-capacity N       MAC table size, all segments (default 65536)\n"
		"  --mac-age SECONDS      MAC aging time, 0 = never (default 300)\n"
		"  --port-mac-limit N     default MACs learned per port (default 1024)\n"
		"  --segment-mac-limit N  default MACs learned per segment (default 8192)\n"
		"  --policy FILE          put the policy of FILE in force once the ports are up\n"
		"                         (later: hvnetctl policy apply FILE)\n"
		"  --ct-max N             connections tracked, all workers together (default 65536)\n"
		"  --ct-mgmt-reserve PCT  share of the table only management-segment connections\n"
		"                         may use (default 10)\n"
		"  --port-conn-limit N    connections opened per port, 0 = no limit (default 0)\n"
		"  --neigh-capacity N     neighbours the segment gateways learn from ARP/ND, all\n"
		"                         segments (default 4096; docs/routing.md)\n"
		"  --neigh-port-limit N   learned neighbours behind one port, 0 = no share\n"
		"                         (default 256)\n"
		"  --neigh-age SECONDS    a learned neighbour older than this is asked again\n"
		"                         (default 300)\n"
		"  --ct-timeout NAME=SECONDS\n"
		"                         a connection timeout (repeatable): tcp_syn_sent,\n"
		"                         tcp_syn_recv, tcp_established, tcp_fin_wait,\n"
		"                         tcp_close_wait, tcp_last_ack, tcp_time_wait, tcp_close,\n"
		"                         udp, udp_stream, icmp, generic\n"
		"  --log-level err|warn|info|debug\n"
		"  -h, --help             this text\n"
		"\n"
		"Example:\n"
		"  hvnetd --segment app --port web1:tap:app:netns=web1,ifname=eth0 \\\n"
		"         --port db1:vhost-user:app:path=/run/hvnet/db1.sock,mode=client\n"
		"\n"
		"Exit status: 0 after a clean shutdown, 1 on a start-up error, 2 on a bad\n"
		"command line.\n");
}

struct opts {
	struct hv_switch_conf conf;
	const char *cpus;
	unsigned mem_mb;
	int hugepages; /* -1 auto, 0 no, 1 yes */
	unsigned n_segments, n_ports;
	const char *segments[MAX_CLI_ITEMS];
	const char *ports[MAX_CLI_ITEMS];
	int eal_extra_argc;
	char **eal_extra_argv;
	enum hv_log_level log_level;
	const char *policy;
};

static int
bad_arg(const char *opt, const char *val, const char *expected)
{
	fprintf(stderr, "hvnetd: %s %s: expected %s (hvnetd --help)\n", opt, val, expected);
	return 2;
}

static int
parse_uint(const char *opt, const char *s, unsigned long min, unsigned long max, uint32_t *out)
{
	char *end;
	unsigned long v;
	char expected[64];

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
		snprintf(expected, sizeof(expected), "a number from %lu to %lu", min, max);
		return bad_arg(opt, s, expected);
	}
	*out = (uint32_t)v;
	return 0;
}

static int
parse_opts(int argc, char **argv, struct opts *o)
{
	enum {
		O_INSTANCE = 256,
		O_SOCKET,
		O_SEGMENT,
		O_PORT,
		O_POLL,
		O_CPUS,
		O_MEM,
		O_HUGE,
		O_MBUFS,
		O_MAC_CAP,
		O_MAC_AGE,
		O_PORT_LIMIT,
		O_SEG_LIMIT,
		O_LOG,
		O_MAX_SLEEP,
		O_POLICY,
		O_CT_MAX,
		O_CT_RESERVE,
		O_PORT_CONN,
		O_CT_TIMEOUT,
		O_NEIGH_CAP,
		O_NEIGH_AGE,
		O_NEIGH_PORT,
	};
	static const struct option longopts[] = {
		{"instance", required_argument, NULL, O_INSTANCE},
		{"socket", required_argument, NULL, O_SOCKET},
		{"segment", required_argument, NULL, O_SEGMENT},
		{"port", required_argument, NULL, O_PORT},
		{"poll", required_argument, NULL, O_POLL},
		{"cpus", required_argument, NULL, O_CPUS},
		{"mem", required_argument, NULL, O_MEM},
		{"hugepages", required_argument, NULL, O_HUGE},
		{"mbufs", required_argument, NULL, O_MBUFS},
		{"mac-capacity", required_argument, NULL, O_MAC_CAP},
		{"mac-age", required_argument, NULL, O_MAC_AGE},
		{"port-mac-limit", required_argument, NULL, O_PORT_LIMIT},
		{"segment-mac-limit", required_argument, NULL, O_SEG_LIMIT},
		{"log-level", required_argument, NULL, O_LOG},
		{"max-sleep-us", required_argument, NULL, O_MAX_SLEEP},
		{"policy", required_argument, NULL, O_POLICY},
		{"ct-max", required_argument, NULL, O_CT_MAX},
		{"ct-mgmt-reserve", required_argument, NULL, O_CT_RESERVE},
		{"port-conn-limit", required_argument, NULL, O_PORT_CONN},
		{"ct-timeout", required_argument, NULL, O_CT_TIMEOUT},
		{"neigh-capacity", required_argument, NULL, O_NEIGH_CAP},
		{"neigh-age", required_argument, NULL, O_NEIGH_AGE},
		{"neigh-port-limit", required_argument, NULL, O_NEIGH_PORT},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	bool socket_set = false;
	uint32_t v;
	int c, rc;

	memset(o, 0, sizeof(*o));
	snprintf(o->conf.instance, sizeof(o->conf.instance), "hvnetd");
	o->conf.poll_mode = HV_POLL_ADAPTIVE;
	o->conf.mbufs = 16384;
	o->conf.mac_capacity = 65536;
	o->conf.port_mac_limit = 1024;
	o->conf.segment_mac_limit = 8192;
	o->conf.mac_age_s = 300;
	o->conf.max_sleep_us = 200;
	o->conf.ct_max = 65536;
	o->conf.ct_mgmt_reserve_pct = 10;
	o->conf.neigh_capacity = 4096;
	o->conf.neigh_age_s = 300;
	o->conf.neigh_port_limit = 256;
	o->mem_mb = 512;
	o->hugepages = -1;
	o->log_level = HV_LOG_INFO;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		rc = 0;
		switch (c) {
		case O_INSTANCE:
			if (optarg[0] == '\0' || strlen(optarg) >= 40 || strchr(optarg, '/'))
				return bad_arg("--instance", optarg, "a short name without '/'");
			snprintf(o->conf.instance, sizeof(o->conf.instance), "%s", optarg);
			break;
		case O_SOCKET:
			if (strlen(optarg) >= sizeof(o->conf.socket_path))
				return bad_arg("--socket", optarg, "a path of at most 107 bytes");
			snprintf(o->conf.socket_path, sizeof(o->conf.socket_path), "%s", optarg);
			socket_set = true;
			break;
		case O_SEGMENT:
			if (o->n_segments == MAX_CLI_ITEMS)
				return bad_arg("--segment", optarg, "fewer segments");
			o->segments[o->n_segments++] = optarg;
			break;
		case O_PORT:
			if (o->n_ports == MAX_CLI_ITEMS)
				return bad_arg("--port", optarg, "fewer ports");
			o->ports[o->n_ports++] = optarg;
			break;
		case O_POLL:
			if (strcmp(optarg, "adaptive") == 0)
				o->conf.poll_mode = HV_POLL_ADAPTIVE;
			else if (strcmp(optarg, "busy") == 0)
				o->conf.poll_mode = HV_POLL_BUSY;
			else
				return bad_arg("--poll", optarg, "adaptive or busy");
			break;
		case O_CPUS:
			o->cpus = optarg;
			break;
		case O_MEM:
			rc = parse_uint("--mem", optarg, 64, 1u << 20, &o->mem_mb);
			break;
		case O_HUGE:
			if (strcmp(optarg, "auto") == 0)
				o->hugepages = -1;
			else if (strcmp(optarg, "yes") == 0)
				o->hugepages = 1;
			else if (strcmp(optarg, "no") == 0)
				o->hugepages = 0;
			else
				return bad_arg("--hugepages", optarg, "auto, yes or no");
			break;
		case O_MBUFS:
			rc = parse_uint("--mbufs", optarg, 1024, 1u << 24, &o->conf.mbufs);
			break;
		case O_MAC_CAP:
			rc = parse_uint("--mac-capacity", optarg, 64, 1u << 24,
					&o->conf.mac_capacity);
			break;
		case O_MAC_AGE:
			rc = parse_uint("--mac-age", optarg, 0, 86400 * 365, &o->conf.mac_age_s);
			break;
		case O_PORT_LIMIT:
			rc = parse_uint("--port-mac-limit", optarg, 0, 1u << 24,
					&o->conf.port_mac_limit);
			break;
		case O_SEG_LIMIT:
			rc = parse_uint("--segment-mac-limit", optarg, 0, 1u << 24,
					&o->conf.segment_mac_limit);
			break;
		case O_MAX_SLEEP:
			rc = parse_uint("--max-sleep-us", optarg, 1, 100000, &v);
			o->conf.max_sleep_us = v;
			break;
		case O_POLICY:
			o->policy = optarg;
			break;
		case O_CT_MAX:
			rc = parse_uint("--ct-max", optarg, 64, 1u << 26, &o->conf.ct_max);
			break;
		case O_CT_RESERVE:
			rc = parse_uint("--ct-mgmt-reserve", optarg, 0, 90,
					&o->conf.ct_mgmt_reserve_pct);
			break;
		case O_NEIGH_CAP:
			rc = parse_uint("--neigh-capacity", optarg, 4, 1u << 24,
					&o->conf.neigh_capacity);
			break;
		case O_NEIGH_PORT:
			rc = parse_uint("--neigh-port-limit", optarg, 0, 1u << 24,
					&o->conf.neigh_port_limit);
			break;
		case O_NEIGH_AGE:
			rc = parse_uint("--neigh-age", optarg, 1, 86400, &o->conf.neigh_age_s);
			break;
		case O_PORT_CONN:
			rc = parse_uint("--port-conn-limit", optarg, 0, 1u << 26,
					&o->conf.port_conn_limit);
			break;
		case O_CT_TIMEOUT: {
			char name[32];
			const char *eq = strchr(optarg, '=');
			int t;

			if (eq == NULL || (size_t)(eq - optarg) >= sizeof(name))
				return bad_arg("--ct-timeout", optarg, "NAME=SECONDS");
			memcpy(name, optarg, (size_t)(eq - optarg));
			name[eq - optarg] = '\0';
			t = hv_ct_timeout_from_name(name);
			if (t < 0)
				return bad_arg("--ct-timeout", optarg,
					       "a timeout name (see hvnetd --help)");
			rc = parse_uint("--ct-timeout", eq + 1, 1, 86400 * 30,
					&o->conf.ct_timeouts[t]);
			break;
		}
		case O_LOG:
			if (hv_log_level_parse(optarg, &o->log_level) != 0)
				return bad_arg("--log-level", optarg, "err, warn, info or debug");
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			fprintf(stderr, "hvnetd: %s: %s (hvnetd --help)\n", argv[optind - 1],
				optopt ? "missing value" : "unknown option");
			return 2;
		}
		if (rc != 0)
			return rc;
	}
	if (!socket_set)
		snprintf(o->conf.socket_path, sizeof(o->conf.socket_path), "/run/hvnet/%s.sock",
			 o->conf.instance);
	o->eal_extra_argc = argc - optind;
	o->eal_extra_argv = argv + optind;
	return 0;
}

/* Hugepages can be used when hugetlbfs is mounted and enough 2 MiB pages are free. */
static bool
hugepages_usable(unsigned mem_mb)
{
	FILE *f = fopen("/proc/mounts", "r");
	char line[512];
	bool mounted = false;
	unsigned long free_pages = 0, size_kb = 0;

	if (f == NULL)
		return false;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strstr(line, " hugetlbfs ") != NULL)
			mounted = true;
	fclose(f);
	if (!mounted)
		return false;
	f = fopen("/proc/meminfo", "r");
	if (f == NULL)
		return false;
	while (fgets(line, sizeof(line), f) != NULL) {
		sscanf(line, "HugePages_Free: %lu", &free_pages);
		sscanf(line, "Hugepagesize: %lu kB", &size_kb);
	}
	fclose(f);
	return size_kb != 0 && free_pages * size_kb >= (unsigned long)mem_mb * 1024;
}

/* "0,1,2" -> "--lcores 0@0,1@1,2@2"; one CPU -> main and one worker share it. */
static int
build_lcores(const char *cpus, char *out, size_t size)
{
	char buf[256];
	unsigned list[HV_MAX_WORKERS + 1];
	unsigned n = 0;
	size_t len = 0;

	if (cpus == NULL) {
		long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

		snprintf(buf, sizeof(buf), "%s", ncpu > 1 ? "0,1" : "0");
	} else {
		snprintf(buf, sizeof(buf), "%s", cpus);
	}
	for (char *tok = strtok(buf, ","); tok != NULL; tok = strtok(NULL, ",")) {
		char *end;
		unsigned long v = strtoul(tok, &end, 10);

		if (*tok == '\0' || *end != '\0' || v > 4095 || n == HV_MAX_WORKERS + 1)
			return -EINVAL;
		list[n++] = (unsigned)v;
	}
	if (n == 0)
		return -EINVAL;
	if (n == 1)
		list[n++] = list[0];
	for (unsigned i = 0; i < n; i++)
		len += (size_t)snprintf(out + len, size - len, "%s%u@%u", i ? "," : "", i, list[i]);
	return len < size ? 0 : -E2BIG;
}

/*
 * EAL leaves its runtime directory (/var/run/dpdk/hvnet-INSTANCE: config,
 * memory segment lists, the multi-process socket) behind at exit; with an
 * instance per lab and per test they pile up. Nothing else uses ours.
 */
static void
remove_runtime_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			unlinkat(dirfd(d), de->d_name, 0);
	closedir(d);
	rmdir(dir);
}

int
main(int argc, char **argv)
{
	static struct hv_switch sw;
	struct opts o;
	char *eal_argv[64 + 32];
	static char rundir[PATH_MAX];
	char prefix[80], lcores[256], mem[16];
	char err[512];
	struct hv_control *ctl;
	sigset_t mask;
	int eal_argc = 0, rc;
	bool huge;

	rc = parse_opts(argc, argv, &o);
	if (rc != 0)
		return rc;
	hv_log_set_ident("hvnetd");
	hv_log_set_level(o.log_level);
	if (build_lcores(o.cpus, lcores, sizeof(lcores)) != 0)
		return bad_arg("--cpus", o.cpus ? o.cpus : "", "a list of CPU numbers like 0,1");
	if (o.eal_extra_argc > 64)
		return bad_arg("--", "...", "at most 64 EAL arguments");

	/* Pre-check the command-line ports, so a typo fails before EAL starts. */
	for (unsigned i = 0; i < o.n_ports; i++) {
		struct hv_port_spec spec;

		if (hv_port_spec_parse(o.ports[i], &spec, err, sizeof(err)) != 0) {
			fprintf(stderr, "hvnetd: --port: %s\n", err);
			return 2;
		}
	}

	huge = o.hugepages == 1 || (o.hugepages == -1 && hugepages_usable(o.mem_mb));
	snprintf(prefix, sizeof(prefix), "hvnet-%s", o.conf.instance);
	snprintf(mem, sizeof(mem), "%u", o.mem_mb);
	eal_argv[eal_argc++] = argv[0];
	eal_argv[eal_argc++] = "--no-pci";
	eal_argv[eal_argc++] = "--file-prefix";
	eal_argv[eal_argc++] = prefix;
	eal_argv[eal_argc++] = "--lcores";
	eal_argv[eal_argc++] = lcores;
	eal_argv[eal_argc++] = "-m";
	eal_argv[eal_argc++] = mem;
	if (!huge)
		eal_argv[eal_argc++] = "--no-huge";
	eal_argv[eal_argc++] = "--no-telemetry";
	eal_argv[eal_argc++] =
		o.log_level >= HV_LOG_DEBUG ? "--log-level=info" : "--log-level=warning";
	for (int i = 0; i < o.eal_extra_argc; i++)
		eal_argv[eal_argc++] = o.eal_extra_argv[i];
	eal_argv[eal_argc] = NULL;

	/* Signals go to the control thread's signalfd; workers inherit this mask. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP); /* reopen the verdict log files (rotation) */
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* Refuse early, before EAL takes its lock, when this instance is already up. */
	{
		int fd = hv_ctl_connect(o.conf.socket_path);

		if (fd >= 0) {
			close(fd);
			HV_ERR("another hvnetd is listening on %s; give this one its own --instance or "
			       "--socket",
			       o.conf.socket_path);
			return 1;
		}
	}
	HV_INFO("starting instance '%s' (%s, lcores %s, %u MB)", o.conf.instance,
		huge ? "hugepages" : "no hugepages", lcores, o.mem_mb);
	if (rte_eal_init(eal_argc, eal_argv) < 0) {
		/* EAL reports a held file-prefix lock with rte_errno unset */
		HV_ERR("EAL init failed: %s (is another process using instance '%s'? each "
		       "instance needs its own --instance name)",
		       rte_errno ? rte_strerror(rte_errno) : "see the EAL messages above",
		       o.conf.instance);
		return 1;
	}

	rc = hv_switch_init(&sw, &o.conf);
	if (rc != 0)
		goto fail;
	ctl = hv_control_open(&sw, err, sizeof(err));
	if (ctl == NULL) {
		HV_ERR("%s", err);
		rc = -errno;
		goto fail;
	}
	for (unsigned i = 0; i < o.n_segments; i++) {
		char name[HV_NAME_MAX + 64];
		uint32_t limit = 0;
		char *colon;

		snprintf(name, sizeof(name), "%s", o.segments[i]);
		colon = strchr(name, ':');
		if (colon != NULL) {
			*colon++ = '\0';
			if (strncmp(colon, "mac-limit=", 10) != 0 ||
			    parse_uint("--segment", colon + 10, 0, 1u << 24, &limit) != 0) {
				HV_ERR("--segment %s: expected NAME or NAME:mac-limit=N",
				       o.segments[i]);
				rc = -EINVAL;
				goto close_ctl;
			}
		}
		rc = hv_segment_add(&sw, name, limit, err, sizeof(err));
		if (rc != 0) {
			HV_ERR("--segment %s: %s", o.segments[i], err);
			goto close_ctl;
		}
	}
	rc = hv_switch_start(&sw);
	if (rc != 0)
		goto close_ctl;
	for (unsigned i = 0; i < o.n_ports; i++) {
		struct hv_port_spec spec;

		hv_port_spec_parse(o.ports[i], &spec, err, sizeof(err));
		rc = hv_port_add(&sw, &spec, err, sizeof(err));
		if (rc != 0) {
			HV_ERR("--port %s: %s", o.ports[i], err);
			goto stop;
		}
	}
	if (o.policy != NULL) {
		struct reply_err e = {0};
		json_t *r = hv_fw_apply_file(&sw, o.policy, &e);

		if (r == NULL) {
			HV_ERR("--policy %s", e.msg);
			rc = -EINVAL;
			goto stop;
		}
		HV_INFO("policy %s in force: %lld rules, epoch %lld", o.policy,
			(long long)json_integer_value(json_object_get(r, "rules")),
			(long long)json_integer_value(json_object_get(r, "epoch")));
		json_decref(r);
	}
	HV_INFO("ready: %u worker(s), %s polling, control socket %s", sw.n_workers,
		o.conf.poll_mode == HV_POLL_BUSY ? "busy" : "adaptive", o.conf.socket_path);

	rc = hv_control_run(ctl);

stop:
	hv_switch_stop(&sw);
close_ctl:
	hv_control_close(ctl);
fail:
	hv_switch_fini(&sw);
	snprintf(rundir, sizeof(rundir), "%s", rte_eal_get_runtime_dir());
	rte_eal_cleanup();
	remove_runtime_dir(rundir);
	return rc == 0 ? 0 : 1;
}
