/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The qemu guest kind: a QEMU virtual machine per guest, booted from the
 * image of vmm/guest-image.sh (the Debian kernel and a busybox initramfs),
 * with a virtio-net NIC per `nic` backed by vhost-user. QEMU owns every
 * socket (server=on, wait=off): hvnetd's ports are vhost-user clients, so a
 * restarted hvnetd connects again and the guest never notices more than a
 * link flap.
 *
 * Per guest, in STATE_DIR/INSTANCE/:
 *   qemu.pid      QEMU's pid (written by us right after the fork)
 *   qemu.log      QEMU's stdout and stderr
 *   console.sock  the serial console (ttyS0); console.log keeps its output
 *   exec.sock     the exec channel (virtio-serial port hvnet.exec)
 *   NIC.sock      one vhost-user socket per NIC
 *
 * QEMU runs in its own session, detached; destroy() kills it (SIGTERM, then
 * SIGKILL) after checking that the recorded pid still is this guest's QEMU.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "vmm/vmm.h"

#define QEMU_DEFAULT_MEMORY (256ull << 20)
#define QEMU_STOP_MS	    3000
#define EXEC_TIMEOUT_S	    300	 /* lab exec; $HVNET_EXEC_TIMEOUT overrides */
#define CONSOLE_ESCAPE	    0x1d /* Ctrl-] */

/* ---- configuration ---- */

int
hv_qemu_version_parse(const char *text)
{
	const char *p = strstr(text, "version ");
	int major;

	if (p == NULL || sscanf(p + 8, "%d.", &major) != 1 || major < 0)
		return -1;
	return major;
}

/* QEMU's major version, by running it; -1 when it cannot be run. */
static int
qemu_version(const char *qemu)
{
	char buf[512];
	int pfd[2], status;
	ssize_t n, got = 0;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC) != 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		dup2(pfd[1], 1);
		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 2);
		}
		execlp(qemu, qemu, "--version", (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	if (pid < 0) {
		close(pfd[0]);
		return -1;
	}
	while (got < (ssize_t)sizeof(buf) - 1 &&
	       (n = read(pfd[0], buf + got, sizeof(buf) - 1 - (size_t)got)) > 0)
		got += n;
	buf[got] = '\0';
	close(pfd[0]);
	waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return -1;
	return hv_qemu_version_parse(buf);
}

void
hv_qemu_conf_default(struct hv_qemu_conf *conf)
{
	const char *q = getenv("HVNET_QEMU"), *img = getenv("HVNET_GUEST_IMAGE_DIR");
	const char *msix = getenv("HVNET_QEMU_MSIX");
	int fd, major;

	memset(conf, 0, sizeof(*conf));
	snprintf(conf->qemu, sizeof(conf->qemu), "%s", q && *q ? q : "qemu-system-x86_64");
	snprintf(conf->image_dir, sizeof(conf->image_dir), "%s",
		 img && *img ? img : "/var/cache/hvnet/guest");
	fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	conf->kvm = fd >= 0;
	if (fd >= 0)
		close(fd);
	/* QEMU 7.2 (Debian 12) segfaults in msix_set_vector_notifiers when a
	 * vhost-user virtio-net-pci device uses MSI-X (measured under TCG);
	 * vectors=0 avoids it. Newer QEMUs get MSI-X unless told otherwise. */
	major = qemu_version(conf->qemu);
	conf->version = major;
	if (msix && strcmp(msix, "off") == 0)
		conf->msix_workaround = true;
	else if (msix && strcmp(msix, "on") == 0)
		conf->msix_workaround = false;
	else
		conf->msix_workaround = major < 8;
}

int
hv_qemu_dir(const char *instance, const char *state_dir, char *buf, size_t size)
{
	if (instance[0] == '\0' || strchr(instance, '/') != NULL || instance[0] == '.')
		return -EINVAL;
	if ((size_t)snprintf(buf, size, "%s/%s", state_dir, instance) >= size)
		return -ENAMETOOLONG;
	return 0;
}

void
hv_qemu_mac_derive(const char *instance, const char *nic, uint8_t mac[6])
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (const char *s = instance; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	h = (h ^ '/') * 16777619u;
	for (const char *s = nic; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	mac[0] = 0x52;
	mac[1] = 0x54;
	mac[2] = 0x00;
	mac[3] = (uint8_t)(h >> 16);
	mac[4] = (uint8_t)(h >> 8);
	mac[5] = (uint8_t)h;
}

/* a name the init's word splitting keeps whole */
static bool
word_safe(const char *s)
{
	if (s == NULL || *s == '\0')
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' || *s == '.'))
			return false;
	return true;
}

int
hv_qemu_nic_word(const struct hv_vmm_nic *nic, char *buf, size_t size)
{
	char a[64];
	size_t n = 0;

#define PUT(...)                                                                  \
	do {                                                                      \
		int w_ = snprintf(buf + n, n < size ? size - n : 0, __VA_ARGS__); \
		if (w_ < 0 || (size_t)w_ >= (n < size ? size - n : 0))            \
			return -ENOSPC;                                           \
		n += (size_t)w_;                                                  \
	} while (0)

	if (!word_safe(nic->name) || !nic->has_mac)
		return -EINVAL;
	PUT("hvnet.nic=%s,%02x:%02x:%02x:%02x:%02x:%02x,%u,", nic->name, nic->mac[0], nic->mac[1],
	    nic->mac[2], nic->mac[3], nic->mac[4], nic->mac[5], nic->mtu);
	for (size_t i = 0; i < nic->n_ips; i++) {
		hv_prefix_format(&nic->ips[i], a, sizeof(a));
		PUT("%s%s", i ? "+" : "", a);
	}
	PUT(",");
	if (nic->gw4.family) {
		hv_prefix_format(&nic->gw4, a, sizeof(a));
		PUT("%s", a);
	}
	PUT(",");
	if (nic->gw6.family) {
		hv_prefix_format(&nic->gw6, a, sizeof(a));
		PUT("%s", a);
	}
#undef PUT
	return 0;
}

int
hv_qemu_cmdline(const struct hv_vmm_guest *g, char *buf, size_t size, char *err, size_t err_size)
{
	size_t n;
	int w;

	if (!word_safe(g->name)) {
		snprintf(err, err_size, "guest %s: the name cannot go on a kernel command line",
			 g->name);
		return -EINVAL;
	}
	if (size > HV_QEMU_CMDLINE_MAX)
		size = HV_QEMU_CMDLINE_MAX;
	w = snprintf(buf, size, "console=ttyS0 panic=-1 quiet hvnet.name=%s", g->name);
	if (w < 0 || (size_t)w >= size)
		goto nospc;
	n = (size_t)w;
	for (size_t i = 0; i < g->n_nics; i++) {
		int rc;

		if (n + 1 >= size)
			goto nospc;
		buf[n++] = ' ';
		rc = hv_qemu_nic_word(&g->nics[i], buf + n, size - n);
		if (rc == -EINVAL) {
			snprintf(err, err_size,
				 "guest %s, nic %s: the name cannot go on a kernel command line",
				 g->name, g->nics[i].name);
			return rc;
		}
		if (rc != 0)
			goto nospc;
		n += strlen(buf + n);
	}
	return 0;
nospc:
	snprintf(
		err, err_size,
		"guest %s: its NICs' configuration does not fit the kernel command line (%d bytes); fewer addresses or NICs",
		g->name, HV_QEMU_CMDLINE_MAX - 1);
	return -ENOSPC;
}

void
hv_qemu_argv_free(char **argv)
{
	for (size_t i = 0; argv && argv[i]; i++)
		free(argv[i]);
	free(argv);
}

char **
hv_qemu_argv(const struct hv_qemu_conf *conf, const struct hv_vmm_guest *g, char *err,
	     size_t err_size)
{
	char **argv = calloc(HV_QEMU_ARGV_MAX + 1, sizeof(*argv));
	char dir[PATH_MAX], cmdline[HV_QEMU_CMDLINE_MAX], img[PATH_MAX];
	uint64_t mem = g->memory ? g->memory : QEMU_DEFAULT_MEMORY;
	size_t n = 0;
	bool bad = false;

#define ARG(...)                                                                    \
	do {                                                                        \
		if (n >= HV_QEMU_ARGV_MAX || asprintf(&argv[n], __VA_ARGS__) < 0) { \
			argv[n] = NULL;                                             \
			bad = true;                                                 \
		} else {                                                            \
			n++;                                                        \
		}                                                                   \
	} while (0)

	if (argv == NULL) {
		snprintf(err, err_size, "out of memory");
		return NULL;
	}
	if (hv_qemu_dir(g->instance, g->state_dir, dir, sizeof(dir)) != 0) {
		snprintf(err, err_size, "guest %s: bad instance name %s", g->name, g->instance);
		goto fail;
	}
	if (hv_qemu_cmdline(g, cmdline, sizeof(cmdline), err, err_size) != 0)
		goto fail;
	snprintf(img, sizeof(img), "%s", g->image ? g->image : conf->image_dir);
	/* one path per socket: sun_path holds 107 bytes */
	for (size_t i = 0; i < g->n_nics; i++) {
		if (strlen(dir) + strlen(g->nics[i].name) + 7 > 107) {
			snprintf(
				err, err_size,
				"guest %s, nic %s: the socket path %s/%s.sock is longer than 107 bytes; shorten the lab or guest name",
				g->name, g->nics[i].name, dir, g->nics[i].name);
			goto fail;
		}
	}
	if (strlen(dir) + 13 > 107) {
		snprintf(
			err, err_size,
			"guest %s: the socket path %s/console.sock is longer than 107 bytes; shorten the lab or guest name",
			g->name, dir);
		goto fail;
	}
	ARG("%s", conf->qemu);
	ARG("-name");
	ARG("%s", g->instance);
	ARG("-accel");
	ARG("%s", conf->kvm ? "kvm" : "tcg");
	if (conf->kvm) {
		ARG("-cpu");
		ARG("host");
	}
	ARG("-smp");
	ARG("%u", g->cpus ? g->cpus : 1);
	ARG("-m");
	ARG("%lluM", (unsigned long long)(mem >> 20));
	/* vhost-user maps the guest's memory: it must be shareable */
	ARG("-object");
	ARG("memory-backend-memfd,id=mem,size=%lluM,share=on", (unsigned long long)(mem >> 20));
	ARG("-numa");
	ARG("node,memdev=mem");
	ARG("-nodefaults");
	ARG("-no-user-config");
	ARG("-display");
	ARG("none");
	ARG("-no-reboot");
	ARG("-kernel");
	ARG("%s/vmlinuz", img);
	ARG("-initrd");
	ARG("%s/initrd.img", img);
	ARG("-append");
	ARG("%s", cmdline);
	ARG("-chardev");
	ARG("socket,id=con,path=%s/console.sock,server=on,wait=off,logfile=%s/console.log", dir,
	    dir);
	ARG("-serial");
	ARG("chardev:con");
	ARG("-device");
	ARG("virtio-serial-pci,id=vser");
	ARG("-chardev");
	ARG("socket,id=exec,path=%s/exec.sock,server=on,wait=off", dir);
	ARG("-device");
	ARG("virtserialport,bus=vser.0,chardev=exec,name=hvnet.exec");
	for (size_t i = 0; i < g->n_nics; i++) {
		const struct hv_vmm_nic *nic = &g->nics[i];

		if (g->tap_nics) {
			/* a tap the caller made (and bridged); no MSI-X workaround */
			ARG("-netdev");
			ARG("tap,id=net%zu,ifname=%s,script=no,downscript=no", i,
			    nic->tap ? nic->tap : "");
		} else {
			ARG("-chardev");
			ARG("socket,id=nic%zu,path=%s/%s.sock,server=on,wait=off", i, dir,
			    nic->name);
			ARG("-netdev");
			ARG("vhost-user,id=net%zu,chardev=nic%zu", i, i);
		}
		ARG("-device");
		ARG("virtio-net-pci,netdev=net%zu,mac=%02x:%02x:%02x:%02x:%02x:%02x%s", i,
		    nic->mac[0], nic->mac[1], nic->mac[2], nic->mac[3], nic->mac[4], nic->mac[5],
		    conf->msix_workaround && !g->tap_nics ? ",vectors=0" : "");
	}
#undef ARG
	if (bad) {
		snprintf(err, err_size, "guest %s: too many QEMU arguments (NICs) or out of memory",
			 g->name);
		goto fail;
	}
	return argv;
fail:
	hv_qemu_argv_free(argv);
	return NULL;
}

/* ---- processes ---- */

static pid_t
pid_read(const char *dir)
{
	char path[PATH_MAX + 16], buf[32];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/qemu.pid", dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return (pid_t)strtol(buf, NULL, 10);
}

/* true when PID runs (not a zombie) */
static bool
proc_alive(pid_t pid)
{
	char path[64], stat[512], *p;
	ssize_t n;
	int fd;

	if (pid <= 0)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, stat, sizeof(stat) - 1);
	close(fd);
	if (n <= 0)
		return false;
	stat[n] = '\0';
	p = strrchr(stat, ')');
	return p != NULL && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

/* true when PID is a live QEMU started with -name INSTANCE */
static bool
pid_is_guest(pid_t pid, const char *instance)
{
	char path[64], buf[8192];
	const char *a, *prev = "";
	ssize_t n;
	int fd;
	bool named = false;

	if (!proc_alive(pid))
		return false;
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	for (a = buf; a < buf + n; a += strlen(a) + 1) {
		if (strcmp(prev, "-name") == 0 && strcmp(a, instance) == 0)
			named = true;
		prev = a;
	}
	return named;
}

/* The QEMU of INSTANCE: the recorded pid if it still is one, else a scan
 * of /proc (lab up may have died between the fork and the pid file). */
static pid_t
guest_find(const char *dir, const char *instance)
{
	pid_t pid = pid_read(dir);

	if (pid_is_guest(pid, instance))
		return pid;
	return hv_proc_find(pid_is_guest, instance);
}

static int
guest_dir(const char *instance, const char *state_dir, char *dir, size_t size, char *err,
	  size_t err_size)
{
	if (hv_qemu_dir(instance, state_dir, dir, size) != 0) {
		snprintf(err, err_size, "'%s' cannot name a QEMU guest", instance);
		return -EINVAL;
	}
	return 0;
}

static int
qemu_create(const struct hv_vmm_guest *g, char *err, size_t err_size)
{
	char dir[PATH_MAX];
	int rc = guest_dir(g->instance, g->state_dir, dir, sizeof(dir), err, err_size);

	if (rc != 0)
		return rc;
	if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
		rc = -errno;
		snprintf(err, err_size, "cannot create %s: %s", dir, strerror(errno));
		return rc;
	}
	if (guest_find(dir, g->instance) > 0) {
		snprintf(err, err_size, "QEMU of %s runs already (pid %d)", g->instance,
			 (int)guest_find(dir, g->instance));
		return -EEXIST;
	}
	return 0;
}

static int
qemu_port_spec(const struct hv_vmm_guest *g, const struct hv_vmm_nic *nic,
	       struct hv_vmm_port_spec *spec, char *err, size_t err_size)
{
	char dir[PATH_MAX];
	int rc = guest_dir(g->instance, g->state_dir, dir, sizeof(dir), err, err_size);

	if (rc != 0)
		return rc;
	spec->kind = "vhost-user";
	snprintf(spec->opts[0].key, sizeof(spec->opts[0].key), "path");
	if ((size_t)snprintf(spec->opts[0].value, sizeof(spec->opts[0].value), "%s/%s.sock", dir,
			     nic->name) >= 108) {
		snprintf(
			err, err_size,
			"guest %s, nic %s: the socket path %s/%s.sock is longer than 107 bytes; shorten the lab or guest name",
			g->name, nic->name, dir, nic->name);
		return -ENAMETOOLONG;
	}
	/* QEMU owns the socket: hvnetd connects, and connects again after a restart */
	snprintf(spec->opts[1].key, sizeof(spec->opts[1].key), "mode");
	snprintf(spec->opts[1].value, sizeof(spec->opts[1].value), "client");
	spec->n_opts = 2;
	if (nic->mtu) {
		snprintf(spec->opts[2].key, sizeof(spec->opts[2].key), "mtu");
		snprintf(spec->opts[2].value, sizeof(spec->opts[2].value), "%u", nic->mtu);
		spec->n_opts = 3;
	}
	return 0;
}

static int
qemu_start(const struct hv_vmm_guest *g, char *err, size_t err_size)
{
	struct hv_qemu_conf conf;
	char dir[PATH_MAX], path[PATH_MAX + 32];
	char **argv;
	pid_t pid;
	int rc;
	FILE *f;

	rc = guest_dir(g->instance, g->state_dir, dir, sizeof(dir), err, err_size);
	if (rc != 0)
		return rc;
	hv_qemu_conf_default(&conf);
	snprintf(path, sizeof(path), "%s/vmlinuz", g->image ? g->image : conf.image_dir);
	if (access(path, R_OK) != 0) {
		snprintf(err, err_size, "no guest image: %s: %s (vmm/guest-image.sh builds it)",
			 path, strerror(errno));
		return -ENOENT;
	}
	argv = hv_qemu_argv(&conf, g, err, err_size);
	if (argv == NULL)
		return -EINVAL;
	/* stale sockets of an earlier run would make QEMU's bind fail */
	for (size_t i = 0; i < g->n_nics; i++) {
		snprintf(path, sizeof(path), "%s/%s.sock", dir, g->nics[i].name);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/console.sock", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/exec.sock", dir);
	unlink(path);

	snprintf(path, sizeof(path), "%s/qemu.log", dir);
	pid = hv_proc_spawn(argv, path, true); /* a Ctrl-C of lab up is for lab up */
	if (pid < 0) {
		rc = (int)pid;
		snprintf(err, err_size, "cannot run %s: %s", argv[0], strerror((int)-pid));
		goto free;
	}
	snprintf(path, sizeof(path), "%s/qemu.pid", dir);
	f = fopen(path, "w");
	if (f == NULL) {
		rc = -errno;
		kill(pid, SIGKILL);
		snprintf(err, err_size, "cannot write %s: %s", path, strerror(errno));
		goto free;
	}
	fprintf(f, "%d\n", (int)pid);
	fclose(f);
	/* a bad option or a missing binary ends it at once */
	for (int i = 0; i < 10; i++) {
		usleep(50000);
		if (!pid_is_guest(pid, g->instance)) {
			char line[256] = "";

			snprintf(path, sizeof(path), "%s/qemu.log", dir);
			f = fopen(path, "r");
			while (f != NULL && fgets(line, sizeof(line), f) != NULL)
				if (strstr(line, "qemu") || strstr(line, "cannot"))
					break;
			if (f != NULL)
				fclose(f);
			line[strcspn(line, "\n")] = '\0';
			snprintf(err, err_size, "QEMU (%s) exited at once: %s (log %s)", conf.qemu,
				 line[0] ? line : "no message", path);
			rc = -ECHILD;
			goto free;
		}
	}
	rc = 0;
free:
	hv_qemu_argv_free(argv);
	return rc;
}

static bool
qemu_running(const char *instance, const char *state_dir)
{
	char dir[PATH_MAX];

	if (hv_qemu_dir(instance, state_dir, dir, sizeof(dir)) != 0)
		return false;
	return pid_is_guest(pid_read(dir), instance);
}

static int
qemu_link_status(const char *instance, const char *state_dir, const char *nic,
		 struct hv_vmm_link *link, char *err, size_t err_size)
{
	(void)nic;
	(void)err;
	(void)err_size;
	memset(link, 0, sizeof(*link));
	link->from_switch = true;
	link->present = qemu_running(instance, state_dir);
	link->up = link->present;
	return 0;
}

int
hv_qemu_ready(const char *instance, const char *state_dir, int timeout_ms)
{
	char dir[PATH_MAX], path[PATH_MAX + 16], err[256];
	char *probe[] = {"true", NULL};
	int lock, rc;

	rc = guest_dir(instance, state_dir, dir, sizeof(dir), err, sizeof(err));
	if (rc != 0)
		return rc;
	snprintf(path, sizeof(path), "%s/exec.lock", dir);
	lock = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lock >= 0 && flock(lock, LOCK_EX | LOCK_NB) != 0) {
		/* a lab exec holds the channel: the init serves it */
		close(lock);
		return 0;
	}
	snprintf(path, sizeof(path), "%s/exec.sock", dir);
	rc = hv_exec_run(path, probe, -1, -1, timeout_ms, err, sizeof(err));
	if (lock >= 0)
		close(lock);
	return rc == 0 ? 0 : rc < 0 ? rc : -EIO;
}

static int
qemu_exec(const char *instance, const char *state_dir, char *const argv[], char *err,
	  size_t err_size)
{
	char dir[PATH_MAX], path[PATH_MAX + 16];
	const char *t = getenv("HVNET_EXEC_TIMEOUT");
	int timeout_s = t && atoi(t) > 0 ? atoi(t) : EXEC_TIMEOUT_S;
	int lock, rc;

	rc = guest_dir(instance, state_dir, dir, sizeof(dir), err, err_size);
	if (rc != 0)
		return rc;
	/* QEMU serves one connection at a time: one exec at a time */
	snprintf(path, sizeof(path), "%s/exec.lock", dir);
	lock = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lock >= 0)
		flock(lock, LOCK_EX);
	snprintf(path, sizeof(path), "%s/exec.sock", dir);
	rc = hv_exec_run(path, argv, 1, 2, timeout_s * 1000, err, err_size);
	if (lock >= 0)
		close(lock);
	return rc;
}

static int
qemu_destroy(const char *instance, const char *state_dir, char *err, size_t err_size)
{
	char dir[PATH_MAX];
	pid_t pid;
	DIR *d;
	struct dirent *e;
	int rc;

	rc = guest_dir(instance, state_dir, dir, sizeof(dir), err, err_size);
	if (rc != 0)
		return rc;
	pid = guest_find(dir, instance);
	if (pid > 0) {
		kill(pid, SIGTERM);
		for (int i = 0; i < QEMU_STOP_MS / 50 && pid_is_guest(pid, instance); i++)
			usleep(50000);
		if (pid_is_guest(pid, instance)) {
			kill(pid, SIGKILL);
			for (int i = 0; i < 100 && pid_is_guest(pid, instance); i++)
				usleep(50000);
		}
		if (pid_is_guest(pid, instance)) {
			snprintf(err, err_size, "QEMU of %s (pid %d) does not stop", instance,
				 (int)pid);
			return -EBUSY;
		}
	}
	/* the files are all ours: sockets, logs, pid, lock */
	d = opendir(dir);
	if (d == NULL)
		return errno == ENOENT ? 0 : -errno;
	while ((e = readdir(d)) != NULL) {
		char p[PATH_MAX + 256];

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		unlink(p);
	}
	closedir(d);
	if (rmdir(dir) != 0 && errno != ENOENT) {
		rc = -errno;
		snprintf(err, err_size, "cannot remove %s: %s", dir, strerror(errno));
		return rc;
	}
	return 0;
}

/* ---- the console ---- */

static int
qemu_console(const char *instance, const char *state_dir, char *err, size_t err_size)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char dir[PATH_MAX];
	struct termios saved, raw;
	bool tty = isatty(0);
	int fd, rc;

	rc = guest_dir(instance, state_dir, dir, sizeof(dir), err, err_size);
	if (rc != 0)
		return rc;
	if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/console.sock", dir) >=
	    sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	/* QEMU serves one client; a second would wait in silence */
	if (hv_unix_socket_state(sa.sun_path) == 2) {
		snprintf(
			err, err_size,
			"another lab console is attached to it (%s); leave that one first (Ctrl-])",
			sa.sun_path);
		return -EBUSY;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		rc = -errno;
		snprintf(err, err_size, "cannot connect to the console %s: %s", sa.sun_path,
			 strerror(errno));
		if (fd >= 0)
			close(fd);
		return rc;
	}
	if (tty && tcgetattr(0, &saved) == 0) {
		raw = saved;
		cfmakeraw(&raw);
		tcsetattr(0, TCSANOW, &raw);
	} else {
		tty = false;
	}
	for (bool done = false; !done;) {
		struct pollfd p[2] = {{.fd = 0, .events = POLLIN}, {.fd = fd, .events = POLLIN}};
		uint8_t buf[4096];
		ssize_t n;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents) {
			n = read(fd, buf, sizeof(buf));
			if (n <= 0)
				break; /* QEMU went away */
			if (write(1, buf, (size_t)n) < 0)
				break;
		}
		if (p[0].revents) {
			n = read(0, buf, sizeof(buf));
			if (n <= 0)
				break;
			for (ssize_t i = 0; i < n; i++)
				if (buf[i] == CONSOLE_ESCAPE) {
					n = i;
					done = true;
				}
			if (n > 0 && send(fd, buf, (size_t)n, MSG_NOSIGNAL) < 0)
				break;
		}
	}
	if (tty)
		tcsetattr(0, TCSANOW, &saved);
	close(fd);
	return 0;
}

const struct hv_vmm_kind hv_vmm_qemu = {
	.name = "qemu",
	.create = qemu_create,
	.port_spec = qemu_port_spec,
	.start = qemu_start,
	.running = qemu_running,
	.link_status = qemu_link_status,
	.exec = qemu_exec,
	.destroy = qemu_destroy,
	.console = qemu_console,
};
