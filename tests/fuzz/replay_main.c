/*
 * replay_main: runs a libFuzzer target over the files of its seed corpus
 * without libFuzzer (any compiler), as a TAP test: one test point per file.
 * make check builds it with ASan and UBSan where the compiler has them.
 * Arguments are files or directories; with none, the corpus named by
 * FUZZ_CORPUS under $top_srcdir/tests/fuzz/corpus/ is used.
 */
#include "config.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tests/lib/tap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
replay_file(const char *path)
{
	static uint8_t buf[1 << 20];
	FILE *f = fopen(path, "rb");
	uint8_t *input;
	size_t n;

	if (f == NULL) {
		checkf(0, "cannot open %s", path);
		return;
	}
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	/* a copy of exactly n bytes: under ASan a read past the input is
	 * caught, as libFuzzer would */
	input = malloc(n > 0 ? n : 1);
	if (input == NULL) {
		checkf(0, "out of memory for %s", path);
		return;
	}
	memcpy(input, buf, n);
	LLVMFuzzerTestOneInput(input, n);	/* a crash, abort or sanitizer report fails the test */
	free(input);
	checkf(1, "replayed %s (%zu bytes)", path, n);
}

static void
replay(const char *path)
{
	struct stat st;
	struct dirent **names;
	char sub[4096];
	int n;

	if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode)) {
		replay_file(path);
		return;
	}
	n = scandir(path, &names, NULL, alphasort);
	for (int i = 0; i < n; i++) {
		if (names[i]->d_name[0] != '.') {
			snprintf(sub, sizeof(sub), "%s/%s", path, names[i]->d_name);
			replay_file(sub);
		}
		free(names[i]);
	}
	if (n >= 0)
		free(names);
}

int
main(int argc, char **argv)
{
	const char *top = getenv("top_srcdir");
	char dir[4096];

	if (argc > 1) {
		for (int i = 1; i < argc; i++)
			replay(argv[i]);
	} else {
		snprintf(dir, sizeof(dir), "%s/tests/fuzz/corpus/%s", top ? top : ".",
			 FUZZ_CORPUS);
		replay(dir);
	}
	/* no input at all is a failure too: a corpus that went missing */
	return tap_done() || tap_test_no == 0;
}
