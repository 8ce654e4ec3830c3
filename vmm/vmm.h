/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Guest lifecycle: one small interface, one implementation per guest kind.
 *
 * The lab launcher (cli/lab.c) drives every guest through the same steps,
 * and talks to hvnetd itself (vmm/ never does):
 *
 *   kind->create()        the guest's container exists (a network namespace;
 *                         later: a VM's state directory), before its ports
 *   kind->port_spec()     how hvnetd attaches each NIC (port.add kind and
 *                         options: a tap moved into the namespace; later:
 *                         vhost-user)
 *   kind->start()         after hvnetd has added the ports: configure and run
 *                         the guest (addresses, routes, link up; later: boot)
 *   kind->status()        is it running, and what does each NIC look like
 *   kind->exec()          run a command inside the guest
 *   kind->destroy()       remove everything create() and start() made; works
 *                         from the instance name alone (crash recovery), and
 *                         a guest that is already gone is not an error
 *
 * Library code: never prints, never exits (exec() excepted: on success it
 * does not return). Errors: 0 or -errno, with a message in ERR that says
 * what failed and for which guest. Not thread-safe across calls on one
 * guest; calls on different guests are independent.
 */
#ifndef HV_VMM_H
#define HV_VMM_H

#include <stdbool.h>
#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>

#include "firewall/lang/lang.h"

#define HV_VMM_MAX_ADDRS     16 /* addresses reported per NIC by status() */
#define HV_VMM_MAX_PORT_OPTS 8

/* One NIC as the launcher resolved it from the lab file. */
struct hv_vmm_nic {
	const char *name;    /* the interface inside the guest: "eth0" */
	const char *port;    /* the hvnetd port: "web1-eth0" */
	const char *segment; /* segment name */
	const char *tap;     /* tap kinds: kernel interface name before the move */
	bool has_mac;
	uint8_t mac[6];
	uint32_t mtu;		     /* 0: leave the default */
	const struct hv_prefix *ips; /* address with the interface's prefix length */
	size_t n_ips;
	/* default routes to add through this NIC; family 0: none */
	struct hv_prefix gw4, gw6;
};

struct hv_vmm_guest {
	const char *name;      /* as in the lab file: "web1" */
	const char *instance;  /* system-wide name, unique per lab: "LAB-web1" */
	const char *state_dir; /* the lab's state directory, for files a kind keeps */
	struct hv_vmm_nic *nics;
	size_t n_nics;
	/* qemu: 0 for the defaults (256 MiB, 1 CPU); image: a directory with
	 * vmlinuz and initrd.img, NULL for vmm/guest-image.sh's */
	uint64_t memory;
	uint32_t cpus;
	const char *image;
	/* qemu: each NIC is the existing tap device nic->tap (labs on the
	 * kernel datapath, cli/lab_kernel.c) instead of a vhost-user socket */
	bool tap_nics;
};

/* What hvnetd's port.add gets for one NIC. */
struct hv_vmm_port_spec {
	const char *kind; /* "tap" */
	size_t n_opts;
	struct {
		char key[16];
		char value[128];
	} opts[HV_VMM_MAX_PORT_OPTS];
};

/* One NIC as seen inside a running guest. */
struct hv_vmm_link {
	bool present; /* the interface exists in the guest */
	bool up;      /* administratively up (IFF_UP) */
	bool carrier; /* lower layer up (IFF_LOWER_UP) */
	uint8_t mac[6];
	uint32_t mtu;
	struct hv_prefix addrs[HV_VMM_MAX_ADDRS]; /* global scope only */
	size_t n_addrs;
	/* the guest's side cannot be read from the host (a VM): carrier is
	 * the switch port's link, MAC and addresses are the lab file's */
	bool from_switch;
};

struct hv_vmm_kind {
	const char *name; /* the `kind` word of the lab file */
	int (*create)(const struct hv_vmm_guest *g, char *err, size_t err_size);
	int (*port_spec)(const struct hv_vmm_guest *g, const struct hv_vmm_nic *nic,
			 struct hv_vmm_port_spec *spec, char *err, size_t err_size);
	int (*start)(const struct hv_vmm_guest *g, char *err, size_t err_size);
	/* true when the guest exists and runs */
	bool (*running)(const char *instance, const char *state_dir);
	/* the NIC named NIC in the guest; 0 (link->present false if missing) or -errno */
	int (*link_status)(const char *instance, const char *state_dir, const char *nic,
			   struct hv_vmm_link *link, char *err, size_t err_size);
	/* runs ARGV in the guest with stdout/stderr inherited: the command's
	 * exit status (0-255) when the kind waits for it (qemu), no return at
	 * all when it execs (netns), -errno when the command could not run */
	int (*exec)(const char *instance, const char *state_dir, char *const argv[], char *err,
		    size_t err_size);
	int (*destroy)(const char *instance, const char *state_dir, char *err, size_t err_size);
	/* attach the terminal to the guest's serial console until the escape
	 * key; NULL when the kind has none (netns) */
	int (*console)(const char *instance, const char *state_dir, char *err, size_t err_size);
};

/* The kind for a lab file's `kind` word; NULL when it is not supported yet. */
const struct hv_vmm_kind *hv_vmm_kind_of(enum hv_guest_kind kind);
/* By name ("netns"), for state files; NULL when unknown. */
const struct hv_vmm_kind *hv_vmm_kind_find(const char *name);

/*
 * The default routes of guest NIC N on segment SEG: for each family in which
 * N has an address inside one of SEG's subnets, SEG's gateway of that
 * family, into GW4 / GW6 (family 0: none). Both datapaths' labs use it.
 */
void hv_vmm_nic_gateways(const struct hv_segment *seg, const struct hv_nic *n,
			 struct hv_prefix *gw4, struct hv_prefix *gw6);

/*
 * Start ARGV detached (its own session; stdin /dev/null, stdout and stderr
 * appended to LOG; SIGINT ignored if IGNORE_SIGINT), double-forked so that it
 * is nobody's zombie when it ends. Its pid once it runs, or -errno (of the
 * exec when that failed). hvnetd and QEMU of labs are started this way.
 */
pid_t hv_proc_spawn(char *const argv[], const char *log, bool ignore_sigint);

/* The first process in /proc for which MATCH(pid, ARG) holds; 0 when none. */
pid_t hv_proc_find(bool (*match)(pid_t pid, const char *arg), const char *arg);
/*
 * REL (e.g. "../vswitch/hvnetd") relative to the directory of the running
 * executable, into OUT; true when it exists and is executable (a build tree
 * runs its own programs, not installed ones).
 */
bool hv_path_beside_self(const char *rel, char *out, size_t size);

extern const struct hv_vmm_kind hv_vmm_netns;
extern const struct hv_vmm_kind hv_vmm_qemu;

/* ---- network namespaces, for the netns kind and for tests ---- */

/* Create /run/netns/NAME (what `ip netns add NAME` does) with lo up.
 * -EEXIST when the name is taken. */
int hv_netns_create(const char *name, char *err, size_t err_size);
/* Kill what still runs in it, unmount and remove it; -ENOENT when absent. */
int hv_netns_delete(const char *name, char *err, size_t err_size);
bool hv_netns_exists(const char *name);

/* ---- the qemu kind's parts, for the launcher and for tests (vmm/qemu.c) ---- */

#define HV_QEMU_CMDLINE_MAX 2048 /* x86's COMMAND_LINE_SIZE, with the NUL */
#define HV_QEMU_ARGV_MAX    96

/* How QEMU is run: filled by hv_qemu_conf_default() from the environment. */
struct hv_qemu_conf {
	char qemu[256];	      /* $HVNET_QEMU, else qemu-system-x86_64 */
	char image_dir[256];  /* $HVNET_GUEST_IMAGE_DIR, else /var/cache/hvnet/guest */
	int version;	      /* QEMU's major version; -1: it cannot be run */
	bool kvm;	      /* /dev/kvm can be opened: -accel kvm, else tcg */
	bool msix_workaround; /* vectors=0 on vhost-user NICs (QEMU < 8: it crashes) */
};

/* The environment's configuration; probes /dev/kvm and QEMU's version
 * ($HVNET_QEMU_MSIX=on|off overrides the workaround). */
void hv_qemu_conf_default(struct hv_qemu_conf *conf);
/* QEMU's major version from `qemu-system-x86_64 --version` text; -1 if none. */
int hv_qemu_version_parse(const char *text);
/* The guest's own directory (sockets, pid, logs): STATE_DIR/INSTANCE. */
int hv_qemu_dir(const char *instance, const char *state_dir, char *buf, size_t size);
/* A MAC for a NIC the lab file gives none: 52:54:00 and three bytes of a
 * hash of the instance and NIC names, so that it is the same every time. */
void hv_qemu_mac_derive(const char *instance, const char *nic, uint8_t mac[6]);
/* The `hvnet.nic=NAME,MAC,MTU,ADDRS,GW4,GW6` word the guest's init reads
 * (vmm/guest-image.sh); -EINVAL for a name it cannot carry, -ENOSPC. */
int hv_qemu_nic_word(const struct hv_vmm_nic *nic, char *buf, size_t size);
/* The whole kernel command line; -ENOSPC (with ERR) past 2047 bytes. */
int hv_qemu_cmdline(const struct hv_vmm_guest *g, char *buf, size_t size, char *err,
		    size_t err_size);
/* QEMU's argv for G: NULL-terminated, malloc'd (hv_qemu_argv_free); NULL
 * with ERR on failure. */
char **hv_qemu_argv(const struct hv_qemu_conf *conf, const struct hv_vmm_guest *g, char *err,
		    size_t err_size);
void hv_qemu_argv_free(char **argv);

/* 0 when the guest's init answers on the exec channel within TIMEOUT_MS
 * (or a lab exec holds the channel), else -errno. */
int hv_qemu_ready(const char *instance, const char *state_dir, int timeout_ms);

/* ---- the exec channel (vmm/qemu_exec.c) ----
 *
 * Request, one line: `EXEC ID BASE64\n`, BASE64 the command as a shell
 * script (every argument single-quoted). Answer: while the command runs,
 * pieces of its output, each a line `HVNET-DATA ID STREAM LEN` (STREAM 1
 * stdout, 2 stderr) and LEN bytes; then a line `HVNET-EXEC ID OUTLEN ERRLEN
 * STATUS` and OUTLEN bytes of stdout and ERRLEN bytes of stderr (0 and 0
 * from the init of vmm/guest-image.sh, which sends everything in pieces).
 * Anything between these (an answer a killed client never read) is
 * skipped. The guest controls every byte of the answer. */

#define HV_EXEC_SCRIPT_MAX (64 * 1024)		/* the quoted command */
#define HV_EXEC_OUTPUT_MAX (256u * 1024 * 1024) /* per stream */
#define HV_EXEC_LINE_MAX   128			/* a header line */

/* The request line for ARGV with ID (16 hex digits); malloc'd in *OUT.
 * -E2BIG when the command is too long, -ENOMEM. */
int hv_exec_request(char *const argv[], const char *id, char **out, size_t *len);

struct hv_exec_reader {
	char id[32];
	int state; /* internal */
	char line[HV_EXEC_LINE_MAX];
	size_t line_len;
	bool line_long;
	uint64_t out_left, err_left;
	bool frame; /* in a HVNET-DATA piece */
	int status;
};

/* Called with each piece of the command's output: STREAM 1 or 2. */
typedef void (*hv_exec_sink)(void *arg, int stream, const uint8_t *data, size_t len);

void hv_exec_reader_init(struct hv_exec_reader *r, const char *id);
/* Feed LEN bytes; output goes to SINK. 1 when the answer is complete (its
 * status in r->status; *USED bytes were consumed), 0 when more is needed,
 * -EPROTO when the answer's header is malformed. */
int hv_exec_reader_feed(struct hv_exec_reader *r, const uint8_t *buf, size_t len, size_t *used,
			hv_exec_sink sink, void *arg);

/* Run ARGV in the guest whose exec socket is SOCK_PATH: output to OUT_FD
 * and ERR_FD (-1: discard); the exit status, or -errno (-ETIMEDOUT after
 * TIMEOUT_MS without the answer; -ECONNREFUSED when QEMU does not listen). */
int hv_exec_run(const char *sock_path, char *const argv[], int out_fd, int err_fd, int timeout_ms,
		char *err, size_t err_size);

/* The state of a unix socket PATH that someone listens on, from
 * /proc/net/unix: -ENOENT (no such socket file), 0 (nobody listens), 1
 * (listening, no peer connected), 2 (a peer is connected). */
int hv_unix_socket_state(const char *path);

#endif /* HV_VMM_H */
