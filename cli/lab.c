/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * hvnetctl lab: one lab file brings up a segmented lab of guests on a
 * private hvnetd (docs/labs.md).
 *
 *   lab up FILE      parse and check; start hvnetd --instance lab-NAME;
 *                    segments, guests (vmm/), ports, policy; roll back on failure
 *   lab down [NAME]  stop hvnetd, destroy the guests, remove the state
 *   lab status       guests, NICs, links, counters
 *   lab exec         a command inside a guest
 *   lab graph        the topology as Graphviz DOT (SVG/PNG with dot)
 *
 * Everything lab up creates is written to /run/hvnet/labs/NAME/state.json
 * before or as it is created, so that lab down removes exactly that, also
 * after lab up or hvnetd died halfway. vmm/ does the guests; hvnetd is only
 * reached through its control socket.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <net/if.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/lab.h"
#include "cli/lab_kernel.h"
#include "cli/mirror.h"
#include "common/ctl.h"
#include "firewall/lang/lang.h"
#include "vmm/vmm.h"

#define LABS_DIR       "/run/hvnet/labs"
#define LAB_NAME_MAX   32 /* hvnetd instance names are below 40 bytes: "lab-" + NAME */
#define PORT_NAME_MAX  31 /* hvnetd port names (HV_NAME_MAX - 1) */
#define CTL_TIMEOUT_MS 15000
#define HVNETD_START_S 30
#define HVNETD_STOP_S  5

static const char lab_usage[] =
	"Usage: hvnetctl lab up [--name NAME] [--datapath hvnetd|kernel] FILE\n"
	"       hvnetctl lab down [NAME]\n"
	"       hvnetctl lab status [NAME] [--json]\n"
	"       hvnetctl lab exec [NAME] GUEST -- CMD [ARGS...]\n"
	"       hvnetctl lab console [NAME] GUEST\n"
	"       hvnetctl lab capture [NAME] GUEST[:NIC] [-f FILTER] [-c COUNT] [-s SNAPLEN] -w FILE|-\n"
	"       hvnetctl lab graph [NAME|FILE] [--svg FILE | --png FILE]\n"
	"\n"
	"Bring a lab file's segments, guests and policy up on a private hvnetd\n"
	"(instance lab-NAME), and take them down again (docs/labs.md).\n"
	"\n"
	"  up      NAME is the file's name without its extension unless --name\n"
	"          gives one; guest G is the network namespace NAME-G (kind netns)\n"
	"          or a QEMU VM (kind qemu, booted from the image of\n"
	"          vmm/guest-image.sh, built when missing); its NIC N the hvnetd\n"
	"          port G-N. Waits until every NIC has link, showing progress.\n"
	"          On a lab whose hvnetd died: starts it again and reattaches the\n"
	"          running guests. State: " LABS_DIR "/NAME/\n"
	"          The overlay block's dev (an interface here) becomes hvnetd's\n"
	"          af_packet uplink port of the same name.\n"
	"          --datapath kernel: no hvnetd; Linux bridges (one per segment)\n"
	"          in namespace NAME.switch, a veth pair per namespace NIC, a tap\n"
	"          per VM NIC, the segments' gateways, mirrors (nft dup or tc\n"
	"          mirred) and overlay, the policy as nftables rules there, its\n"
	"          log lines to NFLOG group 1 (tcpdump -v -i nflog:1 there;\n"
	"          docs/nftables.md)\n"
	"  down    stop hvnetd and the VMs, remove the guests and the state; with\n"
	"          no NAME, the only lab that is up. Works after a crash.\n"
	"  status  every guest: kind, state, NICs, segment, MAC, addresses, link\n"
	"          (and why it is down), port counters; hvnetd alive or not\n"
	"  exec    run CMD inside GUEST; the exit status is CMD's. netns: stdin,\n"
	"          stdout, stderr inherited. qemu: over the exec channel, stdin\n"
	"          empty, output passed on as it comes\n"
	"  console attach the terminal to a QEMU guest's serial console; Ctrl-]\n"
	"          leaves\n"
	"  capture the packets of a guest NIC (the first unless :NIC), as pcap, to\n"
	"          FILE or stdout (-w -, for | tcpdump -r -); on hvnetd through\n"
	"          hvnetctl capture of its port (vhost-user NICs too), on the kernel\n"
	"          datapath tcpdump in the guest's namespace\n"
	"  graph   segments as clusters, guest NICs, an edge per allowed flow, the mirrors\n"
	"          between segments (labelled with rule ids); DOT on stdout\n"
	"\n"
	"Environment: HVNET_QEMU (QEMU binary), HVNET_GUEST_IMAGE_DIR (default\n"
	"/var/cache/hvnet/guest), HVNET_BOOT_TIMEOUT (s, default 180),\n"
	"HVNET_EXEC_TIMEOUT (s, default 300), HVNET_QEMU_MSIX=on|off.\n";

static int
lab_usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "hvnetctl: lab: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'hvnetctl lab help'.\n");
	return 2;
}

void
hv_lab_err(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "hvnetctl: lab: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void
hv_lab_progress(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

/* ---- names and the state directory ---- */

struct lab {
	char name[LAB_NAME_MAX + 1];
	char dir[128];
	char state_path[160];
	char instance[64]; /* lab-NAME */
	char socket[108];
	json_t *state; /* owned; NULL when there is none */
};

static bool
lab_name_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > LAB_NAME_MAX ||
	    !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') ||
	      (s[0] >= '0' && s[0] <= '9')))
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.'))
			return false;
	}
	return true;
}

static void
lab_init(struct lab *lab, const char *name)
{
	memset(lab, 0, sizeof(*lab));
	snprintf(lab->name, sizeof(lab->name), "%s", name);
	snprintf(lab->dir, sizeof(lab->dir), LABS_DIR "/%s", name);
	snprintf(lab->state_path, sizeof(lab->state_path), "%s/state.json", lab->dir);
	snprintf(lab->instance, sizeof(lab->instance), "lab-%s", name);
	snprintf(lab->socket, sizeof(lab->socket), "/run/hvnet/%s.sock", lab->instance);
}

/* Write the state atomically: a crash leaves the old file or the new one. */
static int
state_save(struct lab *lab)
{
	char tmp[PATH_MAX + 8];

	snprintf(tmp, sizeof(tmp), "%s.tmp", lab->state_path);
	if (json_dump_file(lab->state, tmp, JSON_INDENT(2) | JSON_SORT_KEYS) != 0) {
		hv_lab_err("cannot write %s", tmp);
		return -EIO;
	}
	if (rename(tmp, lab->state_path) != 0) {
		hv_lab_err("cannot write %s: %s", lab->state_path, strerror(errno));
		return -errno;
	}
	return 0;
}

/* 0, -ENOENT when no lab of that name is up, or another -errno */
static int
state_load(struct lab *lab)
{
	json_error_t jerr;
	struct stat st;

	if (stat(lab->dir, &st) != 0)
		return -errno;
	lab->state = json_load_file(lab->state_path, 0, &jerr);
	if (lab->state == NULL) {
		/* lab up died between mkdir and its first write: nothing else exists */
		if (access(lab->state_path, F_OK) != 0)
			return 0;
		hv_lab_err("%s: %s (line %d); remove %s by hand", lab->state_path, jerr.text,
			   jerr.line, lab->dir);
		return -EINVAL;
	}
	return 0;
}

static const char *
js(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

/* Names of the labs that are up, sorted; returns how many (at most MAX). */
static size_t
labs_list(char names[][LAB_NAME_MAX + 1], size_t max)
{
	DIR *d = opendir(LABS_DIR);
	struct dirent *e;
	size_t n = 0;

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL && n < max) {
		if (e->d_name[0] == '.' || !lab_name_valid(e->d_name))
			continue;
		memcpy(names[n], e->d_name, strlen(e->d_name) + 1); /* valid: fits */
		n++;
	}
	closedir(d);
	qsort(names, n, LAB_NAME_MAX + 1, (int (*)(const void *, const void *))strcmp);
	return n;
}

/* NAME given: that lab; none: the only lab that is up. 0 or 1 (printed). */
static int
lab_pick(const char *name, const char *what, struct lab *lab)
{
	char names[64][LAB_NAME_MAX + 1];
	size_t n;

	if (name != NULL) {
		if (!lab_name_valid(name)) {
			hv_lab_err("'%s' is not a lab name", name);
			return 1;
		}
		lab_init(lab, name);
		return 0;
	}
	n = labs_list(names, 64);
	if (n == 1) {
		lab_init(lab, names[0]);
		return 0;
	}
	if (n == 0) {
		hv_lab_err("%s: no lab is up (hvnetctl lab up FILE starts one)", what);
		return 1;
	}
	fprintf(stderr, "hvnetctl: lab %s: %zu labs are up; name one:", what, n);
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, " %s", names[i]);
	fputc('\n', stderr);
	return 1;
}

/* ---- hvnetd: start, find, stop ---- */

/* true when PID runs (not a zombie) */
static bool
pid_alive(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	size_t n;

	if (pid <= 0)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p != NULL && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

/* true when PID is an hvnetd started with --instance INSTANCE */
static bool
pid_is_hvnetd(pid_t pid, const char *instance)
{
	char path[64], buf[4096];
	ssize_t n;
	int fd;
	bool named = false, is_hvnetd;
	const char *a, *prev = "";

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	a = strrchr(buf, '/');
	is_hvnetd = strcmp(a ? a + 1 : buf, "hvnetd") == 0;
	for (a = buf; a < buf + n; a += strlen(a) + 1) {
		if (strcmp(prev, "--instance") == 0 && strcmp(a, instance) == 0)
			named = true;
		if (strncmp(a, "--instance=", 11) == 0 && strcmp(a + 11, instance) == 0)
			named = true;
		prev = a;
	}
	return is_hvnetd && named && pid_alive(pid);
}

/* The hvnetd of INSTANCE: the recorded pid if it still is one, else a scan
 * of /proc (lab up may have died before it recorded the pid). 0: none. */
static pid_t
hvnetd_find(const char *instance, pid_t recorded)
{
	if (recorded > 0 && pid_is_hvnetd(recorded, instance))
		return recorded;
	return hv_proc_find(pid_is_hvnetd, instance);
}

/* hvnetd next to this hvnetctl (BUILD/cli/hvnetctl -> BUILD/vswitch/hvnetd),
 * else $HVNET_HVNETD, else hvnetd from PATH */
static void
hvnetd_path(char *out, size_t size)
{
	const char *env = getenv("HVNET_HVNETD");

	if (env != NULL && env[0] != '\0')
		snprintf(out, size, "%s", env);
	else if (!hv_path_beside_self("../vswitch/hvnetd", out, size))
		snprintf(out, size, "hvnetd");
}

/* SIGTERM, then SIGKILL after HVNETD_STOP_S. true when it was killed hard. */
static bool
hvnetd_stop(pid_t pid)
{
	kill(pid, SIGTERM);
	for (int i = 0; i < HVNETD_STOP_S * 20; i++) {
		if (!pid_alive(pid))
			return false;
		usleep(50000);
	}
	kill(pid, SIGKILL);
	for (int i = 0; i < 100 && pid_alive(pid); i++)
		usleep(50000);
	return true;
}

/* What a dead hvnetd leaves: its socket, DPDK's runtime directory. */
static void
hvnetd_leftovers_remove(const struct lab *lab)
{
	char dir[PATH_MAX];
	DIR *d;
	struct dirent *e;

	unlink(lab->socket);
	snprintf(dir, sizeof(dir), "/var/run/dpdk/hvnet-%s", lab->instance);
	d = opendir(dir);
	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		char p[PATH_MAX + 256];

		if (e->d_name[0] == '.' && (e->d_name[1] == '\0' || strcmp(e->d_name, "..") == 0))
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		unlink(p);
	}
	closedir(d);
	rmdir(dir);
}

static void
log_tail(const char *path, int lines)
{
	char buf[16384];
	FILE *f = fopen(path, "r");
	size_t n;
	long at;
	const char *p;

	if (f == NULL)
		return;
	fseek(f, 0, SEEK_END);
	at = ftell(f);
	at = at > (long)sizeof(buf) - 1 ? at - (long)sizeof(buf) + 1 : 0;
	fseek(f, at, SEEK_SET);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = buf + n;
	while (p > buf && lines >= 0) {
		p--;
		if (*p == '\n' && p + 1 < buf + n)
			lines--;
	}
	if (*p == '\n')
		p++;
	fprintf(stderr, "--- %s (last lines)\n%s", path, p);
}

/* ---- the control socket ---- */

/* one request; 0 with *result (caller decrefs) or -errno, with the daemon's
 * message and hint printed */
static int
ctl(int fd, const char *cmd, json_t *args, json_t **result, const char *what)
{
	json_t *reply = NULL, *err;
	int rc = hv_ctl_call(fd, cmd, args, CTL_TIMEOUT_MS, &reply);

	if (rc != 0) {
		hv_lab_err("%s: %s: %s", what, cmd,
			   rc == -ETIMEDOUT ? "no reply from hvnetd (timed out)" : strerror(-rc));
		return rc;
	}
	if (!json_is_true(json_object_get(reply, "ok"))) {
		err = json_object_get(reply, "error");
		hv_lab_err("%s: hvnetd refused %s: %s", what, cmd, js(err, "message"));
		if (json_is_string(json_object_get(err, "hint")))
			fprintf(stderr, "  hint: %s\n", js(err, "hint"));
		rc = (int)json_integer_value(json_object_get(err, "errno"));
		json_decref(reply);
		return rc > 0 ? -rc : -EIO;
	}
	if (result != NULL)
		*result = json_incref(json_object_get(reply, "result"));
	json_decref(reply);
	return 0;
}

/* ---- teardown: lab down, and the rollback of lab up ---- */

/* Remove everything the state records, and the state. 0 when all went. */
static int
lab_teardown(struct lab *lab, bool verbose)
{
	json_t *guests = json_object_get(lab->state, "guests");
	pid_t recorded = (pid_t)json_integer_value(json_object_get(lab->state, "hvnetd_pid"));
	pid_t pid;
	int failed = 0;
	char err[512];

	pid = hvnetd_find(lab->instance, recorded);
	if (pid > 0) {
		bool hard = hvnetd_stop(pid);

		if (pid_alive(pid)) {
			hv_lab_err(
				"hvnetd %s (pid %d) does not stop; kill it and run lab down again",
				lab->instance, (int)pid);
			return -EBUSY;
		}
		if (verbose)
			hv_lab_progress("hvnetd %s (pid %d): stopped%s", lab->instance, (int)pid,
					hard ? " with SIGKILL (it ignored SIGTERM for 5 s)" : "");
	} else if (verbose && recorded > 0) {
		hv_lab_progress("hvnetd %s (pid %d): not running", lab->instance, (int)recorded);
	}
	hvnetd_leftovers_remove(lab);

	/* guests in the reverse order of their creation */
	for (size_t i = json_array_size(guests); i-- > 0;) {
		json_t *g = json_array_get(guests, i);
		const struct hv_vmm_kind *kind = hv_vmm_kind_find(js(g, "kind"));
		const char *inst = js(g, "instance");
		bool was = kind && kind->running(inst, lab->dir);

		if (kind == NULL) {
			hv_lab_err("guest %s: unknown kind '%s' in %s; remove it by hand",
				   js(g, "name"), js(g, "kind"), lab->state_path);
			failed++;
			continue;
		}
		if (kind->destroy(inst, lab->dir, err, sizeof(err)) != 0) {
			hv_lab_err("guest %s: %s", js(g, "name"), err);
			failed++;
			continue;
		}
		if (verbose)
			hv_lab_progress("guest %s: %s %s %s", js(g, "name"),
					strcmp(js(g, "kind"), "netns") == 0 ? "namespace" : "QEMU",
					inst, was ? "removed" : "was already gone");
	}
	/* a kernel-datapath lab: its switch namespace (bridges, nftables) */
	if (hv_lab_kernel_teardown(lab->state, verbose) != 0)
		failed++;
	if (failed) {
		hv_lab_err("%d guest%s could not be removed; %s is kept for another lab down",
			   failed, failed == 1 ? "" : "s", lab->dir);
		return -EIO;
	}
	/* the state directory: our files only */
	DIR *d = opendir(lab->dir);
	if (d != NULL) {
		struct dirent *e;

		while ((e = readdir(d)) != NULL) {
			char p[PATH_MAX + 256];

			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
				continue;
			snprintf(p, sizeof(p), "%s/%s", lab->dir, e->d_name);
			unlink(p);
		}
		closedir(d);
	}
	if (rmdir(lab->dir) != 0 && errno != ENOENT) {
		hv_lab_err("cannot remove %s: %s", lab->dir, strerror(errno));
		return -errno;
	}
	return 0;
}

/* ---- lab up ---- */

static json_t *ports_by_name(struct lab *lab, bool *alive);

/* One guest of the file, resolved for vmm/ */
struct up_guest {
	const struct hv_guest *g;
	const struct hv_vmm_kind *kind;
	char instance[NAME_MAX + 1];
	struct hv_vmm_guest vg;
	struct hv_vmm_nic *nics;
	char (*ports)[PORT_NAME_MAX + 1];
	char (*taps)[IFNAMSIZ];
	struct hv_prefix **ips;
};

static void
up_guests_free(struct up_guest *ug, size_t n)
{
	for (size_t i = 0; i < n && ug; i++) {
		for (size_t j = 0; j < ug[i].g->nics.n && ug[i].ips; j++)
			free(ug[i].ips[j]);
		free(ug[i].ips);
		free(ug[i].nics);
		free(ug[i].ports);
		free(ug[i].taps);
	}
	free(ug);
}

static void
fmt_mac(const uint8_t *m, char *buf, size_t size)
{
	snprintf(buf, size, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

static char *
loc_str(const struct hv_loc *loc, char *buf, size_t size)
{
	snprintf(buf, size, "%s:%u:%u", hv_src_path(loc->src), loc->line, loc->col);
	return buf;
}

/* Resolve every guest before anything is created: kinds, names that must
 * fit, default routes. 0, or 1 with what is wrong printed. */
static int
up_resolve(const struct lab *lab, const struct hv_prog *prog, struct up_guest **out)
{
	struct up_guest *ug = calloc(prog->guests.n + 1, sizeof(*ug));
	char where[PATH_MAX + 32];
	int bad = 0;

	*out = ug;
	if (ug == NULL)
		return 1;
	for (size_t i = 0; i < prog->guests.n; i++) {
		const struct hv_guest *g = &prog->guests.v[i];
		struct up_guest *u = &ug[i];

		u->g = g;
		u->kind = hv_vmm_kind_of(g->kind);
		if (u->kind == NULL) {
			hv_lab_err(
				"%s: guest %s: its kind is not supported by lab up; nothing was created",
				loc_str(&g->loc, where, sizeof(where)), g->name);
			bad++;
			continue;
		}
		if ((size_t)snprintf(u->instance, sizeof(u->instance), "%s-%s", lab->name,
				     g->name) >= sizeof(u->instance)) {
			hv_lab_err("%s: guest %s: the namespace name %s-%s is too long",
				   loc_str(&g->loc, where, sizeof(where)), g->name, lab->name,
				   g->name);
			bad++;
			continue;
		}
		u->nics = calloc(g->nics.n, sizeof(*u->nics));
		u->ports = calloc(g->nics.n, sizeof(*u->ports));
		u->taps = calloc(g->nics.n, sizeof(*u->taps));
		u->ips = calloc(g->nics.n, sizeof(*u->ips));
		if (!u->nics || !u->ports || !u->taps || !u->ips) {
			hv_lab_err("out of memory");
			return 1;
		}
		for (size_t j = 0; j < g->nics.n; j++) {
			const struct hv_nic *n = &g->nics.v[j];
			const struct hv_segment *seg = &prog->segments.v[n->seg_id];
			struct hv_vmm_nic *vn = &u->nics[j];

			if ((size_t)snprintf(u->ports[j], sizeof(u->ports[j]), "%s-%s", g->name,
					     n->name) >= sizeof(u->ports[j])) {
				hv_lab_err(
					"%s: guest %s, nic %s: the port name %s-%s is longer than %d bytes; shorten the guest or nic name",
					loc_str(&n->loc, where, sizeof(where)), g->name, n->name,
					g->name, n->name, PORT_NAME_MAX);
				bad++;
				continue;
			}
			if (strlen(n->name) >= IFNAMSIZ) {
				hv_lab_err(
					"%s: guest %s: nic name %s is longer than %d bytes, the limit of an interface name",
					loc_str(&n->loc, where, sizeof(where)), g->name, n->name,
					IFNAMSIZ - 1);
				bad++;
				continue;
			}
			vn->name = n->name;
			vn->port = u->ports[j];
			vn->segment = seg->name;
			vn->tap = u->taps[j];
			vn->has_mac = n->has_mac;
			memcpy(vn->mac, n->mac, 6);
			/* a VM's NIC gets its MAC from QEMU: the same one every time */
			if (!vn->has_mac && g->kind == HV_GUEST_QEMU) {
				hv_qemu_mac_derive(u->instance, n->name, vn->mac);
				vn->has_mac = true;
			}
			vn->mtu = n->mtu ? n->mtu : seg->mtu;
			u->ips[j] = calloc(n->ips.n + 1, sizeof(struct hv_prefix));
			if (u->ips[j] == NULL) {
				hv_lab_err("out of memory");
				return 1;
			}
			for (size_t k = 0; k < n->ips.n; k++)
				u->ips[j][k] = n->ips.v[k].p;
			vn->ips = u->ips[j];
			vn->n_ips = n->ips.n;
			hv_vmm_nic_gateways(seg, n, &vn->gw4, &vn->gw6);
		}
		u->vg = (struct hv_vmm_guest){.name = g->name,
					      .instance = u->instance,
					      .state_dir = lab->dir,
					      .nics = u->nics,
					      .n_nics = g->nics.n,
					      .memory = g->memory,
					      .cpus = g->cpus,
					      .image = g->image};
		if (g->kind == HV_GUEST_QEMU && bad == 0) {
			/* everything QEMU will be given, checked now */
			struct hv_qemu_conf conf;
			char err[512];
			char **argv;

			memset(&conf, 0, sizeof(conf));
			snprintf(conf.qemu, sizeof(conf.qemu), "qemu");
			snprintf(conf.image_dir, sizeof(conf.image_dir), "/");
			argv = hv_qemu_argv(&conf, &u->vg, err, sizeof(err));
			if (argv == NULL) {
				hv_lab_err("%s: %s", loc_str(&g->loc, where, sizeof(where)), err);
				bad++;
			}
			hv_qemu_argv_free(argv);
		}
	}
	return bad ? 1 : 0;
}

json_t *
hv_lab_guest_json(const char *name, const char *kind, const char *instance,
		  const struct hv_vmm_nic *nics, size_t n_nics)
{
	json_t *a = json_array();

	for (size_t j = 0; j < n_nics; j++) {
		const struct hv_vmm_nic *n = &nics[j];
		json_t *ips = json_array();
		char buf[64];

		for (size_t k = 0; k < n->n_ips; k++) {
			hv_prefix_format(&n->ips[k], buf, sizeof(buf));
			json_array_append_new(ips, json_string(buf));
		}
		json_t *o = json_pack("{s:s, s:s, s:s, s:i, s:o}", "name", n->name, "port", n->port,
				      "segment", n->segment, "mtu", (int)n->mtu, "ips", ips);
		if (n->has_mac) {
			fmt_mac(n->mac, buf, sizeof(buf));
			json_object_set_new(o, "mac", json_string(buf));
		}
		json_array_append_new(a, o);
	}
	return json_pack("{s:s, s:s, s:s, s:o}", "name", name, "kind", kind, "instance", instance,
			 "nics", a);
}

static int
up_wait_hvnetd(struct lab *lab, pid_t pid, const char *log, int *fdp)
{
	time_t start = time(NULL), last = start;

	hv_lab_progress("hvnetd %s (pid %d): starting, log %s", lab->instance, (int)pid, log);
	for (;;) {
		int fd = hv_ctl_connect(lab->socket);

		if (fd >= 0) {
			json_t *res = NULL;
			json_t *reply = NULL;

			if (hv_ctl_call(fd, "version", NULL, 1000, &reply) == 0 &&
			    json_is_true(json_object_get(reply, "ok"))) {
				res = json_object_get(reply, "result");
				hv_lab_progress(
					"hvnetd %s: up after %lds, socket %s, %d worker%s",
					lab->instance, (long)(time(NULL) - start), lab->socket,
					(int)json_integer_value(json_object_get(res, "workers")),
					json_integer_value(json_object_get(res, "workers")) == 1
						? ""
						: "s");
				json_decref(reply);
				*fdp = fd;
				return 0;
			}
			json_decref(reply);
			close(fd);
		}
		if (!pid_alive(pid)) {
			hv_lab_err("hvnetd %s exited while starting", lab->instance);
			log_tail(log, 15);
			return -ECHILD;
		}
		if (time(NULL) - start >= HVNETD_START_S) {
			hv_lab_err("hvnetd %s did not answer on %s within %d s", lab->instance,
				   lab->socket, HVNETD_START_S);
			log_tail(log, 15);
			return -ETIMEDOUT;
		}
		if (time(NULL) - last >= 3) {
			last = time(NULL);
			hv_lab_progress("  waiting for hvnetd (%lds)", (long)(last - start));
		}
		usleep(100000);
	}
}

/* The guest NIC that lab up attaches as the hvnetd port PORT (named
 * GUEST-NIC), with its guest in *GP; NULL when PORT is no NIC of the file. */
static const struct hv_nic *
lab_port_nic(const struct hv_prog *prog, const char *port, const struct hv_guest **gp)
{
	for (size_t gi = 0; gi < prog->guests.n; gi++) {
		const struct hv_guest *g = &prog->guests.v[gi];
		size_t gl = strlen(g->name);

		if (strncmp(port, g->name, gl) != 0 || port[gl] != '-')
			continue;
		for (size_t j = 0; j < g->nics.n; j++) {
			if (strcmp(port + gl + 1, g->nics.v[j].name) == 0) {
				*gp = g;
				return &g->nics.v[j];
			}
		}
	}
	return NULL;
}

/* A mirror destination in words: "pcapng FILE", "port P (guest G's NIC N)",
 * "collector ADDR vxlan VNI" */
static void
describe_mirror_dest(const struct hv_prog *prog, const struct hv_mirror_dest *d, char *buf,
		     size_t size)
{
	const struct hv_guest *g = NULL;
	const struct hv_nic *nic;
	char p[64];

	switch (d->kind) {
	case HV_DEST_PCAP:
		snprintf(buf, size, "pcapng %s", d->path);
		break;
	case HV_DEST_PORT:
		nic = lab_port_nic(prog, d->port, &g);
		if (nic != NULL)
			snprintf(buf, size, "port %s (guest %s's NIC %s)", d->port, g->name,
				 nic->name);
		else
			snprintf(buf, size, "port %s", d->port);
		break;
	case HV_DEST_REMOTE:
		hv_prefix_format(&d->remote, p, sizeof(p));
		snprintf(buf, size, "collector %s %s %u", p, d->erspan ? "erspan" : "vxlan",
			 d->remote_id);
		break;
	}
}

/* What a mirror selects, in words: "segments app, infra; verdict blocked;
 * filter "..."" */
static void
describe_mirror(const struct hv_mirror *m, char *buf, size_t size)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < m->segments.n && n < size; i++)
		n += (size_t)snprintf(buf + n, size - n, "%s%s", i ? ", " : "segments ",
				      m->segments.v[i].name);
	for (size_t i = 0; i < m->ports.n && n < size; i++)
		n += (size_t)snprintf(buf + n, size - n, "%s%s",
				      i	  ? ", "
				      : n ? "; ports "
					  : "ports ",
				      m->ports.v[i].name);
	if (m->segments.n == 0 && m->ports.n == 0 && n < size)
		n += (size_t)snprintf(buf + n, size - n, "every port");
	if (m->dir != HV_DIR_BOTH && n < size)
		n += (size_t)snprintf(buf + n, size - n, "; %s",
				      m->dir == HV_DIR_INGRESS ? "ingress" : "egress");
	if (m->verdict != HV_VERDICT_ANY && n < size)
		n += (size_t)snprintf(buf + n, size - n, "; verdict %s",
				      m->verdict == HV_VERDICT_ALLOWED ? "allowed" : "blocked");
	if (m->filter != NULL && n < size)
		snprintf(buf + n, size - n, "; filter \"%s\"", m->filter);
}

static void
describe_segment(const struct hv_segment *s, char *buf, size_t size)
{
	size_t n = 0;
	char p[64];

	n += (size_t)snprintf(buf + n, size - n, "%s", hv_class_name(s->cls));
	for (size_t i = 0; i < s->subnets.n && n < size; i++) {
		hv_prefix_format(&s->subnets.v[i].p, p, sizeof(p));
		n += (size_t)snprintf(buf + n, size - n, "%s%s", i ? ", " : "; subnet ", p);
	}
	for (size_t i = 0; i < s->gateways.n && n < size; i++) {
		hv_prefix_format(&s->gateways.v[i].p, p, sizeof(p));
		n += (size_t)snprintf(buf + n, size - n, "%s%s", i ? ", " : "; gateway ", p);
	}
}

/* Create, attach and start one guest. RECOVER: the guest is in the state
 * already (hvnetd died and is back): what still runs is only attached. */
static int
up_guest(struct lab *lab, int fd, struct up_guest *u, size_t *nic_seq, pid_t hvnetd, bool recover)
{
	bool running = recover && u->kind->running(u->instance, lab->dir);
	bool vm = u->g->kind == HV_GUEST_QEMU;
	char err[512];
	int rc = 0;

	/* recorded first: a crash from here on leaves lab down something to remove */
	if (!recover) {
		json_array_append_new(json_object_get(lab->state, "guests"),
				      hv_lab_guest_json(u->g->name, u->kind->name, u->instance,
							u->nics, u->vg.n_nics));
		rc = state_save(lab);
		if (rc != 0)
			return rc;
	}
	if (!running)
		rc = u->kind->create(&u->vg, err, sizeof(err));
	if (rc != 0) {
		hv_lab_err("guest %s: %s", u->g->name, err);
		if (rc == -EEXIST && !recover) {
			/* not ours: lab down must not remove it */
			json_t *gs = json_object_get(lab->state, "guests");
			json_array_remove(gs, json_array_size(gs) - 1);
			state_save(lab);
		}
		return rc;
	}
	for (size_t j = 0; j < u->vg.n_nics; j++) {
		struct hv_vmm_nic *n = &u->nics[j];
		struct hv_vmm_port_spec spec;
		json_t *opts, *args;
		char what[128];

		/* the tap's name before the move must be unique on the host: the
		 * hvnetd pid makes it so */
		snprintf(u->taps[j], IFNAMSIZ, "hl%d-%zu", (int)hvnetd % 10000000, (*nic_seq)++);
		rc = u->kind->port_spec(&u->vg, n, &spec, err, sizeof(err));
		if (rc != 0) {
			hv_lab_err("%s", err);
			return rc;
		}
		opts = json_object();
		for (size_t k = 0; k < spec.n_opts; k++)
			json_object_set_new(opts, spec.opts[k].key,
					    json_string(spec.opts[k].value));
		args = json_pack("{s:s, s:s, s:s, s:o}", "name", n->port, "kind", spec.kind,
				 "segment", n->segment, "options", opts);
		snprintf(what, sizeof(what), "guest %s, nic %s", u->g->name, n->name);
		rc = ctl(fd, "port.add", args, NULL, what);
		if (rc != 0)
			return rc;
	}
	/* a running VM only needs its ports back; a namespace needs its taps
	 * configured again (they died with the old hvnetd) */
	if (!(running && vm))
		rc = u->kind->start(&u->vg, err, sizeof(err));
	if (rc != 0) {
		hv_lab_err("guest %s: %s", u->g->name, err);
		return rc;
	}
	for (size_t j = 0; j < u->vg.n_nics; j++) {
		const struct hv_vmm_nic *n = &u->nics[j];
		struct hv_vmm_link link;
		char line[1024], a[64];
		size_t len = 0;

		/* a tap has carrier once hvnetd's queue is open; give it a moment
		 * (a VM's link comes later: lab up waits for all of them at the end) */
		for (int t = 0; t < 50 && !vm; t++) {
			if (u->kind->link_status(u->instance, lab->dir, n->name, &link, err,
						 sizeof(err)) != 0)
				memset(&link, 0, sizeof(link));
			if (link.carrier)
				break;
			usleep(100000);
		}
		if (vm)
			memset(&link, 0, sizeof(link));
		fmt_mac(vm ? n->mac : link.mac, a, sizeof(a));
		len += (size_t)snprintf(line + len, sizeof(line) - len, "guest %s: %s %s, %s %s",
					u->g->name, vm ? "QEMU" : "namespace", u->instance, n->name,
					a);
		for (size_t k = 0; k < n->n_ips && len < sizeof(line); k++) {
			hv_prefix_format(&n->ips[k], a, sizeof(a));
			len += (size_t)snprintf(line + len, sizeof(line) - len, ", %s", a);
		}
		if (len < sizeof(line) && n->mtu)
			len += (size_t)snprintf(line + len, sizeof(line) - len, ", mtu %u", n->mtu);
		if (len < sizeof(line) && (n->gw4.family || n->gw6.family)) {
			len += (size_t)snprintf(line + len, sizeof(line) - len, ", default via");
			if (n->gw4.family) {
				hv_prefix_format(&n->gw4, a, sizeof(a));
				len += (size_t)snprintf(line + len, sizeof(line) - len, " %s", a);
			}
			if (n->gw6.family && len < sizeof(line)) {
				hv_prefix_format(&n->gw6, a, sizeof(a));
				len += (size_t)snprintf(line + len, sizeof(line) - len, " %s", a);
			}
		}
		if (len < sizeof(line))
			snprintf(line + len, sizeof(line) - len, "; segment %s, port %s%s",
				 n->segment, n->port,
				 vm		? (running ? " (reattached)" : "")
				 : link.carrier ? ""
						: " (no link yet)");
		hv_lab_progress("%s", line);
	}
	return 0;
}

/* The image recipe: $HVNET_GUEST_IMAGE_SCRIPT, else BUILD/vmm/guest-image.sh
 * next to this hvnetctl (BUILD/cli/hvnetctl), else the installed one. */
static void
image_script_path(char *out, size_t size)
{
	static const char *const installed[] = {"/usr/local/libexec/hvnet/guest-image.sh",
						"/usr/libexec/hvnet/guest-image.sh"};
	const char *env = getenv("HVNET_GUEST_IMAGE_SCRIPT");

	if (env != NULL && env[0] != '\0') {
		snprintf(out, size, "%s", env);
		return;
	}
	if (hv_path_beside_self("../vmm/guest-image.sh", out, size))
		return;
	for (size_t i = 0; i < sizeof(installed) / sizeof(installed[0]); i++) {
		snprintf(out, size, "%s", installed[i]);
		if (access(out, X_OK) == 0)
			return;
	}
}

/* Before anything is created: QEMU can run, and the guest image is built
 * (or rebuilt when stale). 0, or 1 with what is wrong printed. */
static int
up_qemu_prepare(const struct hv_prog *prog)
{
	struct hv_qemu_conf conf;
	char script[PATH_MAX];
	bool need_image = false, any = false;
	int status;
	pid_t pid;

	for (size_t i = 0; i < prog->guests.n; i++) {
		if (prog->guests.v[i].kind != HV_GUEST_QEMU)
			continue;
		any = true;
		need_image |= prog->guests.v[i].image == NULL;
	}
	if (!any)
		return 0;
	hv_qemu_conf_default(&conf);
	if (conf.version < 0) {
		hv_lab_err(
			"QEMU (%s) cannot be run: apt-get install qemu-system-x86, or set HVNET_QEMU; nothing was created",
			conf.qemu);
		return 1;
	}
	hv_lab_progress("QEMU guests: %s (version %d), %s%s", conf.qemu, conf.version,
			conf.kvm ? "KVM" : "TCG (no /dev/kvm: slow, fine for tests)",
			conf.msix_workaround
				? ", vectors=0 on vhost-user NICs (QEMU < 8 crashes with MSI-X)"
				: "");
	if (!need_image)
		return 0;
	image_script_path(script, sizeof(script));
	if (access(script, X_OK) != 0) {
		hv_lab_err(
			"the guest image recipe guest-image.sh is not found (%s; set HVNET_GUEST_IMAGE_SCRIPT); nothing was created",
			script);
		return 1;
	}
	hv_lab_progress("guest image: %s (%s)", conf.image_dir, script);
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		signal(SIGPIPE, SIG_DFL);
		execl("/bin/sh", "sh", script, conf.image_dir, (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		hv_lab_err("the guest image could not be built (%s %s); nothing was created",
			   script, conf.image_dir);
		return 1;
	}
	return 0;
}

int
hv_lab_qemu_prepare(const struct hv_prog *prog)
{
	return up_qemu_prepare(prog);
}

/* Wait until every QEMU guest's NICs have link in hvnetd and its init
 * answers on the exec channel, all of them at once (they boot in parallel),
 * with a line every 3 s. 0 or -errno (printed, with the guest's logs). */
static int
up_wait_vms(struct lab *lab, struct up_guest *ug, size_t n)
{
	const char *t = getenv("HVNET_BOOT_TIMEOUT");
	int limit = t && atoi(t) > 0 ? atoi(t) : 180;
	time_t start = time(NULL), last = start;
	bool *linked = calloc(n + 1, 1), *ready = calloc(n + 1, 1);
	char dir[PATH_MAX], path[PATH_MAX + 16];
	size_t pending = 0;
	int rc = 0;

	if (linked == NULL || ready == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		ready[i] = ug[i].g->kind != HV_GUEST_QEMU;
		pending += !ready[i];
	}
	while (pending > 0) {
		bool alive;
		json_t *ports = ports_by_name(lab, &alive);

		for (size_t i = 0; i < n; i++) {
			struct up_guest *u = &ug[i];

			if (ready[i])
				continue;
			hv_qemu_dir(u->instance, lab->dir, dir, sizeof(dir));
			if (!u->kind->running(u->instance, lab->dir)) {
				hv_lab_err("guest %s: QEMU exited while booting", u->g->name);
				snprintf(path, sizeof(path), "%s/qemu.log", dir);
				log_tail(path, 10);
				snprintf(path, sizeof(path), "%s/console.log", dir);
				log_tail(path, 10);
				rc = -ECHILD;
				break;
			}
			if (!linked[i]) {
				linked[i] = alive;
				for (size_t j = 0; j < u->vg.n_nics; j++) {
					json_t *p = json_object_get(ports, u->nics[j].port);

					linked[i] &= p != NULL && strcmp(js(p, "state"), "up") == 0;
				}
			}
			if (linked[i] && hv_qemu_ready(u->instance, lab->dir, 2000) == 0) {
				ready[i] = true;
				pending--;
				hv_lab_progress(
					"%s: up after %ld s: link on %zu NIC%s, exec channel answers",
					u->g->name, (long)(time(NULL) - start), u->vg.n_nics,
					u->vg.n_nics == 1 ? "" : "s");
			}
		}
		json_decref(ports);
		if (rc != 0 || pending == 0)
			break;
		if (time(NULL) - start >= limit) {
			for (size_t i = 0; i < n; i++) {
				if (ready[i])
					continue;
				hv_qemu_dir(ug[i].instance, lab->dir, dir, sizeof(dir));
				hv_lab_err(
					"guest %s: %s within %d s (HVNET_BOOT_TIMEOUT); its console: %s/console.log",
					ug[i].g->name,
					linked[i] ? "no answer on the exec channel"
						  : "no link on its NICs",
					limit, dir);
				snprintf(path, sizeof(path), "%s/console.log", dir);
				log_tail(path, 10);
			}
			rc = -ETIMEDOUT;
			break;
		}
		if (time(NULL) - last >= 3) {
			char line[512];
			size_t len = 0;

			last = time(NULL);
			for (size_t i = 0; i < n && len < sizeof(line); i++)
				if (!ready[i])
					len += (size_t)snprintf(
						line + len, sizeof(line) - len, "%s%s: %s",
						len ? ", " : "", ug[i].g->name,
						linked[i] ? "link up, init starting" : "booting");
			hv_lab_progress("%s (%ld s)...", line, (long)(last - start));
		}
		usleep(200000);
	}
out:
	free(linked);
	free(ready);
	return rc;
}

static bool
state_has_guest(struct lab *lab, const char *name)
{
	json_t *g;
	size_t i;

	json_array_foreach(json_object_get(lab->state, "guests"), i, g) {
		if (strcmp(js(g, "name"), name) == 0)
			return true;
	}
	return false;
}

/* The guests of the state that do not run: *N_QEMU of them QEMU guests,
 * *N_OTHER of other kinds. */
static void
state_dead_guests(struct lab *lab, size_t *n_qemu, size_t *n_other)
{
	json_t *g;
	size_t i;

	*n_qemu = *n_other = 0;
	json_array_foreach(json_object_get(lab->state, "guests"), i, g) {
		const struct hv_vmm_kind *k = hv_vmm_kind_find(js(g, "kind"));

		if (k == NULL || k->running(js(g, "instance"), lab->dir))
			continue;
		if (strcmp(js(g, "kind"), "qemu") == 0)
			(*n_qemu)++;
		else
			(*n_other)++;
	}
}

/* lab up on a lab whose state exists. 0: its hvnetd died and lab up brings
 * it back (lab->state loaded); 2: its hvnetd runs, and QEMU guests that
 * exited are to be started again (lab->state loaded); 1: nothing to do or
 * not possible (printed). */
static int
up_recover_check(struct lab *lab, const char *abs)
{
	size_t dead_qemu, dead_other;
	pid_t pid;

	if (state_load(lab) != 0 || lab->state == NULL) {
		hv_lab_err(
			"a lab named %s is being set up or taken down (state in %s); wait, or: hvnetctl lab down %s",
			lab->name, lab->dir, lab->name);
		return 1;
	}
	pid = hvnetd_find(lab->instance,
			  (pid_t)json_integer_value(json_object_get(lab->state, "hvnetd_pid")));
	if (pid > 0 && strcmp(js(lab->state, "phase"), "up") == 0 &&
	    strcmp(js(lab->state, "file"), abs) == 0) {
		state_dead_guests(lab, &dead_qemu, &dead_other);
		if (dead_qemu > 0 && dead_other == 0) {
			hv_lab_progress(
				"lab %s: hvnetd lab-%s (pid %d) runs; %zu QEMU guest%s exited: starting %s again",
				lab->name, lab->name, (int)pid, dead_qemu,
				dead_qemu == 1 ? "" : "s", dead_qemu == 1 ? "it" : "them");
			return 2;
		}
	}
	if (pid > 0 || strcmp(js(lab->state, "phase"), "up") != 0) {
		if (pid > 0) {
			json_t *g;
			size_t i;

			hv_lab_err(
				"lab %s is up already (hvnetd pid %d); nothing changed. To start it again: hvnetctl lab down %s",
				lab->name, (int)pid, lab->name);
			/* what lab up cannot mend while hvnetd runs */
			json_array_foreach(json_object_get(lab->state, "guests"), i, g) {
				const struct hv_vmm_kind *k = hv_vmm_kind_find(js(g, "kind"));

				if (k != NULL && !k->running(js(g, "instance"), lab->dir))
					fprintf(stderr,
						"  guest %s is not running (%s); lab down and lab up start it again\n",
						js(g, "name"),
						strcmp(js(g, "kind"), "qemu") == 0
							? "its QEMU exited; lab up restarts a QEMU guest only when every other guest runs"
							: "its namespace is gone");
			}
		} else
			hv_lab_err(
				"lab %s never came up completely (phase %s); take it down first with: hvnetctl lab down %s",
				lab->name, js(lab->state, "phase"), lab->name);
		return 1;
	}
	if (strcmp(js(lab->state, "file"), abs) != 0) {
		hv_lab_err(
			"lab %s runs from %s, not %s; its hvnetd is down: hvnetctl lab up --name %s %s brings it back, or lab down %s",
			lab->name, js(lab->state, "file"), abs, lab->name, js(lab->state, "file"),
			lab->name);
		return 1;
	}
	hv_lab_progress(
		"lab %s: hvnetd %s is not running; starting it again and reattaching the guests",
		lab->name, lab->instance);
	return 0;
}

/* lab up on a lab whose hvnetd runs but some of whose QEMU guests exited:
 * start those again, with the same command line and directory, and wait for
 * them as for a first boot. Their vhost-user ports never left hvnetd (client
 * mode: it connects again once the new QEMU listens), so each NIC keeps its
 * segment, policy, mirrors and counters. 0, or 1 (printed; the guests are
 * left as they are). */
static int
up_restart_vms(struct lab *lab, struct up_guest *ug, size_t n)
{
	size_t started = 0;
	char err[512];
	int rc;

	for (size_t i = 0; i < n; i++) {
		struct up_guest *u = &ug[i];

		if (u->g->kind != HV_GUEST_QEMU || !state_has_guest(lab, u->g->name) ||
		    u->kind->running(u->instance, lab->dir))
			continue;
		rc = u->kind->create(&u->vg, err, sizeof(err));
		if (rc == 0)
			rc = u->kind->start(&u->vg, err, sizeof(err));
		if (rc != 0) {
			hv_lab_err("guest %s: %s; run lab up again, or lab down %s", u->g->name,
				   err, lab->name);
			return 1;
		}
		started++;
		hv_lab_progress("guest %s: QEMU %s started again; its port%s in hvnetd: %s%s",
				u->g->name, u->instance, u->vg.n_nics == 1 ? "" : "s",
				u->vg.n_nics ? u->nics[0].port : "-",
				u->vg.n_nics > 1 ? ", ..." : "");
	}
	if (up_wait_vms(lab, ug, n) != 0) {
		hv_lab_err(
			"lab up %s: a QEMU guest did not come back; run lab up again, or lab down %s",
			lab->name, lab->name);
		return 1;
	}
	hv_lab_progress(
		"lab %s is up again: %zu QEMU guest%s restarted, hvnetd kept its ports, policy and mirrors",
		lab->name, started, started == 1 ? "" : "s");
	return 0;
}

static int
cmd_up(int argc, char **argv)
{
	const char *file = NULL, *name = NULL, *datapath = "hvnetd";
	char abs[PATH_MAX], namebuf[PATH_MAX], hvnetd[PATH_MAX], log[PATH_MAX + 16];
	struct hv_diags d = {0};
	struct hv_prog *prog = NULL;
	struct hv_ir *ir = NULL;
	struct up_guest *ug = NULL;
	struct lab lab;
	pid_t pid = 0;
	int fd = -1, rc = 1;
	size_t nic_seq = 0;
	bool recover = false;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--name") == 0 && i + 1 < argc)
			name = argv[++i];
		else if (strncmp(argv[i], "--name=", 7) == 0)
			name = argv[i] + 7;
		else if (strcmp(argv[i], "--datapath") == 0 && i + 1 < argc)
			datapath = argv[++i];
		else if (argv[i][0] == '-' && argv[i][1] != '\0')
			return lab_usage_error("up: unknown option '%s'", argv[i]);
		else if (file == NULL)
			file = argv[i];
		else
			return lab_usage_error("up: one lab file at a time");
	}
	if (file == NULL)
		return lab_usage_error("up: which lab file?");
	if (name == NULL) {
		char *dot;

		snprintf(namebuf, sizeof(namebuf), "%s", file);
		snprintf(namebuf, sizeof(namebuf), "%s", basename(namebuf));
		dot = strrchr(namebuf, '.');
		if (dot != NULL && dot != namebuf)
			*dot = '\0';
		name = namebuf;
	}
	if (!lab_name_valid(name))
		return lab_usage_error(
			"up: '%s' cannot name a lab (1 to %d letters, digits, '-', '_', '.'; starting with a letter or digit): give one with --name NAME",
			name, LAB_NAME_MAX);
	if (strcmp(datapath, "kernel") == 0)
		return hv_lab_kernel_up(file, name);
	if (strcmp(datapath, "hvnetd") != 0)
		return lab_usage_error("up: --datapath is hvnetd or kernel, not '%s'", datapath);

	/* 1. the file, all of it, before anything is created */
	prog = hv_lang_parse_file(file, &d);
	if (prog != NULL)
		ir = hv_lang_check(prog, &d);
	if (ir != NULL)
		hv_lang_lint(ir, &d);
	hv_diags_print(stderr, &d);
	if (ir == NULL) {
		fprintf(stderr, "%s: %zu error%s, %zu warning%s; nothing was created\n", file,
			d.n_errors, d.n_errors == 1 ? "" : "s", d.n_warnings,
			d.n_warnings == 1 ? "" : "s");
		goto free_prog;
	}
	if (realpath(file, abs) == NULL) {
		hv_lab_err("%s: %s", file, strerror(errno));
		goto free_prog;
	}
	lab_init(&lab, name);
	if (up_resolve(&lab, prog, &ug) != 0)
		goto free_prog;

	/* 2. the state directory: one lab of a name at a time */
	if ((mkdir("/run/hvnet", 0755) != 0 && errno != EEXIST) ||
	    (mkdir(LABS_DIR, 0755) != 0 && errno != EEXIST)) {
		hv_lab_err("cannot create " LABS_DIR ": %s", strerror(errno));
		goto free_prog;
	}
	if (mkdir(lab.dir, 0755) != 0) {
		if (errno != EEXIST) {
			hv_lab_err("cannot create %s: %s", lab.dir, strerror(errno));
			goto free_prog;
		}
		/* up already: nothing to do, unless its hvnetd died */
		rc = up_recover_check(&lab, abs);
		if (rc == 2) {
			rc = up_qemu_prepare(prog) != 0 ? 1
							: up_restart_vms(&lab, ug, prog->guests.n);
			goto free_prog_state;
		}
		if (rc != 0)
			goto free_prog_state;
		recover = true;
		rc = 1;
	} else if (up_qemu_prepare(prog) != 0) {
		rmdir(lab.dir);
		goto free_prog;
	}
	if (!recover) {
		lab.state =
			json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:[], s:[]}", "version", 1,
				  "name", lab.name, "file", abs, "instance", lab.instance, "socket",
				  lab.socket, "phase", "starting", "segments", "guests");
		if (lab.state == NULL || state_save(&lab) != 0)
			goto rollback;
		hv_lab_progress("lab %s from %s", lab.name, abs);
	} else {
		/* the segments are added again below */
		json_object_set_new(lab.state, "segments", json_array());
		hvnetd_leftovers_remove(&lab);
	}

	/* 3. hvnetd */
	hvnetd_path(hvnetd, sizeof(hvnetd));
	snprintf(log, sizeof(log), "%s/hvnetd.log", lab.dir);
	{
		char *argv[] = {hvnetd, "--instance", lab.instance, NULL};

		pid = hv_proc_spawn(argv, log, false);
	}
	if (pid < 0) {
		hv_lab_err("cannot start %s: %s", hvnetd, strerror(-pid));
		goto rollback;
	}
	json_object_set_new(lab.state, "hvnetd_pid", json_integer(pid));
	json_object_set_new(lab.state, "hvnetd", json_string(hvnetd));
	if (state_save(&lab) != 0 || up_wait_hvnetd(&lab, pid, log, &fd) != 0)
		goto rollback;

	/* 4. segments */
	for (size_t i = 0; i < prog->segments.n; i++) {
		const struct hv_segment *s = &prog->segments.v[i];
		json_t *args = json_pack("{s:s}", "name", s->name);
		char what[128], desc[512];

		if (s->mac_limit)
			json_object_set_new(args, "mac_limit", json_integer(s->mac_limit));
		snprintf(what, sizeof(what), "segment %s", s->name);
		if (ctl(fd, "segment.add", args, NULL, what) != 0)
			goto rollback;
		json_array_append_new(json_object_get(lab.state, "segments"), json_string(s->name));
		describe_segment(s, desc, sizeof(desc));
		hv_lab_progress("segment %s (%s)", s->name, desc);
	}
	if (state_save(&lab) != 0)
		goto rollback;

	/* 5. guests (VMs boot in parallel; lab up waits for them at the end) */
	for (size_t i = 0; i < prog->guests.n; i++)
		if (up_guest(&lab, fd, &ug[i], &nic_seq, pid,
			     recover && state_has_guest(&lab, ug[i].g->name)) != 0)
			goto rollback;

	/* the overlay's uplink, before the policy that names it: its `dev`, an
	 * interface of this namespace, as an af_packet port in no segment */
	if (prog->overlay.present && prog->overlay.dev != NULL) {
		const char *dev = prog->overlay.dev;
		json_t *args = json_pack("{s:s, s:s, s:s, s:{s:s}}", "name", dev, "kind",
					 "af_packet", "segment", "-", "options", "iface", dev);

		if (ctl(fd, "port.add", args, NULL, "overlay uplink") != 0) {
			hv_lab_err(
				"overlay: dev %s must be an interface of this namespace (one end of a veth pair, a NIC), for hvnetd's af_packet uplink port %s",
				dev, dev);
			goto rollback;
		}
		hv_lab_progress("overlay: uplink port %s (af_packet on interface %s), %zu peer%s",
				dev, dev, prog->overlay.peers.n,
				prog->overlay.peers.n == 1 ? "" : "s");
	}

	/* 6. the policy: the lab file is the policy file */
	if (prog->policies.n > 0) {
		json_t *res = NULL;

		if (ctl(fd, "policy.apply", json_pack("{s:s}", "path", abs), &res, "policy") != 0)
			goto rollback;
		json_object_set_new(lab.state, "policy", json_string(abs));
		hv_lab_progress(
			"policy%s%s: %lld rules (%lld classifier entries), default %s%s, epoch %lld",
			prog->policies.v[0].name ? " " : "",
			prog->policies.v[0].name ? prog->policies.v[0].name : "",
			(long long)json_integer_value(json_object_get(res, "rules")),
			(long long)json_integer_value(json_object_get(res, "entries")),
			hv_action_name(ir->default_action), ir->default_log ? " log" : "",
			(long long)json_integer_value(json_object_get(res, "epoch")));
		{
			json_t *w = json_object_get(res, "mirror_warnings");
			size_t k;
			json_t *v;

			json_array_foreach(w, k, v) {
				if (json_is_string(v))
					hv_lab_progress("warning: %s", json_string_value(v));
			}
		}
		json_decref(res);
	} else {
		hv_lab_progress("policy: none in the file (hvnetd forwards within each segment)");
	}
	/* the file's mirrors came into force with its policy (policy.apply) */
	for (size_t i = 0; i < prog->mirrors.n; i++) {
		const struct hv_mirror *m = &prog->mirrors.v[i];
		char sel[512], dest[512];

		if (prog->policies.n == 0) {
			hv_lab_progress(
				"note: mirror %s is not set up: mirrors come with the file's policy block, and it has none",
				m->name);
			continue;
		}
		describe_mirror(m, sel, sizeof(sel));
		hv_lab_progress("mirror %s (%s)", m->name, sel);
		for (size_t k = 0; k < m->dests.n; k++) {
			describe_mirror_dest(prog, &m->dests.v[k], dest, sizeof(dest));
			hv_lab_progress("  to %s", dest);
		}
	}
	if (prog->overlay.present && prog->overlay.dev == NULL)
		hv_lab_progress(
			"note: the overlay is not set up: lab up needs its `dev` (the uplink interface)");
	else if (prog->overlay.present && prog->policies.n == 0)
		hv_lab_progress(
			"note: the overlay is not set up: hvnetd takes the overlay block with the file's policy, and it has none");

	if (up_wait_vms(&lab, ug, prog->guests.n) != 0)
		goto rollback;

	json_object_set_new(lab.state, "phase", json_string("up"));
	if (state_save(&lab) != 0)
		goto rollback;
	hv_lab_progress(
		"lab %s is %s: %zu segment%s, %zu guest%s; hvnetd pid %d (hvnetctl -i %s ...)",
		lab.name, recover ? "back up" : "up", prog->segments.n,
		prog->segments.n == 1 ? "" : "s", prog->guests.n, prog->guests.n == 1 ? "" : "s",
		(int)pid, lab.instance);
	hv_lab_progress(
		"  hvnetctl lab status %s; hvnetctl lab exec %s GUEST -- CMD; hvnetctl lab down %s",
		lab.name, lab.name, lab.name);
	rc = 0;
	goto close;

rollback:
	if (recover) {
		/* the guests ran before this lab up: they stay; the new hvnetd goes */
		hv_lab_err(
			"lab up %s failed to bring hvnetd back; the guests are left as they were: run lab up again, or lab down %s",
			lab.name, lab.name);
		if (pid > 0 && hvnetd_find(lab.instance, pid) == pid)
			hvnetd_stop(pid);
		hvnetd_leftovers_remove(&lab);
		rc = 1;
		goto close;
	}
	hv_lab_err("lab up %s failed; removing what it created", lab.name);
	if (lab.state == NULL)
		rmdir(lab.dir);
	else if (lab_teardown(&lab, true) == 0)
		hv_lab_progress("lab %s: rolled back, nothing is left", lab.name);
	rc = 1;
close:
	if (fd >= 0)
		close(fd);
free_prog_state:
	json_decref(lab.state);
free_prog:
	up_guests_free(ug, prog ? prog->guests.n : 0);
	hv_ir_free(ir);
	hv_prog_free(prog);
	hv_diags_free(&d);
	return rc;
}

/* ---- lab down ---- */

static int
cmd_down(int argc, char **argv)
{
	struct lab lab;
	int rc;

	if (argc > 1)
		return lab_usage_error("down: at most one lab name");
	if (lab_pick(argc ? argv[0] : NULL, "down", &lab) != 0)
		return 1;
	rc = state_load(&lab);
	if (rc == -ENOENT) {
		pid_t pid = hvnetd_find(lab.instance, 0);

		if (pid <= 0) {
			hv_lab_progress("lab %s is not up: nothing to take down", lab.name);
			return 0;
		}
		/* no state, but its hvnetd runs: stop that much */
		lab.state = json_object();
	} else if (rc != 0) {
		return 1;
	} else if (lab.state == NULL) {
		lab.state = json_object();
	}
	rc = lab_teardown(&lab, true);
	json_decref(lab.state);
	if (rc != 0)
		return 1;
	hv_lab_progress("lab %s is down", lab.name);
	return 0;
}

/* ---- lab status ---- */

static json_t *
ports_by_name(struct lab *lab, bool *alive)
{
	json_t *byname = json_object(), *reply = NULL;
	int fd;

	*alive = false;
	fd = hv_ctl_connect(lab->socket);
	if (fd < 0)
		return byname;
	if (hv_ctl_call(fd, "port.list", NULL, 3000, &reply) == 0 &&
	    json_is_true(json_object_get(reply, "ok"))) {
		json_t *p;
		size_t i;

		*alive = true;
		json_array_foreach(json_object_get(reply, "result"), i, p) {
			json_object_set(byname, js(p, "name"), p);
		}
	}
	json_decref(reply);
	close(fd);
	return byname;
}

static const char *
link_word(const struct hv_vmm_link *l)
{
	return !l->present ? "missing" : !l->up ? "down" : !l->carrier ? "no-carrier" : "up";
}

/* Why a guest NIC has no link, in words a user can act on. */
static void
link_reason(struct lab *lab, json_t *g, json_t *n, bool running, bool answers, json_t *port,
	    const struct hv_vmm_link *link, char *buf, size_t size)
{
	bool vm = strcmp(js(g, "kind"), "qemu") == 0;
	char dir[PATH_MAX], sock[PATH_MAX + 32];
	int st;

	if (!running) {
		snprintf(buf, size, "%s", vm ? "QEMU is not running" : "the namespace is gone");
		return;
	}
	if (!answers) {
		snprintf(
			buf, size,
			"hvnetd is not running (hvnetctl lab up FILE starts it again and reattaches the guests)");
		return;
	}
	if (port == NULL) {
		snprintf(buf, size, "hvnetd has no port %s", js(n, "port"));
		return;
	}
	if (!vm) {
		snprintf(buf, size, "%s",
			 !link->present ? "the tap is gone from the namespace"
			 : !link->up	? "the interface is down in the guest"
				     : "the tap has no carrier (hvnetd does not hold its queue)");
		return;
	}
	if (hv_qemu_dir(js(g, "instance"), lab->dir, dir, sizeof(dir)) != 0) {
		snprintf(buf, size, "unknown");
		return;
	}
	snprintf(sock, sizeof(sock), "%s/%s.sock", dir, js(n, "name"));
	st = hv_unix_socket_state(sock);
	if (st == -ENOENT)
		snprintf(buf, size, "socket missing: %.300s (QEMU did not create it)", sock);
	else if (st == 0)
		snprintf(buf, size, "nobody listens on %.300s (QEMU closed it)", sock);
	else if (st == 1)
		snprintf(buf, size,
			 "hvnetd is not connected to %.300s yet (it retries every second)", sock);
	else
		snprintf(
			buf, size,
			"connected, but the guest's virtio-net device is not ready: features not negotiated or rings not set up (still booting?)");
}

static json_t *
status_json(struct lab *lab)
{
	pid_t pid =
		hvnetd_find(lab->instance,
			    (pid_t)json_integer_value(json_object_get(lab->state, "hvnetd_pid")));
	bool answers;
	json_t *ports = ports_by_name(lab, &answers);
	json_t *guests = json_array(), *g;
	size_t i, j;

	json_array_foreach(json_object_get(lab->state, "guests"), i, g) {
		const struct hv_vmm_kind *kind = hv_vmm_kind_find(js(g, "kind"));
		const char *inst = js(g, "instance");
		bool running = kind && kind->running(inst, lab->dir);
		json_t *nics = json_array(), *n;

		json_array_foreach(json_object_get(g, "nics"), j, n) {
			struct hv_vmm_link link = {0};
			char err[256], buf[64];
			json_t *o = json_pack("{s:s, s:s, s:s}", "name", js(n, "name"), "port",
					      js(n, "port"), "segment", js(n, "segment"));
			json_t *addrs = json_array();
			json_t *p = json_object_get(ports, js(n, "port"));

			if (running)
				kind->link_status(inst, lab->dir, js(n, "name"), &link, err,
						  sizeof(err));
			if (link.from_switch) {
				/* a VM: the link is the vhost-user port's, the rest the file's */
				link.carrier = p != NULL && strcmp(js(p, "state"), "up") == 0;
				json_object_set(o, "mac", json_object_get(n, "mac") ?: json_null());
				/* 0 in the file: the guest kernel's default */
				json_object_set_new(
					o, "mtu",
					json_integer(json_integer_value(json_object_get(n, "mtu"))
							     ?: 1500));
				json_decref(addrs);
				addrs = json_deep_copy(json_object_get(n, "ips"));
			} else if (link.present) {
				fmt_mac(link.mac, buf, sizeof(buf));
				json_object_set_new(o, "mac", json_string(buf));
				json_object_set_new(o, "mtu", json_integer(link.mtu));
				for (size_t k = 0; k < link.n_addrs; k++) {
					hv_prefix_format(&link.addrs[k], buf, sizeof(buf));
					json_array_append_new(addrs, json_string(buf));
				}
			} else {
				json_object_set(o, "mac", json_object_get(n, "mac") ?: json_null());
				json_decref(addrs);
				addrs = json_deep_copy(json_object_get(n, "ips"));
			}
			json_object_set_new(o, "addresses", addrs ? addrs : json_array());
			json_object_set_new(o, "link", json_string(link_word(&link)));
			if (!link.carrier) {
				char why[512];

				link_reason(lab, g, n, running, answers, p, &link, why,
					    sizeof(why));
				json_object_set_new(o, "reason", json_string(why));
			}
			json_object_set_new(o, "admin_up", json_boolean(link.up));
			json_object_set_new(o, "carrier", json_boolean(link.carrier));
			if (p != NULL) {
				static const char *const keys[] = {"rx_packets", "rx_bytes",
								   "tx_packets", "tx_bytes",
								   "drops"};

				for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
					json_object_set(o, keys[k], json_object_get(p, keys[k]));
			}
			json_object_set_new(o, "attached", json_boolean(p != NULL));
			json_array_append_new(nics, o);
		}
		json_array_append_new(guests,
				      json_pack("{s:s, s:s, s:s, s:s, s:o}", "name", js(g, "name"),
						"kind", js(g, "kind"), "instance", inst, "state",
						running ? "running" : "stopped", "nics", nics));
	}
	json_decref(ports);
	json_t *o = json_pack("{s:s, s:s, s:s, s:{s:s, s:s, s:b, s:b}, s:o}", "name", lab->name,
			      "file", js(lab->state, "file"), "phase",
			      js(lab->state, "phase")[0] ? js(lab->state, "phase") : "unknown",
			      "hvnetd", "instance", lab->instance, "socket", lab->socket, "alive",
			      pid > 0, "answers", answers, "guests", guests);
	json_object_set_new(json_object_get(o, "hvnetd"), "pid",
			    pid > 0 ? json_integer(pid) : json_null());
	json_object_set(o, "segments", json_object_get(lab->state, "segments") ?: json_array());
	json_object_set_new(
		o, "datapath",
		json_string(js(lab->state, "datapath")[0] ? js(lab->state, "datapath") : "hvnetd"));
	if (json_object_get(lab->state, "switch_netns"))
		json_object_set(o, "switch_netns", json_object_get(lab->state, "switch_netns"));
	return o;
}

static void
status_print(json_t *o)
{
	json_t *h = json_object_get(o, "hvnetd"), *g, *n, *a;
	size_t i, j, k;

	printf("lab %s (%s): %s\n", js(o, "name"), js(o, "file"), js(o, "phase"));
	if (strcmp(js(o, "datapath"), "kernel") == 0)
		printf("datapath kernel: bridges and nftables in namespace %s (no hvnetd)\n",
		       js(o, "switch_netns"));
	else if (json_is_true(json_object_get(h, "alive")))
		printf("hvnetd %s: pid %lld, %s\n", js(h, "instance"),
		       (long long)json_integer_value(json_object_get(h, "pid")),
		       json_is_true(json_object_get(h, "answers")) ? "answering on its socket"
								   : "NOT answering on its socket");
	else
		printf("hvnetd %s: NOT running (ports have no counters; lab down cleans up)\n",
		       js(h, "instance"));
	printf("\n%-12s %-6s %-8s %-6s %-10s %-17s %5s %-10s %10s %10s  %s\n", "GUEST", "KIND",
	       "STATE", "NIC", "SEGMENT", "MAC", "MTU", "LINK", "RX-PKTS", "TX-PKTS", "ADDRESSES");
	json_array_foreach(json_object_get(o, "guests"), i, g) {
		json_array_foreach(json_object_get(g, "nics"), j, n) {
			char rx[32] = "-", tx[32] = "-";

			if (json_object_get(n, "rx_packets")) {
				snprintf(rx, sizeof(rx), "%lld",
					 (long long)json_integer_value(
						 json_object_get(n, "rx_packets")));
				snprintf(tx, sizeof(tx), "%lld",
					 (long long)json_integer_value(
						 json_object_get(n, "tx_packets")));
			}
			char mtu[16] = "-";

			if (json_integer_value(json_object_get(n, "mtu")) > 0)
				snprintf(mtu, sizeof(mtu), "%lld",
					 (long long)json_integer_value(json_object_get(n, "mtu")));
			printf("%-12s %-6s %-8s %-6s %-10s %-17s %5s %-10s %10s %10s  ",
			       j ? "" : js(g, "name"), j ? "" : js(g, "kind"),
			       j ? "" : js(g, "state"), js(n, "name"), js(n, "segment"),
			       json_is_string(json_object_get(n, "mac")) ? js(n, "mac") : "-", mtu,
			       js(n, "link"), rx, tx);
			json_array_foreach(json_object_get(n, "addresses"), k, a) {
				printf("%s%s", k ? ", " : "", json_string_value(a));
			}
			printf("\n");
		}
	}
	/* why the links that are not up are not */
	json_array_foreach(json_object_get(o, "guests"), i, g) {
		json_array_foreach(json_object_get(g, "nics"), j, n) {
			if (json_is_string(json_object_get(n, "reason")))
				printf("  %s %s: %s: %s\n", js(g, "name"), js(n, "name"),
				       js(n, "link"), js(n, "reason"));
		}
	}
}

static int
cmd_status(int argc, char **argv, bool json)
{
	struct lab lab;
	json_t *o;
	int rc;

	if (argc > 1)
		return lab_usage_error("status: at most one lab name");
	if (argc == 0) {
		char names[64][LAB_NAME_MAX + 1];
		size_t n = labs_list(names, 64);

		if (n == 0) {
			if (json)
				puts("{\"labs\": []}");
			else
				printf("no lab is up\n");
			return 0;
		}
		if (n > 1) {
			/* several: a list; one: its details */
			json_t *all = json_array();

			for (size_t i = 0; i < n; i++) {
				lab_init(&lab, names[i]);
				if (state_load(&lab) == 0 && lab.state) {
					json_array_append_new(all, status_json(&lab));
					json_decref(lab.state);
				}
			}
			if (json) {
				json_t *w = json_pack("{s:o}", "labs", all);
				char *s = json_dumps(w, JSON_INDENT(2));

				puts(s);
				free(s);
				json_decref(w);
			} else {
				json_t *l;
				size_t i;

				json_array_foreach(all, i, l) {
					status_print(l);
					printf("\n");
				}
				json_decref(all);
			}
			return 0;
		}
	}
	if (lab_pick(argc ? argv[0] : NULL, "status", &lab) != 0)
		return 1;
	rc = state_load(&lab);
	if (rc == -ENOENT) {
		hv_lab_err("status: no lab named %s is up", lab.name);
		return 1;
	}
	if (rc != 0)
		return 1;
	if (lab.state == NULL)
		lab.state = json_object();
	o = status_json(&lab);
	if (json) {
		char *s = json_dumps(o, JSON_INDENT(2));

		puts(s);
		free(s);
	} else {
		status_print(o);
	}
	json_decref(o);
	json_decref(lab.state);
	return 0;
}

/* ---- lab exec ---- */

static int
cmd_exec(int argc, char **argv)
{
	const char *name = NULL, *guest;
	struct lab lab;
	int dash = -1, rc;
	json_t *g, *found = NULL;
	size_t i;
	char err[512];

	for (int k = 0; k < argc; k++)
		if (strcmp(argv[k], "--") == 0) {
			dash = k;
			break;
		}
	if (dash < 0 || dash == argc - 1)
		return lab_usage_error("exec: [NAME] GUEST -- CMD [ARGS...]");
	if (dash == 1) {
		guest = argv[0];
	} else if (dash == 2) {
		name = argv[0];
		guest = argv[1];
	} else {
		return lab_usage_error("exec: [NAME] GUEST -- CMD [ARGS...]");
	}
	if (lab_pick(name, "exec", &lab) != 0)
		return 1;
	rc = state_load(&lab);
	if (rc != 0 || lab.state == NULL) {
		hv_lab_err("exec: no lab named %s is up", lab.name);
		return 1;
	}
	json_array_foreach(json_object_get(lab.state, "guests"), i, g) {
		if (strcmp(js(g, "name"), guest) == 0)
			found = g;
	}
	if (found == NULL) {
		hv_lab_err("exec: lab %s has no guest %s (hvnetctl lab status %s lists them)",
			   lab.name, guest, lab.name);
		json_decref(lab.state);
		return 1;
	}
	const struct hv_vmm_kind *kind = hv_vmm_kind_find(js(found, "kind"));
	if (kind == NULL || !kind->running(js(found, "instance"), lab.dir)) {
		hv_lab_err("exec: guest %s of lab %s is not running", guest, lab.name);
		json_decref(lab.state);
		return 1;
	}
	fflush(NULL);
	rc = kind->exec(js(found, "instance"), lab.dir, argv + dash + 1, err, sizeof(err));
	json_decref(lab.state);
	if (rc >= 0)
		return rc; /* the command ran: its exit status */
	hv_lab_err("exec: guest %s: %s", guest, err);
	return rc == -ENOENT ? 127 : 126;
}

/* ---- lab console ---- */

static int
cmd_console(int argc, char **argv)
{
	const char *name = NULL, *guest;
	struct lab lab;
	json_t *g, *found = NULL;
	size_t i;
	char err[512];
	int rc;

	if (argc == 1) {
		guest = argv[0];
	} else if (argc == 2) {
		name = argv[0];
		guest = argv[1];
	} else {
		return lab_usage_error("console: [NAME] GUEST");
	}
	if (lab_pick(name, "console", &lab) != 0)
		return 1;
	if (state_load(&lab) != 0 || lab.state == NULL) {
		hv_lab_err("console: no lab named %s is up", lab.name);
		return 1;
	}
	json_array_foreach(json_object_get(lab.state, "guests"), i, g) {
		if (strcmp(js(g, "name"), guest) == 0)
			found = g;
	}
	const struct hv_vmm_kind *kind = found ? hv_vmm_kind_find(js(found, "kind")) : NULL;
	if (found == NULL || kind == NULL) {
		hv_lab_err("console: lab %s has no guest %s (hvnetctl lab status %s lists them)",
			   lab.name, guest, lab.name);
		json_decref(lab.state);
		return 1;
	}
	if (kind->console == NULL) {
		hv_lab_err(
			"console: guest %s is a %s guest, which has no console; a shell: hvnetctl lab exec %s %s -- sh",
			guest, kind->name, lab.name, guest);
		json_decref(lab.state);
		return 1;
	}
	if (!kind->running(js(found, "instance"), lab.dir)) {
		hv_lab_err("console: guest %s of lab %s is not running", guest, lab.name);
		json_decref(lab.state);
		return 1;
	}
	fprintf(stderr, "%s's serial console (lab %s): Ctrl-] leaves; Enter shows a prompt.\r\n",
		guest, lab.name);
	rc = kind->console(js(found, "instance"), lab.dir, err, sizeof(err));
	json_decref(lab.state);
	if (rc != 0) {
		hv_lab_err("console: guest %s: %s", guest, err);
		return 1;
	}
	fprintf(stderr, "\r\nLeft %s's console.\n", guest);
	return 0;
}

/* ---- lab capture ---- */

/*
 * lab capture [NAME] GUEST[:NIC] [-f FILTER] [-c COUNT] [-s SNAPLEN] -w FILE|-
 * On hvnetd: `hvnetctl capture` of the NIC's port (vhost-user NICs too). On
 * the kernel datapath: tcpdump on the NIC inside the guest's namespace.
 */
static int
cmd_capture(int argc, char **argv, bool json)
{
	static const char usage[] =
		"capture: [NAME] GUEST[:NIC] [-f FILTER] [-c COUNT] [-s SNAPLEN] -w FILE|-";
	const char *name = NULL, *target;
	char guest[64], *nic;
	struct lab lab;
	json_t *g, *found = NULL, *n, *port = NULL;
	size_t i;
	int first = 0, rc;

	/* the guest is the first word that is not an option or its value */
	while (first < argc && argv[first][0] != '-')
		first++;
	if (first == 1) {
		target = argv[0];
	} else if (first == 2) {
		name = argv[0];
		target = argv[1];
	} else {
		return lab_usage_error("%s", usage);
	}
	if (strlen(target) >= sizeof(guest))
		return lab_usage_error("capture: guest name too long: %s", target);
	snprintf(guest, sizeof(guest), "%s", target);
	nic = strchr(guest, ':');
	if (nic != NULL)
		*nic++ = '\0';
	if (lab_pick(name, "capture", &lab) != 0)
		return 1;
	if (state_load(&lab) != 0 || lab.state == NULL) {
		hv_lab_err("capture: no lab named %s is up", lab.name);
		return 1;
	}
	json_array_foreach(json_object_get(lab.state, "guests"), i, g) {
		if (strcmp(js(g, "name"), guest) == 0)
			found = g;
	}
	if (found == NULL) {
		hv_lab_err("capture: lab %s has no guest %s (hvnetctl lab status %s lists them)",
			   lab.name, guest, lab.name);
		json_decref(lab.state);
		return 1;
	}
	json_array_foreach(json_object_get(found, "nics"), i, n) {
		if (nic == NULL || strcmp(js(n, "name"), nic) == 0) {
			port = n;
			break;
		}
	}
	if (port == NULL) {
		hv_lab_err("capture: guest %s has no NIC %s", guest, nic != NULL ? nic : "at all");
		json_decref(lab.state);
		return 1;
	}
	if (strcmp(js(lab.state, "datapath"), "kernel") == 0) {
		/* tcpdump's own options are spelled the same */
		char **av = calloc((size_t)(argc - first) + 10, sizeof(*av));
		size_t k = 0;

		if (av == NULL) {
			json_decref(lab.state);
			return 1;
		}
		av[k++] = "ip";
		av[k++] = "netns";
		av[k++] = "exec";
		av[k++] = (char *)js(found, "instance");
		av[k++] = "tcpdump";
		av[k++] = "-i";
		av[k++] = (char *)js(port, "name");
		av[k++] = "-U";
		char *filter = NULL;

		for (int a = first; a < argc; a++) {
			if (strcmp(argv[a], "-f") == 0 && a + 1 < argc)
				filter = argv[++a]; /* tcpdump's expression, last */
			else
				av[k++] = argv[a];
		}
		if (filter != NULL)
			av[k++] = filter;
		fflush(NULL);
		execvp("ip", av);
		hv_lab_err("capture: cannot run tcpdump in %s: %s", js(found, "instance"),
			   strerror(errno));
		free(av);
		json_decref(lab.state);
		return 1;
	}
	/* hvnetctl capture PORT options... against the lab's hvnetd */
	char **av = calloc((size_t)(argc - first) + 3, sizeof(*av));
	char portname[64];

	if (av == NULL) {
		json_decref(lab.state);
		return 1;
	}
	snprintf(portname, sizeof(portname), "%s", js(port, "port"));
	json_decref(lab.state);
	av[0] = "capture";
	av[1] = portname;
	for (int a = first; a < argc; a++)
		av[2 + a - first] = argv[a];
	rc = hv_cli_capture(2 + argc - first, av, lab.socket, json);
	free(av);
	return rc;
}

/* ---- lab graph ---- */

static void
dot_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

/* a label: like dot_str, and a newline becomes DOT's \n */
static void
dot_label(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '\n') {
			fputs("\\n", f);
			continue;
		}
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

/* The file's mirrors: a node per session (what it selects), a dashed edge
 * from each selected segment (its cluster) or guest NIC to it, and one from
 * it to each destination: the guest NIC of a mirror port, or a node for a
 * port that is no NIC of the file, a pcapng file, a remote collector. */
static void
graph_write_mirrors(FILE *f, const struct hv_prog *prog)
{
	static const char style[] = "style=dashed, color=\"#c62828\", fontcolor=\"#c62828\"";

	for (size_t i = 0; i < prog->mirrors.n; i++) {
		const struct hv_mirror *m = &prog->mirrors.v[i];
		char label[1024], id[128];
		size_t n = 0;

		snprintf(id, sizeof(id), "mirror:%s", m->name);
		n += (size_t)snprintf(label + n, sizeof(label) - n, "mirror %s", m->name);
		if (m->segments.n == 0 && m->ports.n == 0 && n < sizeof(label))
			n += (size_t)snprintf(label + n, sizeof(label) - n, "\nevery port");
		if (m->dir != HV_DIR_BOTH && n < sizeof(label))
			n += (size_t)snprintf(label + n, sizeof(label) - n, "\n%s",
					      m->dir == HV_DIR_INGRESS ? "ingress" : "egress");
		if (m->verdict != HV_VERDICT_ANY && n < sizeof(label))
			n += (size_t)snprintf(label + n, sizeof(label) - n, "\nverdict %s",
					      m->verdict == HV_VERDICT_ALLOWED ? "allowed"
									       : "blocked");
		if (m->filter != NULL && n < sizeof(label))
			snprintf(label + n, sizeof(label) - n, "\n%s", m->filter);
		fputc('\t', f);
		dot_str(f, id);
		fprintf(f, " [shape=box, style=\"rounded,dashed\", color=\"#c62828\", "
			   "fontcolor=\"#c62828\", label=");
		dot_label(f, label);
		fprintf(f, "];\n");
		for (size_t k = 0; k < m->segments.n; k++) {
			fprintf(f, "\t\"seg:%s\" -> ", m->segments.v[k].name);
			dot_str(f, id);
			fprintf(f, " [%s, ltail=\"cluster_%s\", label=\"copies\"];\n", style,
				m->segments.v[k].name);
		}
		for (size_t k = 0; k < m->ports.n; k++) {
			const struct hv_guest *g = NULL;
			const struct hv_nic *nic = lab_port_nic(prog, m->ports.v[k].name, &g);

			if (nic != NULL)
				fprintf(f, "\t\"%s.%s\" -> ", g->name, nic->name);
			else
				fprintf(f, "\t\"port:%s\" -> ", m->ports.v[k].name);
			dot_str(f, id);
			fprintf(f, " [%s, label=\"copies\"];\n", style);
		}
		for (size_t k = 0; k < m->dests.n; k++) {
			const struct hv_mirror_dest *d = &m->dests.v[k];
			const struct hv_guest *g = NULL;
			const struct hv_nic *nic = NULL;
			char node[160], p[64];

			if (d->kind == HV_DEST_PORT)
				nic = lab_port_nic(prog, d->port, &g);
			if (nic != NULL) {
				snprintf(node, sizeof(node), "%s.%s", g->name, nic->name);
			} else {
				snprintf(node, sizeof(node), "%s:%zu", id, k);
				switch (d->kind) {
				case HV_DEST_PCAP:
					snprintf(label, sizeof(label), "pcapng\n%s", d->path);
					break;
				case HV_DEST_PORT:
					snprintf(label, sizeof(label), "port %s", d->port);
					break;
				case HV_DEST_REMOTE:
					hv_prefix_format(&d->remote, p, sizeof(p));
					snprintf(label, sizeof(label), "collector %s\n%s %u", p,
						 d->erspan ? "erspan" : "vxlan", d->remote_id);
					break;
				}
				fputc('\t', f);
				dot_str(f, node);
				fprintf(f, " [shape=%s, color=\"#c62828\", label=",
					d->kind == HV_DEST_PCAP ? "note" : "box");
				dot_label(f, label);
				fprintf(f, "];\n");
			}
			fputc('\t', f);
			dot_str(f, id);
			fprintf(f, " -> ");
			dot_str(f, node);
			fprintf(f, " [%s", style);
			if (nic != NULL) {
				fprintf(f, ", label=");
				dot_label(f, d->port);
			}
			fprintf(f, "];\n");
		}
	}
}

/* the segments an entry side covers: SEG, or for "any segment" those whose
 * subnets meet the side's prefix (every segment when it has none) */
static void
side_segments(const struct hv_prog *prog, uint16_t seg, uint8_t family, const struct hv_prefix *p,
	      bool *out)
{
	for (size_t s = 0; s < prog->segments.n; s++) {
		const struct hv_segment *sg = &prog->segments.v[s];
		bool hit = false;

		if (seg != HV_SEG_ANY) {
			out[s] = s == seg;
			continue;
		}
		if (family == 0 || p->plen == 0) {
			out[s] = true;
			continue;
		}
		for (size_t k = 0; k < sg->subnets.n && !hit; k++)
			hit = hv_prefix_overlap(&sg->subnets.v[k].p, p);
		out[s] = hit;
	}
}

static void
graph_write(FILE *f, const char *title, const struct hv_prog *prog, const struct hv_ir *ir)
{
	size_t ns = prog->segments.n;
	/* edges[src][dst]: the ids of the allow rules, comma-separated */
	char **edges = calloc(ns * ns + 1, sizeof(*edges));
	bool *src = calloc(ns + 1, 1), *dst = calloc(ns + 1, 1);
	char p[64];

	fprintf(f, "digraph ");
	dot_str(f, title);
	fprintf(f, " {\n\tgraph [compound=true, rankdir=LR, fontname=\"sans-serif\"];\n"
		   "\tnode [shape=box, style=rounded, fontname=\"sans-serif\", fontsize=10];\n"
		   "\tedge [fontname=\"sans-serif\", fontsize=9, color=\"#2e7d32\", "
		   "fontcolor=\"#2e7d32\"];\n");
	for (size_t s = 0; s < ns; s++) {
		const struct hv_segment *sg = &prog->segments.v[s];
		char label[1024];
		size_t n = 0;

		n += (size_t)snprintf(label + n, sizeof(label) - n, "%s\\n%s", sg->name,
				      hv_class_name(sg->cls));
		for (size_t k = 0; k < sg->subnets.n && n < sizeof(label); k++) {
			hv_prefix_format(&sg->subnets.v[k].p, p, sizeof(p));
			n += (size_t)snprintf(label + n, sizeof(label) - n, "%s%s",
					      k ? ", " : "\\n", p);
		}
		if (sg->has_vni && n < sizeof(label))
			snprintf(label + n, sizeof(label) - n, "\\nvni %u", sg->vni);
		fprintf(f, "\tsubgraph \"cluster_%s\" {\n\t\tlabel=\"%s\";\n", sg->name, label);
		fprintf(f, "\t\tstyle=rounded; color=\"%s\";\n",
			sg->cls == HV_CLASS_MANAGEMENT	     ? "#1565c0"
			: sg->cls == HV_CLASS_INFRASTRUCTURE ? "#6a1b9a"
			: sg->cls == HV_CLASS_APPLICATION    ? "#ef6c00"
							     : "#616161");
		fprintf(f, "\t\t\"seg:%s\" [shape=point, width=0.08, label=\"\"];\n", sg->name);
		for (size_t gi = 0; gi < prog->guests.n; gi++) {
			const struct hv_guest *g = &prog->guests.v[gi];

			for (size_t j = 0; j < g->nics.n; j++) {
				const struct hv_nic *nic = &g->nics.v[j];

				if (nic->seg_id != s)
					continue;
				fprintf(f, "\t\t\"%s.%s\" [label=\"%s (%s)\\n%s", g->name,
					nic->name, g->name,
					g->kind == HV_GUEST_QEMU ? "qemu" : "netns", nic->name);
				for (size_t k = 0; k < nic->ips.n; k++) {
					hv_prefix_format(&nic->ips.v[k].p, p, sizeof(p));
					fprintf(f, "\\n%s", p);
				}
				fprintf(f, "\"];\n");
			}
		}
		fprintf(f, "\t}\n");
	}
	for (size_t r = 0; r < ir->n_rules && edges && src && dst; r++) {
		const struct hv_ir_rule_info *ri = &ir->rules[r];

		if (ri->rule->action != HV_ALLOW)
			continue;
		for (size_t e = ri->first; e < ri->first + ri->count; e++) {
			const struct hv_ir_rule *en = &ir->entries[e];

			side_segments(prog, en->src_seg, en->family, &en->src, src);
			side_segments(prog, en->dst_seg, en->family, &en->dst, dst);
			for (size_t a = 0; a < ns; a++) {
				for (size_t b = 0; b < ns; b++) {
					char **slot = &edges[a * ns + b];
					char *nw;

					if (!src[a] || !dst[b])
						continue;
					if (*slot != NULL) {
						/* a rule's id once per edge */
						const char *last = strrchr(*slot, ',');

						last = last ? last + 2 : *slot;
						if (strcmp(last, ri->rule->id) == 0)
							continue;
					}
					if (asprintf(&nw, "%s%s%s", *slot ? *slot : "",
						     *slot ? ", " : "", ri->rule->id) < 0)
						continue;
					free(*slot);
					*slot = nw;
				}
			}
		}
	}
	for (size_t a = 0; a < ns && edges; a++) {
		for (size_t b = 0; b < ns; b++) {
			const char *sa = prog->segments.v[a].name, *sb = prog->segments.v[b].name;

			if (edges[a * ns + b] == NULL)
				continue;
			fprintf(f, "\t\"seg:%s\" -> \"seg:%s\" [label=", sa, sb);
			dot_str(f, edges[a * ns + b]);
			if (a != b)
				fprintf(f, ", ltail=\"cluster_%s\", lhead=\"cluster_%s\"", sa, sb);
			fprintf(f, "];\n");
			free(edges[a * ns + b]);
		}
	}
	graph_write_mirrors(f, prog);
	fprintf(f, "}\n");
	free(edges);
	free(src);
	free(dst);
}

static bool
dot_installed(void)
{
	const char *path = getenv("PATH");
	char *copy, *dir, *save = NULL;
	bool found = false;

	copy = strdup(path ? path : "/usr/bin:/bin");
	for (dir = strtok_r(copy, ":", &save); dir && !found; dir = strtok_r(NULL, ":", &save)) {
		char p[PATH_MAX];

		snprintf(p, sizeof(p), "%s/dot", dir);
		found = access(p, X_OK) == 0;
	}
	free(copy);
	return found;
}

/* dot -TFORMAT -o OUT < TEXT; 0 or 1 (printed) */
static int
graph_render(const char *text, size_t len, const char *format, const char *out)
{
	char fmt[16];
	int pfd[2], status;
	pid_t pid;

	if (!dot_installed()) {
		hv_lab_err(
			"graph: --%s needs Graphviz's dot, which is not installed (apt-get install graphviz); without --%s the DOT text goes to stdout",
			format, format);
		return 1;
	}
	if (pipe(pfd) != 0)
		return 1;
	snprintf(fmt, sizeof(fmt), "-T%s", format);
	pid = fork();
	if (pid == 0) {
		signal(SIGPIPE, SIG_DFL);
		dup2(pfd[0], 0);
		close(pfd[0]);
		close(pfd[1]);
		execlp("dot", "dot", fmt, "-o", out, (char *)NULL);
		_exit(127);
	}
	close(pfd[0]);
	if (pid < 0) {
		close(pfd[1]);
		return 1;
	}
	for (size_t off = 0; off < len;) {
		ssize_t w = write(pfd[1], text + off, len - off);

		if (w <= 0)
			break;
		off += (size_t)w;
	}
	close(pfd[1]);
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		hv_lab_err("graph: dot %s failed (exit %d)", fmt,
			   WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		return 1;
	}
	fprintf(stderr, "%s: written\n", out);
	return 0;
}

static int
cmd_graph(int argc, char **argv)
{
	const char *arg = NULL, *format = NULL, *out = NULL;
	char file[PATH_MAX], title[PATH_MAX];
	struct hv_diags d = {0};
	struct hv_prog *prog;
	struct hv_ir *ir = NULL;
	struct stat st;
	int rc = 1;

	for (int i = 0; i < argc; i++) {
		if ((strcmp(argv[i], "--svg") == 0 || strcmp(argv[i], "--png") == 0) &&
		    i + 1 < argc) {
			format = argv[i] + 2;
			out = argv[++i];
		} else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			return lab_usage_error(
				"graph: unknown option '%s' (--svg FILE, --png FILE)", argv[i]);
		} else if (arg == NULL) {
			arg = argv[i];
		} else {
			return lab_usage_error("graph: [NAME|FILE] [--svg FILE | --png FILE]");
		}
	}
	if (arg != NULL && (strchr(arg, '/') || (stat(arg, &st) == 0 && S_ISREG(st.st_mode)))) {
		char *dot;

		snprintf(file, sizeof(file), "%s", arg);
		snprintf(title, sizeof(title), "%s", arg);
		snprintf(title, sizeof(title), "%s", basename(title));
		dot = strrchr(title, '.');
		if (dot && dot != title)
			*dot = '\0';
	} else {
		struct lab lab;

		if (lab_pick(arg, "graph", &lab) != 0)
			return 1;
		if (state_load(&lab) != 0 || lab.state == NULL) {
			hv_lab_err("graph: no lab named %s is up; give a lab file instead",
				   lab.name);
			return 1;
		}
		snprintf(file, sizeof(file), "%s", js(lab.state, "file"));
		snprintf(title, sizeof(title), "%s", lab.name);
		json_decref(lab.state);
	}
	prog = hv_lang_parse_file(file, &d);
	if (prog != NULL)
		ir = hv_lang_check(prog, &d);
	if (ir == NULL) {
		hv_diags_print(stderr, &d);
		fprintf(stderr, "%s: %zu error%s; no graph\n", file, d.n_errors,
			d.n_errors == 1 ? "" : "s");
		goto free;
	}
	if (format == NULL) {
		graph_write(stdout, title, prog, ir);
		rc = 0;
	} else {
		char *text = NULL;
		size_t len = 0;
		FILE *m = open_memstream(&text, &len);

		if (m != NULL) {
			graph_write(m, title, prog, ir);
			fclose(m);
			rc = graph_render(text, len, format, out);
		}
		free(text);
	}
free:
	hv_ir_free(ir);
	hv_prog_free(prog);
	hv_diags_free(&d);
	return rc;
}

int
hv_cli_lab(int argc, char **argv, bool json)
{
	char **rest;
	int n = 0;

	if (argc < 2 || strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		fputs(lab_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "exec") == 0)
		return cmd_exec(argc - 2, argv + 2);
	/* a hvnetd that dies mid-request must not kill lab up before its
	 * rollback (not for exec: the command inherits the disposition) */
	signal(SIGPIPE, SIG_IGN);
	/* elsewhere --json / -j may stand anywhere */
	rest = argv + 2;
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0 || strcmp(argv[i], "-j") == 0)
			json = true;
		else
			rest[n++] = argv[i];
	}
	if (strcmp(argv[1], "up") == 0)
		return cmd_up(n, rest);
	if (strcmp(argv[1], "down") == 0)
		return cmd_down(n, rest);
	if (strcmp(argv[1], "status") == 0)
		return cmd_status(n, rest, json);
	if (strcmp(argv[1], "graph") == 0)
		return cmd_graph(n, rest);
	if (strcmp(argv[1], "console") == 0)
		return cmd_console(n, rest);
	if (strcmp(argv[1], "capture") == 0)
		return cmd_capture(n, rest, json);
	return lab_usage_error(
		"unknown command '%s' (up, down, status, exec, console, capture, graph)", argv[1]);
}
