/* fuzz_acxc.c - libFuzzer target for acxc's front end and generator.
 *
 * The input stands for cpp's output (no preprocessor runs here): it is
 * lexed, parsed and, when that found no error, generated into an output
 * buffer.  Diagnostics go to /dev/null.  Built by `make check-fuzz`:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Idsl -Ibuild/dsl -Igen
 *       tests/fuzz/fuzz_acxc.c dsl/ *.c gen/{emit,frame,gen,lower}.c
 *       build/dsl/lexer.c build/dsl/parser.c
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "front.h"
#include "gen.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static FILE *devnull;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > (1u << 20))
        return 0; /* keep single runs fast; big inputs are unit tests */
    if (!devnull)
        devnull = fopen("/dev/null", "w");
    acx_src src = {0};
    src.path = "fuzz.acx";
    src.err = devnull;
    src.max_errors = 50;
    src.buf = malloc(size + 1);
    if (!src.buf)
        return 0;
    memcpy(src.buf, data, size);
    src.buf[size] = 0;
    src.len = size;

    acx_parse parse = {0};
    if (lex_run(&src) == 0) {
        parse_run(&parse, &src);
        if (src.errors == 0) {
            gen g = {0};
            g.parse = &parse;
            g.src = &src;
            g.outpath = "fuzz.c";
            ob_init(&g.out, &src, 1);
            gen_unit(&g);
            ob_free(&g.out);
        }
    }
    parse_free(&parse);
    src_free(&src);
    return 0;
}
