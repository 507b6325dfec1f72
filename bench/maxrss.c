/* bench/maxrss.c: runs a command and reports its peak RSS, as bench/run's
 * measure() needs it.
 *
 *     build/bench/maxrss FD COMMAND [ARG...]
 *
 * Linux keeps a process's peak RSS across exec, counting the image it was
 * forked from: every command bench/run (Python, holding jq's output) started
 * directly reported at least Python's own size (a 20 MB syncvm showed 273
 * MB).  This small program is the one forked from Python; the command is
 * forked from it, so its figure starts near nothing.  It writes "KB" on file
 * descriptor FD and exits with the command's status. */
#define _DEFAULT_SOURCE /* wait4() */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: maxrss FD COMMAND [ARG...]\n");
    return 2;
  }
  int fd = atoi(argv[1]);
  pid_t pid = fork();
  if (pid < 0) return perror("fork"), 2;
  if (pid == 0) {
    if (fd > 2) close(fd);
    execvp(argv[2], argv + 2);
    perror(argv[2]);
    _exit(127);
  }
  int status;
  struct rusage ru;
  if (wait4(pid, &status, 0, &ru) < 0) return perror("wait4"), 2;
  dprintf(fd, "%ld\n", ru.ru_maxrss);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
