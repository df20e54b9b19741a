#ifndef RINGWAY_FUZZ_LIBFUZZER_H
#define RINGWAY_FUZZ_LIBFUZZER_H

#include <stddef.h>
#include <stdint.h>

// libFuzzer's driver (the body of its own main), in libclang_rt.fuzzer, which `-sanitize=fuzzer` links.
// It parses libFuzzer's flags from argv and calls `callback` with each input.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
