/* measure OUT -- PROGRAM ARGS...: runs PROGRAM, then writes "cpu_seconds peak_rss_kib exit_code"
 * to OUT. A small separate parent keeps the child's peak RSS honest: Linux carries the parent's
 * RSS high-water mark across fork+exec, so the (large) Python runner must not be that parent. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 4 || strcmp(argv[2], "--") != 0) {
        fprintf(stderr, "usage: measure OUT -- PROGRAM [ARGS...]\n");
        return 2;
    }
    pid_t pid = fork();
    if (pid < 0) { perror("measure: fork"); return 2; }
    if (pid == 0) {
        execvp(argv[3], argv + 3);
        perror("measure: exec");
        _exit(127);
    }
    int status;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) < 0) { perror("measure: wait4"); return 2; }
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    FILE *f = fopen(argv[1], "w");
    if (!f) { perror("measure: open OUT"); return 2; }
    fprintf(f, "%.6f %ld %d\n",
            ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
                ru.ru_stime.tv_usec / 1e6,
            ru.ru_maxrss, code);
    fclose(f);
    return code;
}
