/*
 * What the fuzz targets share: the libFuzzer entry point and CHECK(), an
 * assertion that holds in NDEBUG builds too. A failed check aborts, which
 * libFuzzer and the corpus replay (replay_main.c) both report as a
 * finding.
 */
#ifndef SEALPOST_FUZZ_CHECK_H
#define SEALPOST_FUZZ_CHECK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define CHECK(x)	do {						\
	if (!(x)) {							\
		fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,	\
		    __LINE__, #x);					\
		abort();						\
	}								\
} while (0)

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
