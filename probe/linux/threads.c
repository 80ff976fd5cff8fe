/*
 * Thread costs in a Linux guest: the baseline of `probe bench threads --baseline linux`.
 *
 * probe compiles this with `gcc -static -O2 -pthread`, puts it into the guest's initramfs and
 * reads what it prints on the console: `#` notes, a header line
 * `name median_ns min_ns max_ns iterations`, one row per metric (`n/a` where the guest has too
 * few CPUs), then `DONE`, or `FAIL` when a check failed. Each row is the median, minimum and
 * maximum over REPS runs of `iterations` operations, in ns per operation, after one shorter
 * warm-up run (page faults, glibc's stack cache, TCG's translation cache).
 *
 * The main thread stays on CPU 0; partners are pinned where each metric says.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define REPS 7
#define MAX_THREADS 8

static int cpus;
static int failed;

static void die(const char *what, int err)
{
	printf("FAIL %s: %s\n", what, strerror(err));
	exit(1);
}

static double now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

/* Thread attributes that start the thread already on `cpu`. */
static void attr_on_cpu(pthread_attr_t *attr, int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	pthread_attr_init(attr);
	int err = pthread_attr_setaffinity_np(attr, sizeof set, &set);
	if (err)
		die("pthread_attr_setaffinity_np", err);
}

static void start(pthread_t *thread, int cpu, void *(*body)(void *), void *arg)
{
	pthread_attr_t attr;
	attr_on_cpu(&attr, cpu);
	int err = pthread_create(thread, &attr, body, arg);
	if (err)
		die("pthread_create", err);
	pthread_attr_destroy(&attr);
}

/* ---- two threads handing a turn to each other ---- */

enum handoff { BY_YIELD, BY_FUTEX, BY_CONDVAR, BY_PIPE };

static struct {
	enum handoff how;
	long laps;
	int turn; /* 0: the main thread's, 1: the partner's; read and written atomically */
	pthread_mutex_t lock;
	pthread_cond_t changed;
	int pipes[2][2]; /* pipes[me]: the pipe `me` reads its turn from */
	pthread_barrier_t ready;
} baton = { .lock = PTHREAD_MUTEX_INITIALIZER, .changed = PTHREAD_COND_INITIALIZER };

static void futex(int *word, int op, int value)
{
	syscall(SYS_futex, word, op, value, NULL, NULL, 0);
}

static void await_turn(int me)
{
	char byte;
	switch (baton.how) {
	case BY_YIELD:
		while (__atomic_load_n(&baton.turn, __ATOMIC_ACQUIRE) != me)
			sched_yield();
		break;
	case BY_FUTEX:
		while (__atomic_load_n(&baton.turn, __ATOMIC_ACQUIRE) != me)
			futex(&baton.turn, FUTEX_WAIT_PRIVATE, !me);
		break;
	case BY_CONDVAR:
		pthread_mutex_lock(&baton.lock);
		while (baton.turn != me)
			pthread_cond_wait(&baton.changed, &baton.lock);
		pthread_mutex_unlock(&baton.lock);
		break;
	case BY_PIPE:
		if (read(baton.pipes[me][0], &byte, 1) != 1)
			die("read", errno);
		break;
	}
}

static void give_turn(int me)
{
	switch (baton.how) {
	case BY_YIELD:
		__atomic_store_n(&baton.turn, !me, __ATOMIC_RELEASE);
		break;
	case BY_FUTEX:
		__atomic_store_n(&baton.turn, !me, __ATOMIC_RELEASE);
		futex(&baton.turn, FUTEX_WAKE_PRIVATE, 1);
		break;
	case BY_CONDVAR:
		pthread_mutex_lock(&baton.lock);
		baton.turn = !me;
		pthread_cond_signal(&baton.changed);
		pthread_mutex_unlock(&baton.lock);
		break;
	case BY_PIPE:
		if (write(baton.pipes[!me][1], "t", 1) != 1)
			die("write", errno);
		break;
	}
}

static void *partner(void *unused)
{
	pthread_barrier_wait(&baton.ready);
	for (long i = 0; i < baton.laps; i++) {
		await_turn(1);
		give_turn(1);
	}
	return unused;
}

/* ns per round trip main -> partner -> main, with the partner on `cpu` */
static double round_trips(enum handoff how, int cpu, long laps)
{
	pthread_t thread;
	baton.how = how;
	baton.laps = laps;
	baton.turn = 0;
	pthread_barrier_init(&baton.ready, NULL, 2);
	start(&thread, cpu, partner, NULL);
	pthread_barrier_wait(&baton.ready);
	double t0 = now_ns();
	for (long i = 0; i < laps; i++) {
		give_turn(0);
		await_turn(0);
	}
	double t1 = now_ns();
	pthread_join(thread, NULL);
	pthread_barrier_destroy(&baton.ready);
	return (t1 - t0) / (double)laps;
}

/* ns per switch between two threads on CPU 0: a round trip is two switches */
static double same_core(int how, long switches)
{
	long laps = switches / 2 > 0 ? switches / 2 : 1;
	return round_trips(how, 0, laps) / 2;
}

static double cross_core(int how, long laps)
{
	return round_trips(how, 1, laps);
}

/* ---- spawn and join ---- */

static void *nothing(void *arg)
{
	return arg;
}

/* ns per create + join of a thread that starts on `cpu` and returns at once */
static double spawn_join(int cpu, long count)
{
	pthread_t thread;
	double t0 = now_ns();
	for (long i = 0; i < count; i++) {
		start(&thread, cpu, nothing, NULL);
		pthread_join(thread, NULL);
	}
	return (now_ns() - t0) / (double)count;
}

/* ---- one mutex, one counter ---- */

static struct {
	pthread_mutex_t lock;
	long counter;
	long each;
	pthread_barrier_t ready;
	double began[MAX_THREADS], ended[MAX_THREADS];
} shared = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void *count_up(void *index)
{
	long me = (long)index;
	pthread_barrier_wait(&shared.ready);
	shared.began[me] = now_ns();
	for (long i = 0; i < shared.each; i++) {
		pthread_mutex_lock(&shared.lock);
		shared.counter++;
		pthread_mutex_unlock(&shared.lock);
	}
	shared.ended[me] = now_ns();
	return NULL;
}

/* `threads` threads (thread i on CPU i % cpus) add `total` to one counter under one mutex:
   ns per lock + increment + unlock, from the first thread's start to the last one's end */
static double mutex_counting(int threads, long total)
{
	pthread_t thread[MAX_THREADS];
	shared.each = total / threads > 0 ? total / threads : 1;
	shared.counter = 0;
	pthread_barrier_init(&shared.ready, NULL, (unsigned)threads);
	for (long i = 0; i < threads; i++)
		start(&thread[i], (int)(i % cpus), count_up, (void *)i);
	double first = 0, last = 0;
	for (int i = 0; i < threads; i++) {
		pthread_join(thread[i], NULL);
		if (i == 0 || shared.began[i] < first)
			first = shared.began[i];
		if (i == 0 || shared.ended[i] > last)
			last = shared.ended[i];
	}
	pthread_barrier_destroy(&shared.ready);
	long expected = shared.each * threads;
	if (shared.counter != expected) {
		printf("FAIL mutex with %d threads: counter %ld, expected %ld\n", threads,
		       shared.counter, expected);
		failed = 1;
	}
	return (last - first) / (double)expected;
}

/* ---- the table ---- */

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static void row(const char *name, double (*measure)(int, long), int arg, long iterations,
		int needs_two_cpus)
{
	double runs[REPS];
	if (needs_two_cpus && cpus < 2) {
		printf("%-26s %11s %11s %11s %10s\n", name, "n/a", "n/a", "n/a", "0");
		return;
	}
	measure(arg, iterations / 10 + 1);
	for (int i = 0; i < REPS; i++)
		runs[i] = measure(arg, iterations);
	qsort(runs, REPS, sizeof runs[0], by_value);
	printf("%-26s %11.1f %11.1f %11.1f %10ld\n", name, runs[REPS / 2], runs[0],
	       runs[REPS - 1], iterations);
	fflush(stdout);
}

int main(void)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof set, &set))
		die("sched_getaffinity", errno);
	cpus = CPU_COUNT(&set);
	CPU_ZERO(&set);
	CPU_SET(0, &set);
	int err = pthread_setaffinity_np(pthread_self(), sizeof set, &set);
	if (err)
		die("pthread_setaffinity_np", err);
	if (pipe(baton.pipes[0]) || pipe(baton.pipes[1]))
		die("pipe", errno);

	printf("# cpus=%d reps=%d; ns per op: median/min/max of %d runs of `iterations` ops\n",
	       cpus, REPS, REPS);
	printf("%-26s %11s %11s %11s %10s\n", "name", "median_ns", "min_ns", "max_ns",
	       "iterations");
	row("ctxsw_yield_same_core", same_core, BY_YIELD, 40000, 0);
	row("ctxsw_futex_same_core", same_core, BY_FUTEX, 40000, 0);
	row("ctxsw_condvar_same_core", same_core, BY_CONDVAR, 20000, 0);
	row("spawn_join_same_core", spawn_join, 0, 2000, 0);
	row("spawn_join_other_core", spawn_join, 1, 500, 1);
	row("roundtrip_condvar_cross", cross_core, BY_CONDVAR, 500, 1);
	row("roundtrip_pipe_cross", cross_core, BY_PIPE, 500, 1);
	row("mutex_uncontended", mutex_counting, 1, 1000000, 0);
	row("mutex_contended_4t", mutex_counting, 4, 400000, 0);
	puts(failed ? "FAIL" : "DONE");
	return failed;
}
