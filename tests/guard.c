/* A test guard preloaded into a subprocess (LD_PRELOAD): no network, and a disk that fills up.
 *
 * GUARD_NET_LOG=FILE: every name lookup and every connect to anything but loopback or a Unix
 *   socket is written to FILE (one line each) and refused, so that a call home is seen whether it
 *   comes from Python or from a native library (onnxruntime's telemetry is C++).
 * GUARD_FULL_DIR=DIR: a disk that fills up. Once GUARD_FULL_BYTES bytes have been written to files
 *   under DIR, or from the first write to a file named GUARD_FULL_AT there, every further write to
 *   them fails with ENOSPC, as on a full disk (write, pwrite, writev, fwrite: what Python, SQLite and
 *   FAISS write through).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

static void note(const char *what, const char *detail) {
    const char *path = getenv("GUARD_NET_LOG");
    if (!path) return;
    int saved = errno;
    FILE *log = fopen(path, "a");
    if (log) {
        fprintf(log, "%s %s\n", what, detail ? detail : "(null)");
        fclose(log);
    }
    errno = saved;
}

static int local_name(const char *node) {
    if (node == NULL) return 1;  /* a passive lookup: a local address to bind */
    if (!strcmp(node, "localhost") || !strcmp(node, "127.0.0.1") || !strcmp(node, "::1")) return 1;
    struct in_addr v4;
    struct in6_addr v6;
    if (inet_pton(AF_INET, node, &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, node, &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
    return 0;
}

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints, struct addrinfo **res) {
    static int (*real)(const char *, const char *, const struct addrinfo *, struct addrinfo **);
    if (getenv("GUARD_NET_LOG") && !local_name(node)) {
        note("getaddrinfo", node);
        return EAI_FAIL;
    }
    if (!real) real = dlsym(RTLD_NEXT, "getaddrinfo");
    return real(node, service, hints, res);
}

struct hostent *gethostbyname(const char *name) {
    static struct hostent *(*real)(const char *);
    if (getenv("GUARD_NET_LOG") && !local_name(name)) {
        note("gethostbyname", name);
        h_errno = NO_RECOVERY;
        return NULL;
    }
    if (!real) real = dlsym(RTLD_NEXT, "gethostbyname");
    return real(name);
}

int connect(int fd, const struct sockaddr *addr, socklen_t len) {
    static int (*real)(int, const struct sockaddr *, socklen_t);
    if (getenv("GUARD_NET_LOG") && addr != NULL) {
        char text[INET6_ADDRSTRLEN + 16] = "";
        int remote = 0;
        if (addr->sa_family == AF_INET) {
            const struct sockaddr_in *in = (const struct sockaddr_in *)addr;
            remote = (ntohl(in->sin_addr.s_addr) >> 24) != 127;
            inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
            snprintf(text + strlen(text), sizeof text - strlen(text), ":%d", ntohs(in->sin_port));
        } else if (addr->sa_family == AF_INET6) {
            const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)addr;
            remote = !IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
            inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
            snprintf(text + strlen(text), sizeof text - strlen(text), ":%d", ntohs(in6->sin6_port));
        } else if (addr->sa_family != AF_UNIX) {
            remote = 1;
            snprintf(text, sizeof text, "family %d", addr->sa_family);
        }
        if (remote) {
            note("connect", text);
            errno = ECONNREFUSED;
            return -1;
        }
    }
    if (!real) real = dlsym(RTLD_NEXT, "connect");
    return real(fd, addr, len);
}

/* -- a disk that fills up ------------------------------------------------------------------ */
static long long written_so_far;
static int disk_full;

static int fills(int fd, size_t count) {
    const char *dir = getenv("GUARD_FULL_DIR");
    if (!dir || count == 0) return 0;
    char link[64], target[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, target, sizeof target - 1);
    if (n < 0) return 0;
    target[n] = '\0';
    size_t len = strlen(dir);
    if (strncmp(target, dir, len) != 0 || (target[len] != '/' && target[len] != '\0')) return 0;
    if (!disk_full) {
        const char *at = getenv("GUARD_FULL_AT"), *bytes = getenv("GUARD_FULL_BYTES");
        const char *name = strrchr(target, '/') ? strrchr(target, '/') + 1 : target;
        long long total = __sync_add_and_fetch(&written_so_far, (long long)count);
        if ((at && strcmp(name, at) == 0) || (bytes && total > atoll(bytes))) disk_full = 1;
    }
    if (!disk_full) return 0;
    errno = ENOSPC;
    return 1;
}

ssize_t write(int fd, const void *buf, size_t count) {
    static ssize_t (*real)(int, const void *, size_t);
    if (fills(fd, count)) return -1;
    if (!real) real = dlsym(RTLD_NEXT, "write");
    return real(fd, buf, count);
}

ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset) {
    static ssize_t (*real)(int, const void *, size_t, off_t);
    if (fills(fd, count)) return -1;
    if (!real) real = dlsym(RTLD_NEXT, "pwrite");
    return real(fd, buf, count, offset);
}

ssize_t pwrite64(int fd, const void *buf, size_t count, off_t offset) {
    static ssize_t (*real)(int, const void *, size_t, off_t);
    if (fills(fd, count)) return -1;
    if (!real) real = dlsym(RTLD_NEXT, "pwrite64");
    return real(fd, buf, count, offset);
}

ssize_t writev(int fd, const struct iovec *iov, int count) {
    static ssize_t (*real)(int, const struct iovec *, int);
    size_t total = 0;
    for (int i = 0; i < count; i++) total += iov[i].iov_len;
    if (fills(fd, total)) return -1;
    if (!real) real = dlsym(RTLD_NEXT, "writev");
    return real(fd, iov, count);
}

size_t fwrite(const void *ptr, size_t size, size_t items, FILE *stream) {
    static size_t (*real)(const void *, size_t, size_t, FILE *);
    if (fills(fileno(stream), size * items)) return 0;
    if (!real) real = dlsym(RTLD_NEXT, "fwrite");
    return real(ptr, size, items, stream);
}
