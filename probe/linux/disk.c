/* The Linux side of `probe bench disk`: the measurements of apps/examples/bench_disk.rs on
 * /dev/vda with O_DIRECT (no guest page cache), the same sizes, counts and random places,
 * and the same `DISK <metric> <value> <unit>` lines, then `DISK-DONE`. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SPAN (64ull << 20)
#define SEQ_REQUEST (64u << 10)
#define RAND_REQUEST (4u << 10)
#define RAND_READS 2000u
#define SECTOR 512u

static int fd;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *aligned(size_t size) {
    void *buf;
    if (posix_memalign(&buf, 4096, size) != 0) {
        fprintf(stderr, "disk: out of memory\n");
        exit(1);
    }
    return buf;
}

static void transfer(int write, void *buf, size_t size, uint64_t offset) {
    ssize_t done = write ? pwrite(fd, buf, size, (off_t)offset) : pread(fd, buf, size, (off_t)offset);
    if (done != (ssize_t)size) {
        perror(write ? "disk: pwrite" : "disk: pread");
        exit(1);
    }
}

/* `count` 4 KiB reads at places drawn from `seed` as the Novillo example draws them;
 * the latencies go to `latencies` when it is not NULL. */
static void random_reads(uint64_t seed, unsigned count, double *latencies) {
    uint8_t *buf = aligned(RAND_REQUEST);
    uint64_t slots = SPAN / RAND_REQUEST;
    uint64_t state = (seed * 0x9e3779b97f4a7c15ull) | 1;
    for (unsigned i = 0; i < count; i++) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        double start = now();
        transfer(0, buf, RAND_REQUEST, (state % slots) * RAND_REQUEST);
        if (latencies)
            latencies[i] = now() - start;
    }
    free(buf);
}

static void *reader(void *arg) {
    long core = (long)arg;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(core, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
    random_reads(2 + (uint64_t)core, RAND_READS, NULL);
    return NULL;
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(void) {
    fd = open("/dev/vda", O_RDWR | O_DIRECT);
    if (fd < 0) {
        perror("disk: /dev/vda");
        return 1;
    }
    uint8_t *buf = aligned(SEQ_REQUEST);
    uint64_t requests = SPAN / SEQ_REQUEST;
    double start = now();
    for (uint64_t i = 0; i < requests; i++)
        transfer(0, buf, SEQ_REQUEST, i * SEQ_REQUEST);
    printf("DISK seq-read-64k %.1f MiB/s\n", (double)(SPAN >> 20) / (now() - start));
    start = now();
    for (uint64_t i = 0; i < requests; i++) {
        memset(buf, (int)(uint8_t)i, SEQ_REQUEST);
        transfer(1, buf, SEQ_REQUEST, i * SEQ_REQUEST);
    }
    if (fsync(fd) != 0) {
        perror("disk: fsync");
        return 1;
    }
    printf("DISK seq-write-64k %.1f MiB/s\n", (double)(SPAN >> 20) / (now() - start));
    double *latencies = calloc(RAND_READS, sizeof *latencies);
    start = now();
    random_reads(1, RAND_READS, latencies);
    printf("DISK rand-read-4k-qd1 %.0f IOPS\n", RAND_READS / (now() - start));
    qsort(latencies, RAND_READS, sizeof *latencies, by_value);
    printf("DISK rand-read-4k-qd1-median %.0f us\n", latencies[RAND_READS / 2] * 1e6);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    pthread_t *threads = calloc((size_t)cores, sizeof *threads);
    start = now();
    for (long core = 0; core < cores; core++)
        pthread_create(&threads[core], NULL, reader, (void *)core);
    for (long core = 0; core < cores; core++)
        pthread_join(threads[core], NULL);
    printf("DISK rand-read-4k-1-per-core %.0f IOPS\n", (double)RAND_READS * cores / (now() - start));
    printf("DISK-DONE\n");
    return 0;
}
