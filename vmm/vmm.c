/* SPDX-License-Identifier: BSD-3-Clause */
/* The guest kinds, by the lab file's word and by the name state files keep. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
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
hv_proc_spawn(char *const argv[], const char *log, bool ignore_sigint)
{
	int pfd[2], xfd[2], status, e = 0;
	pid_t child, pid = -1;

	/* pfd: the grandchild's pid; xfd: closed by its exec (CLOEXEC), or
	 * carries the errno of a failed one */
	if (pipe2(pfd, O_CLOEXEC) != 0)
		return -errno;
	if (pipe2(xfd, O_CLOEXEC) != 0) {
		e = errno;
		close(pfd[0]);
		close(pfd[1]);
		return -e;
	}
	child = fork();
	if (child < 0) {
		e = errno;
		close(pfd[0]);
		close(pfd[1]);
		close(xfd[0]);
		close(xfd[1]);
		return -e;
	}
	if (child == 0) {
		pid_t gc;
		int fd;

		/* detached: its own session, nobody's zombie when it ends */
		setsid();
		gc = fork();
		if (gc != 0) {
			if (write(pfd[1], &gc, sizeof(gc)) != (ssize_t)sizeof(gc))
				_exit(1);
			_exit(gc < 0);
		}
		fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (fd >= 0)
			dup2(fd, 0);
		signal(SIGPIPE, SIG_DFL);
		if (ignore_sigint)
			signal(SIGINT, SIG_IGN);
		execvp(argv[0], argv);
		e = errno;
		if (write(xfd[1], &e, sizeof(e)) < 0)
			_exit(126);
		_exit(127);
	}
	close(pfd[1]);
	close(xfd[1]);
	if (read(pfd[0], &pid, sizeof(pid)) != (ssize_t)sizeof(pid))
		pid = -1;
	close(pfd[0]);
	waitpid(child, &status, 0);
	/* EOF: the program runs (its exec closed the pipe); an int: the exec failed */
	if (pid > 0 && read(xfd[0], &e, sizeof(e)) == (ssize_t)sizeof(e))
		pid = -e;
	else if (pid <= 0)
		pid = -ECHILD;
	close(xfd[0]);
	return pid;
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
