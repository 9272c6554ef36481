/*
 * qemu_exec.c - lets a test program running under qemu-aarch64 (user mode) start arm64 programs.
 *
 * Criterion runs every test in a fresh worker: it fork()s and execve()s its own executable. Under
 * qemu-user that execve goes to the host kernel, which cannot run an arm64 ELF file (ENOEXEC)
 * unless binfmt_misc has been set up to call qemu - a machine-wide setting that CI and shared hosts
 * should not need. Preloaded into the test (LD_PRELOAD, set by tests/qemu.cmake), this library
 * turns execve(arm64 file, argv, env) into execve(qemu-aarch64, [-L prefix, -0 argv[0], -E ..., file,
 * argv[1..]], env): the host runs qemu, qemu runs the worker. Other execs are left alone.
 *
 * TKM_QEMU and TKM_QEMU_LD_PREFIX (set by the emulator command) name qemu and its -L root; the
 * guest's LD_PRELOAD and LD_LIBRARY_PATH are passed to the new guest with -E, not to the host
 * qemu process (whose loader would try to preload an arm64 library). Test infrastructure only.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int execve(const char *path, char *const argv[], char *const envp[]);

static int is_arm64_elf(const char *path) {
    unsigned char h[20];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    ssize_t n = read(fd, h, sizeof h);
    close(fd);
    /* ELF magic, 64-bit, little-endian, e_machine 183 (EM_AARCH64) */
    return n == (ssize_t)sizeof h && memcmp(h, "\177ELF", 4) == 0 && h[4] == 2 && h[5] == 1 && h[18] == 183 &&
           h[19] == 0;
}

static const char *env_get(char *const envp[], const char *name) {
    size_t l = strlen(name);
    for (size_t i = 0; envp[i]; i++)
        if (strncmp(envp[i], name, l) == 0 && envp[i][l] == '=') return envp[i];
    return NULL;
}

int execve(const char *path, char *const argv[], char *const envp[]) {
    typedef int (*execve_fn)(const char *, char *const[], char *const[]);
    execve_fn real = (execve_fn)(uintptr_t)dlsym(RTLD_NEXT, "execve");
    if (!real) {
        errno = ENOSYS;
        return -1;
    }
    const char *qemu = getenv("TKM_QEMU"), *prefix = getenv("TKM_QEMU_LD_PREFIX");
    if (!qemu || !prefix || !is_arm64_elf(path)) return real(path, argv, envp);

    size_t argc = 0, envc = 0;
    while (argv[argc]) argc++;
    while (envp[envc]) envc++;
    const char *pre = env_get(envp, "LD_PRELOAD"), *lib = env_get(envp, "LD_LIBRARY_PATH");
    char **a = calloc(argc + 12, sizeof *a), **e = calloc(envc + 1, sizeof *e);
    if (!a || !e) {
        free(a);
        free(e);
        errno = ENOMEM;
        return -1;
    }
    size_t k = 0;
    a[k++] = (char *)qemu;
    a[k++] = (char *)"-L";
    a[k++] = (char *)prefix;
    a[k++] = (char *)"-0";
    a[k++] = (char *)(argc ? argv[0] : path);
    if (pre) a[k++] = (char *)"-E", a[k++] = (char *)pre;
    if (lib) a[k++] = (char *)"-E", a[k++] = (char *)lib;
    a[k++] = (char *)path;
    for (size_t i = 1; i < argc; i++) a[k++] = argv[i];
    size_t j = 0;
    for (size_t i = 0; i < envc; i++)
        if (envp[i] != pre && envp[i] != lib) e[j++] = envp[i];
    int r = real(qemu, a, e);
    int saved = errno;
    free(a);
    free(e);
    errno = saved;
    return r;
}
