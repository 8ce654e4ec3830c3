/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for the qemu guest kind's offline parts (vmm/qemu.c,
 * vmm/qemu_exec.c): the NIC words of the kernel command line the guest's
 * init reads, QEMU's argv, the MAC of a NIC without one, the exec channel's
 * request and the reader of its answers, and the unix socket probe behind
 * lab status's reasons.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "vmm/vmm.h"

static struct hv_prefix
pfx(const char *s, uint8_t plen)
{
	struct hv_prefix p;
	bool hb;

	assert_true(hv_prefix_parse(s, &p, &hb));
	p.plen = plen;
	return p;
}

static struct hv_vmm_nic
nic_make(struct hv_prefix *ips, size_t n)
{
	struct hv_vmm_nic nic = {.name = "eth0", .port = "vm1-eth0", .segment = "app"};

	nic.has_mac = true;
	memcpy(nic.mac, (uint8_t[]){0x52, 0x54, 0x00, 0x40, 0x00, 0x11}, 6);
	nic.ips = ips;
	nic.n_ips = n;
	return nic;
}

static void
version_parse(void **state)
{
	(void)state;
	assert_int_equal(
		hv_qemu_version_parse("QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7)\n"), 7);
	assert_int_equal(hv_qemu_version_parse("QEMU emulator version 10.1.0\n"), 10);
	assert_int_equal(hv_qemu_version_parse("qemu: not found"), -1);
	assert_int_equal(hv_qemu_version_parse("version x"), -1);
}

static void
mac_derive(void **state)
{
	uint8_t a[6], b[6], c[6];

	(void)state;
	hv_qemu_mac_derive("lab-vm1", "eth0", a);
	hv_qemu_mac_derive("lab-vm1", "eth0", b);
	hv_qemu_mac_derive("lab-vm1", "eth1", c);
	assert_memory_equal(a, b, 6);
	assert_memory_not_equal(a, c, 6);
	assert_int_equal(a[0], 0x52);
	assert_int_equal(a[1], 0x54);
	assert_int_equal(a[2], 0x00);
}

static void
nic_word(void **state)
{
	struct hv_prefix ips[2] = {pfx("10.40.0.11", 24), pfx("fd00:40::11", 64)};
	struct hv_vmm_nic nic = nic_make(ips, 2);
	char buf[256];

	(void)state;
	nic.mtu = 1400;
	nic.gw4 = pfx("10.40.0.1", 32);
	nic.gw6 = pfx("fd00:40::1", 128);
	assert_int_equal(hv_qemu_nic_word(&nic, buf, sizeof(buf)), 0);
	assert_string_equal(
		buf,
		"hvnet.nic=eth0,52:54:00:40:00:11,1400,10.40.0.11/24+fd00:40::11/64,10.40.0.1,fd00:40::1");

	/* no addresses, no gateways: the fields stay, empty */
	nic = nic_make(NULL, 0);
	assert_int_equal(hv_qemu_nic_word(&nic, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "hvnet.nic=eth0,52:54:00:40:00:11,0,,,");

	/* the init splits on ',' and spaces: such names cannot be carried */
	nic.name = "e,th0";
	assert_int_equal(hv_qemu_nic_word(&nic, buf, sizeof(buf)), -EINVAL);
	nic.name = "eth 0";
	assert_int_equal(hv_qemu_nic_word(&nic, buf, sizeof(buf)), -EINVAL);
	nic.name = "eth0";
	nic.has_mac = false;
	assert_int_equal(hv_qemu_nic_word(&nic, buf, sizeof(buf)), -EINVAL);
	nic.has_mac = true;
	assert_int_equal(hv_qemu_nic_word(&nic, buf, 20), -ENOSPC);
}

static void
cmdline_bound(void **state)
{
	struct hv_prefix *ips = calloc(HV_VMM_MAX_ADDRS * 8, sizeof(*ips));
	struct hv_vmm_nic nics[4];
	struct hv_vmm_guest g = {.name = "vm1", .instance = "lab-vm1", .state_dir = "/run/x"};
	char buf[HV_QEMU_CMDLINE_MAX], err[256];

	(void)state;
	assert_non_null(ips);
	for (size_t i = 0; i < HV_VMM_MAX_ADDRS * 8; i++)
		ips[i] = pfx("fd00:4000:4000:4000:4000:4000:4000:4011", 64);
	for (size_t i = 0; i < 4; i++)
		nics[i] = nic_make(ips, 2);
	g.nics = nics;
	g.n_nics = 1;
	assert_int_equal(hv_qemu_cmdline(&g, buf, sizeof(buf), err, sizeof(err)), 0);
	assert_string_equal(
		buf,
		"console=ttyS0 panic=-1 quiet hvnet.name=vm1 hvnet.nic=eth0,52:54:00:40:00:11,0,"
		"fd00:4000:4000:4000:4000:4000:4000:4011/64+"
		"fd00:4000:4000:4000:4000:4000:4000:4011/64,,");
	/* past 2047 bytes: refused with the guest's name, never truncated */
	for (size_t i = 0; i < 4; i++)
		nics[i] = nic_make(ips, HV_VMM_MAX_ADDRS * 2);
	g.n_nics = 4;
	assert_int_equal(hv_qemu_cmdline(&g, buf, sizeof(buf), err, sizeof(err)), -ENOSPC);
	assert_non_null(strstr(err, "guest vm1"));
	free(ips);
}

static bool
argv_has(char **argv, const char *s)
{
	for (size_t i = 0; argv[i]; i++)
		if (strcmp(argv[i], s) == 0)
			return true;
	return false;
}

static void
argv_build(void **state)
{
	struct hv_prefix ips[1] = {pfx("10.40.0.11", 24)};
	struct hv_vmm_nic nic = nic_make(ips, 1);
	struct hv_vmm_guest g = {.name = "vm1",
				 .instance = "lab-vm1",
				 .state_dir = "/run/hvnet/labs/lab",
				 .nics = &nic,
				 .n_nics = 1,
				 .memory = 128ull << 20};
	struct hv_qemu_conf conf = {.qemu = "qemu-system-x86_64",
				    .image_dir = "/var/cache/hvnet/guest",
				    .version = 7,
				    .msix_workaround = true};
	char err[256], **argv;

	(void)state;
	argv = hv_qemu_argv(&conf, &g, err, sizeof(err));
	assert_non_null(argv);
	assert_string_equal(argv[0], "qemu-system-x86_64");
	assert_true(argv_has(argv, "tcg"));
	assert_false(argv_has(argv, "kvm"));
	assert_true(argv_has(argv, "128M"));
	assert_true(argv_has(argv, "memory-backend-memfd,id=mem,size=128M,share=on"));
	assert_true(argv_has(argv, "/var/cache/hvnet/guest/vmlinuz"));
	assert_true(argv_has(
		argv,
		"socket,id=nic0,path=/run/hvnet/labs/lab/lab-vm1/eth0.sock,server=on,wait=off"));
	assert_true(argv_has(argv, "vhost-user,id=net0,chardev=nic0"));
	assert_true(argv_has(argv, "virtio-net-pci,netdev=net0,mac=52:54:00:40:00:11,vectors=0"));
	assert_true(argv_has(
		argv,
		"socket,id=exec,path=/run/hvnet/labs/lab/lab-vm1/exec.sock,server=on,wait=off"));
	assert_true(argv_has(argv, "virtserialport,bus=vser.0,chardev=exec,name=hvnet.exec"));
	hv_qemu_argv_free(argv);

	/* KVM, a QEMU without the MSI-X crash, the guest's own image */
	conf.kvm = true;
	conf.msix_workaround = false;
	g.image = "/srv/img";
	argv = hv_qemu_argv(&conf, &g, err, sizeof(err));
	assert_non_null(argv);
	assert_true(argv_has(argv, "kvm"));
	assert_true(argv_has(argv, "host"));
	assert_true(argv_has(argv, "/srv/img/initrd.img"));
	assert_true(argv_has(argv, "virtio-net-pci,netdev=net0,mac=52:54:00:40:00:11"));
	hv_qemu_argv_free(argv);

	/* tap NICs (labs on the kernel datapath): no vhost-user socket, no
	 * MSI-X workaround */
	conf.msix_workaround = true;
	nic.tap = "vm1-eth0";
	g.tap_nics = true;
	argv = hv_qemu_argv(&conf, &g, err, sizeof(err));
	assert_non_null(argv);
	assert_true(argv_has(argv, "tap,id=net0,ifname=vm1-eth0,script=no,downscript=no"));
	assert_false(argv_has(argv, "vhost-user,id=net0,chardev=nic0"));
	assert_true(argv_has(argv, "virtio-net-pci,netdev=net0,mac=52:54:00:40:00:11"));
	hv_qemu_argv_free(argv);
	g.tap_nics = false;

	/* sun_path holds 107 bytes */
	g.state_dir =
		"/run/hvnet/labs/a-lab-name-that-is-long/and-a-directory-that-is-longer-still-for-it";
	g.instance = "a-lab-name-that-is-long-vm1";
	argv = hv_qemu_argv(&conf, &g, err, sizeof(err));
	assert_null(argv);
	assert_non_null(strstr(err, "longer than 107 bytes"));
}

/* base64 decoding for the test only */
static size_t
b64_decode(const char *in, char *out)
{
	static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint32_t v = 0;
	int bits = 0;
	size_t n = 0;

	for (; *in && *in != '\n' && *in != '='; in++) {
		v = (v << 6) | (uint32_t)(strchr(t, *in) - t);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (char)(v >> bits);
		}
	}
	out[n] = '\0';
	return n;
}

static void
exec_request(void **state)
{
	char *argv[] = {"echo", "it's", "a b", "", NULL};
	char *line, script[256];
	size_t len;

	(void)state;
	assert_int_equal(hv_exec_request(argv, "00ff", &line, &len), 0);
	assert_int_equal(len, strlen(line));
	assert_true(strncmp(line, "EXEC 00ff ", 10) == 0);
	assert_int_equal(line[len - 1], '\n');
	assert_null(strchr(line + 10, ' '));
	b64_decode(line + 10, script);
	assert_string_equal(script, "'echo' 'it'\\''s' 'a b' ''");
	free(line);

	char *big = malloc(HV_EXEC_SCRIPT_MAX + 1);
	char *bargv[] = {big, NULL};

	assert_non_null(big);
	memset(big, 'x', HV_EXEC_SCRIPT_MAX);
	big[HV_EXEC_SCRIPT_MAX] = '\0';
	assert_int_equal(hv_exec_request(bargv, "00ff", &line, &len), -E2BIG);
	free(big);
}

struct outbuf {
	char out[256], err[256];
	size_t n_out, n_err;
};

static void
collect(void *arg, int stream, const uint8_t *data, size_t len)
{
	struct outbuf *o = arg;
	char *b = stream == 1 ? o->out : o->err;
	size_t *n = stream == 1 ? &o->n_out : &o->n_err;

	assert_true(*n + len < sizeof(o->out));
	memcpy(b + *n, data, len);
	*n += len;
	b[*n] = '\0';
}

/* feed S one byte at a time; the reader's result */
static int
feed_bytes(struct hv_exec_reader *r, const char *s, size_t len, struct outbuf *o, size_t *consumed)
{
	int rc = 0;

	*consumed = 0;
	for (size_t i = 0; i < len && rc == 0; i++) {
		size_t used;

		rc = hv_exec_reader_feed(r, (const uint8_t *)s + i, 1, &used, collect, o);
		*consumed += used;
	}
	return rc;
}

static void
exec_reader(void **state)
{
	static const char stale[] = "old output of a killed client\n"
				    "HVNET-EXEC 1111 3 0 0\nabc\n"
				    "HVNET-EXEC abcd 4 3 7\nout\nerr\nafter";
	struct hv_exec_reader r;
	struct outbuf o = {0};
	size_t used;

	(void)state;
	/* skips what came before, and another id's answer with its body */
	hv_exec_reader_init(&r, "abcd");
	assert_int_equal(feed_bytes(&r, stale, sizeof(stale) - 1, &o, &used), 1);
	assert_int_equal(r.status, 7);
	assert_string_equal(o.out, "out\n");
	assert_string_equal(o.err, "err");
	assert_int_equal(used, sizeof(stale) - 1 - strlen("\nafter"));

	/* all in one piece, empty streams */
	memset(&o, 0, sizeof(o));
	hv_exec_reader_init(&r, "abcd");
	assert_int_equal(hv_exec_reader_feed(&r, (const uint8_t *)"\nHVNET-EXEC abcd 0 0 0\n", 23,
					     &used, collect, &o),
			 1);
	assert_int_equal(r.status, 0);
	assert_int_equal(o.n_out + o.n_err, 0);

	/* output in pieces while the command runs, then the end; a piece
	 * holding something that looks like a header is still output */
	static const char pieces[] = "\nHVNET-DATA abcd 1 4\nout\n"
				     "\nHVNET-DATA abcd 2 3\nerr"
				     "\nHVNET-DATA abcd 1 22\nHVNET-EXEC abcd 0 0 9\n"
				     "\nHVNET-EXEC abcd 0 0 3\n";
	memset(&o, 0, sizeof(o));
	hv_exec_reader_init(&r, "abcd");
	assert_int_equal(feed_bytes(&r, pieces, sizeof(pieces) - 1, &o, &used), 1);
	assert_int_equal(r.status, 3);
	assert_string_equal(o.out, "out\nHVNET-EXEC abcd 0 0 9\n");
	assert_string_equal(o.err, "err");
	memset(&o, 0, sizeof(o));
	hv_exec_reader_init(&r, "abcd");
	assert_int_equal(hv_exec_reader_feed(&r, (const uint8_t *)pieces, sizeof(pieces) - 1, &used,
					     collect, &o),
			 1);
	assert_int_equal(r.status, 3);
	assert_string_equal(o.out, "out\nHVNET-EXEC abcd 0 0 9\n");

	/* malformed headers for our id */
	static const char *const bad[] = {
		"HVNET-DATA abcd 3 1\n",
		"HVNET-DATA abcd 1\n",
		"HVNET-DATA abcd 1 1 1\n",
		"HVNET-DATA abcd 1 -1\n",
		"HVNET-EXEC abcd 1 1\n",
		"HVNET-EXEC abcd 1 1 1 1\n",
		"HVNET-EXEC abcd -1 0 0\n",
		"HVNET-EXEC abcd 1 0 256\n",
		"HVNET-EXEC abcd 99999999999 0 0\n",
		"HVNET-EXEC abcd 268435457 0 0\n",
		"HVNET-EXEC abcd 1  0 0\n",
		"HVNET-EXEC abcd 1 0 0 \n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		hv_exec_reader_init(&r, "abcd");
		assert_int_equal(hv_exec_reader_feed(&r, (const uint8_t *)bad[i], strlen(bad[i]),
						     &used, collect, &o),
				 -EPROTO);
	}
	/* a line longer than a header is skipped whole, even if it ends like one */
	char longl[400];

	memset(longl, 'A', 300);
	strcpy(longl + 300, "HVNET-EXEC abcd 0 0 3\nHVNET-EXEC abcd 0 0 4\n");
	hv_exec_reader_init(&r, "abcd");
	assert_int_equal(
		hv_exec_reader_feed(&r, (const uint8_t *)longl, strlen(longl), &used, collect, &o),
		1);
	assert_int_equal(r.status, 4);
}

static void
socket_state(void **state)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int l, c;

	(void)state;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "/tmp/hv-test-sock-%d", (int)getpid());
	unlink(sa.sun_path);
	assert_int_equal(hv_unix_socket_state(sa.sun_path), -ENOENT);
	l = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(l, 1), 0);
	assert_int_equal(hv_unix_socket_state(sa.sun_path), 1);
	c = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(connect(c, (struct sockaddr *)&sa, sizeof(sa)), 0);
	int a = accept(l, NULL, NULL);
	assert_true(a >= 0);
	assert_int_equal(hv_unix_socket_state(sa.sun_path), 2);
	close(a);
	close(c);
	close(l);
	/* the file outlives its listener */
	assert_int_equal(hv_unix_socket_state(sa.sun_path), 0);
	unlink(sa.sun_path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(version_parse), cmocka_unit_test(mac_derive),
		cmocka_unit_test(nic_word),	 cmocka_unit_test(cmdline_bound),
		cmocka_unit_test(argv_build),	 cmocka_unit_test(exec_request),
		cmocka_unit_test(exec_reader),	 cmocka_unit_test(socket_state),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
