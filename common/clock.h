/* clock.h - monotonic milliseconds: the one copy every program uses */
#ifndef MH_CLOCK_H
#define MH_CLOCK_H

#include <stdint.h>
#include <time.h>

/* clock_mono_ms - CLOCK_MONOTONIC in milliseconds */
static inline uint64_t
clock_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

/* clock_coarse_ms - the same to a few ms (no system call where the kernel offers it) */
static inline uint64_t
clock_coarse_ms(void)
{
	struct timespec ts;

#ifdef CLOCK_MONOTONIC_COARSE
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
#else
	clock_gettime(CLOCK_MONOTONIC, &ts);
#endif
	return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

#endif
