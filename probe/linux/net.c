/* The Linux side of `probe bench net`: the servers of apps/examples/bench_net.rs, each
 * connection on a thread of its own: port 5001 discards what comes until the peer closes,
 * 5002 reads an 8-byte little-endian count and writes that many bytes, 5003 answers each
 * 64-byte request with its bytes. Prints BENCH-NET-READY once all three listen. */
#define _GNU_SOURCE
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define REQUEST 64
#define CHUNK (16 * 1024)

static int listen_on(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    struct sockaddr_in address;
    memset(&address, 0, sizeof address);
    address.sin_family = AF_INET;
    address.sin_port = htons((uint16_t)port);
    address.sin_addr.s_addr = htonl(INADDR_ANY);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || bind(fd, (struct sockaddr *)&address, sizeof address) != 0 || listen(fd, 1024) != 0) {
        perror("bench_net: listen");
        exit(1);
    }
    return fd;
}

static int read_exact(int fd, char *buf, size_t size) {
    while (size > 0) {
        ssize_t n = read(fd, buf, size);
        if (n <= 0)
            return -1;
        buf += n;
        size -= (size_t)n;
    }
    return 0;
}

static int write_all(int fd, const char *buf, size_t size) {
    while (size > 0) {
        ssize_t n = write(fd, buf, size);
        if (n <= 0)
            return -1;
        buf += n;
        size -= (size_t)n;
    }
    return 0;
}

static void *drain(void *arg) {
    int fd = (int)(intptr_t)arg;
    static __thread char buf[CHUNK];
    while (read(fd, buf, sizeof buf) > 0) {
    }
    close(fd);
    return NULL;
}

static void *source(void *arg) {
    int fd = (int)(intptr_t)arg;
    static __thread char chunk[CHUNK];
    unsigned char count[8];
    memset(chunk, 'n', sizeof chunk);
    if (read_exact(fd, (char *)count, sizeof count) == 0) {
        uint64_t left = 0;
        for (int i = 7; i >= 0; i--)
            left = left << 8 | count[i];
        while (left > 0) {
            size_t n = left < CHUNK ? (size_t)left : CHUNK;
            if (write_all(fd, chunk, n) != 0)
                break;
            left -= n;
        }
    }
    close(fd);
    return NULL;
}

static void *answer(void *arg) {
    int fd = (int)(intptr_t)arg;
    int one = 1;
    char request[REQUEST];
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    while (read_exact(fd, request, sizeof request) == 0 && write_all(fd, request, sizeof request) == 0) {
    }
    close(fd);
    return NULL;
}

struct server {
    int fd;
    void *(*work)(void *);
};

static void *accept_loop(void *arg) {
    struct server *server = arg;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    for (;;) {
        int fd = accept(server->fd, NULL, NULL);
        pthread_t thread;
        if (fd < 0)
            continue;
        if (pthread_create(&thread, &attr, server->work, (void *)(intptr_t)fd) != 0)
            close(fd);
    }
    return NULL;
}

int main(void) {
    static struct server servers[3];
    pthread_t threads[3];
    servers[0] = (struct server){listen_on(5001), drain};
    servers[1] = (struct server){listen_on(5002), source};
    servers[2] = (struct server){listen_on(5003), answer};
    printf("BENCH-NET-READY\n");
    fflush(stdout);
    for (int i = 0; i < 3; i++)
        pthread_create(&threads[i], NULL, accept_loop, &servers[i]);
    pthread_join(threads[0], NULL);
    return 0;
}
