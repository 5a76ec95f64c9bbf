/* What this machine allows a real-time thread: the floor under the daemon's lateness.
 *
 * Reads deadlines (seconds from start, one per line, ascending; equal ones are one chord) on stdin.
 * For each distinct deadline it does what LiveGAN's clock thread does, in C: sleeps
 * (clock_nanosleep, absolute) until SPIN seconds before it, spins to it, then "sends" each message
 * of the chord by touching 8 cache lines of its own, spread over 1 MiB like a heap's objects.
 * Prints each message's lateness (completion - deadline, seconds), one per line.
 *
 *   floor cold   the spin only reads the clock (the memory the sends touch waits untouched)
 *   floor hot    the spin touches the chord's lines over and over, as LiveGAN's rehearsal does
 *
 * And the cost of waking up, as LiveGAN's input poller does (no deadlines read):
 *
 *   floor sleep SECONDS INTERVAL   sleeps INTERVAL seconds at a time for SECONDS; prints its CPU
 *                                  (user + system) as % of one core
 *
 * SCHED_FIFO priority 10 where permitted (as the daemon's clock thread), else normal.
 * Build: cc -O2 -o floor floor.c   (benchmarks/timing.py builds and runs it when a C compiler exists)
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SPIN 0.001
#define LINES 8
#define HEAP (1 << 20)

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static unsigned char heap[HEAP];

static long touch(int message) {
    long sum = 0;
    for (int i = 0; i < LINES; i++)
        sum += heap[((long)message * 7919 * 64 + (long)i * 4099 * 64) % HEAP]++;
    return sum;
}

static int sleeper(double seconds, double interval) {
    struct timespec step = {(time_t)interval, (long)((interval - (time_t)interval) * 1e9)};
    double start = now();
    clock_t cpu = clock();
    while (now() - start < seconds) nanosleep(&step, NULL);
    printf("%.4f\n", 100.0 * (double)(clock() - cpu) / CLOCKS_PER_SEC / (now() - start));
    return 0;
}

int main(int argc, char **argv) {
    struct sched_param p = {10};
    sched_setscheduler(0, SCHED_FIFO, &p); /* not permitted: stays normal */
    if (argc > 3 && strcmp(argv[1], "sleep") == 0) return sleeper(atof(argv[2]), atof(argv[3]));
    int hot = argc > 1 && strcmp(argv[1], "hot") == 0;
    static double when[200000], late[200000];
    int n = 0;
    while (n < 200000 && scanf("%lf", &when[n]) == 1) n++;
    memset(heap, 1, HEAP);
    volatile long sink = 0;
    double t0 = now() + 0.2;
    for (int k = 0; k < n;) {
        int end = k;
        while (end < n && when[end] == when[k]) end++;
        double d = t0 + when[k], wake = d - SPIN;
        if (wake > now()) {
            struct timespec ts = {(time_t)wake, (long)((wake - (time_t)wake) * 1e9)};
            clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
        }
        while (now() < d)
            if (hot)
                for (int m = k; m < end; m++) sink += touch(m);
        for (int m = k; m < end; m++) {
            sink += touch(m);
            late[m] = now() - d;
        }
        k = end;
    }
    for (int m = 0; m < n; m++) printf("%.9f\n", late[m]);
    return (int)(sink & 0);
}
