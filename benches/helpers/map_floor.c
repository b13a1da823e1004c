/* The syscall floor of opening a table on this machine (BENCHMARKS.md,
 * "Tables v2"): per iteration, what mmarrow's open does for one column file
 * (open, fstat, mmap, close) and its drop does (munmap), and the parts.
 *   gcc -O2 benches/helpers/map_floor.c -o /tmp/map_floor && /tmp/map_floor target/bench-table/t12-10M/c0.values
 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum { N = 20000 };

static double us_since(struct timespec a) {
    struct timespec b;
    clock_gettime(CLOCK_MONOTONIC, &b);
    return ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / N / 1000.0;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s FILE\n", argv[0]);
        return 2;
    }
    const char *path = argv[1];
    struct timespec t;
    struct stat st;
    clock_gettime(CLOCK_MONOTONIC, &t);
    for (int i = 0; i < N; i++) {
        int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        fstat(fd, &st);
        void *p = mmap(0, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        close(fd);
        munmap(p, st.st_size);
    }
    printf("open+fstat+mmap+close+munmap: %.2f us\n", us_since(t));
    clock_gettime(CLOCK_MONOTONIC, &t);
    for (int i = 0; i < N; i++) close(open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    printf("open+close: %.2f us\n", us_since(t));
    int fd = open(path, O_RDONLY);
    fstat(fd, &st);
    clock_gettime(CLOCK_MONOTONIC, &t);
    for (int i = 0; i < N; i++) munmap(mmap(0, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0), st.st_size);
    printf("mmap+munmap: %.2f us\n", us_since(t));
    clock_gettime(CLOCK_MONOTONIC, &t);
    for (int i = 0; i < N; i++) {
        volatile char *p = mmap(0, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        (void)p[0];
        munmap((void *)p, st.st_size);
    }
    printf("mmap+touch one page+munmap: %.2f us\n", us_since(t));
    return 0;
}
