/* The Linux side of the file workloads of `probe bench disk`: what
 * apps/examples/bench_files.rs does, on the vfat volume mounted at argv[1] (probe's FAT
 * image, on the same drive as Novillo's): a 64 MiB file written in 64 KiB writes and
 * fsync'd, then (page cache dropped) read back in 64 KiB reads; then 1,000 files of 4 KiB
 * each created, written and closed, ending with sync(). Prints the same
 * `DISK <metric> <value> <unit>` lines, then `DISK-DONE`. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BIG (64u << 20)
#define CHUNK (64u << 10)
#define SMALL_FILES 1000u
#define SMALL (4u << 10)

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fail(const char *what) {
    perror(what);
    exit(1);
}

static void drop_caches(void) {
    sync();
    int fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
    if (fd < 0 || write(fd, "3\n", 2) != 2)
        fail("files: drop_caches");
    close(fd);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: files MOUNTPOINT\n");
        return 1;
    }
    if (chdir(argv[1]) != 0)
        fail("files: chdir");
    static uint8_t buf[CHUNK];
    double start = now();
    int fd = open("big.bin", O_CREAT | O_TRUNC | O_WRONLY, 0644);
    if (fd < 0)
        fail("files: create big.bin");
    for (unsigned i = 0; i < BIG / CHUNK; i++) {
        memset(buf, (int)(uint8_t)i, CHUNK);
        if (write(fd, buf, CHUNK) != (ssize_t)CHUNK)
            fail("files: write big.bin");
    }
    if (fsync(fd) != 0 || close(fd) != 0)
        fail("files: fsync big.bin");
    printf("DISK file-seq-write-64m %.1f MiB/s\n", (double)(BIG >> 20) / (now() - start));
    drop_caches();
    start = now();
    fd = open("big.bin", O_RDONLY);
    if (fd < 0)
        fail("files: open big.bin");
    for (unsigned i = 0; i < BIG / CHUNK; i++) {
        if (read(fd, buf, CHUNK) != (ssize_t)CHUNK || buf[CHUNK - 1] != (uint8_t)i)
            fail("files: read big.bin");
    }
    close(fd);
    printf("DISK file-seq-read-64m %.1f MiB/s\n", (double)(BIG >> 20) / (now() - start));
    if (mkdir("small", 0755) != 0)
        fail("files: mkdir small");
    memset(buf, 's', SMALL);
    start = now();
    for (unsigned i = 0; i < SMALL_FILES; i++) {
        char name[32];
        snprintf(name, sizeof name, "small/file%04u.bin", i);
        fd = open(name, O_CREAT | O_EXCL | O_WRONLY, 0644);
        if (fd < 0 || write(fd, buf, SMALL) != (ssize_t)SMALL || close(fd) != 0)
            fail("files: small file");
    }
    sync();
    printf("DISK file-create-4k %.0f files/s\n", SMALL_FILES / (now() - start));
    printf("DISK-DONE\n");
    return 0;
}
