/*
 * replay.c - runs a libFuzzer target over saved inputs without libFuzzer (any C compiler).
 *
 *   fuzz_replay [--no-fork] PATH...
 *
 * Each PATH is a file or a directory (walked recursively, files in sorted order). Every input is
 * read into an exact-size heap buffer (so a read past its end shows under ASan) and passed to
 * LLVMFuzzerTestOneInput. By default each input runs in a child process, so that one failing
 * input (the target abort()s) does not hide the others: every failing file is named, and the run
 * ends with "N passed, M failed" (exit status 1 if M > 0 or if a PATH could not be read).
 * --no-fork runs them all in this process (for a debugger); the first failure ends the run.
 */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "oracle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int use_fork = 1;
static size_t n_pass, n_fail, n_bytes;

static void run_one(const char *path) {
    size_t n = 0;
    uint8_t *data = oracle_read_file(path, &n);
    if (!data) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        n_fail++;
        return;
    }
    n_bytes += n;
    if (!use_fork) {
        LLVMFuzzerTestOneInput(data, n);
        free(data);
        n_pass++;
        return;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        perror("replay: fork");
        exit(2);
    }
    if (pid == 0) {
        LLVMFuzzerTestOneInput(data, n);
        free(data);
        _exit(0);
    }
    free(data);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        perror("replay: waitpid");
        exit(2);
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        n_pass++;
        return;
    }
    n_fail++;
    if (WIFSIGNALED(status))
        fprintf(stderr, "replay: FAILED %s (signal %d)\n", path, WTERMSIG(status));
    else
        fprintf(stderr, "replay: FAILED %s (exit status %d)\n", path, WEXITSTATUS(status));
}

int main(int argc, char **argv) {
    int paths = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--no-fork") == 0) {
            use_fork = 0;
            continue;
        }
        paths++;
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "replay: no such file or directory: %s\n", argv[i]);
            n_fail++;
            continue;
        }
        if (!S_ISDIR(st.st_mode)) {
            run_one(argv[i]);
            continue;
        }
        size_t count = 0;
        char **files = oracle_list_files(argv[i], &count);
        if (!files) {
            fprintf(stderr, "replay: cannot open directory %s\n", argv[i]);
            n_fail++;
            continue;
        }
        if (count == 0) fprintf(stderr, "replay: %s holds no files\n", argv[i]);
        for (size_t k = 0; k < count; k++) {
            run_one(files[k]);
            free(files[k]);
        }
        free(files);
    }
    if (!paths) {
        fprintf(stderr, "usage: %s [--no-fork] FILE_OR_DIR...\n", argv[0]);
        return 2;
    }
    printf("replay: %zu inputs, %zu bytes\n", n_pass + n_fail, n_bytes);
    printf("%zu passed, %zu failed\n", n_pass, n_fail);
    return n_fail ? 1 : 0;
}
