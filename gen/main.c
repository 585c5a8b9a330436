/* main.c - the acxc driver: options, the preprocessor, and safe output.
 *
 * acxc runs the C preprocessor first (the compiler named by --cc, $ACX_CC
 * or cc), as the Cilk and CPC translators did: macros that expand to
 * await, #if inside async bodies and every type from every header then
 * work without acxc knowing the preprocessor's rules.  The output is
 * written to a temporary file and renamed, so an error never leaves a
 * partial file behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gen.h"

#ifndef ACX_VERSION_STRING
#define ACX_VERSION_STRING "0.1.0"
#endif
#ifndef ACX_INCLUDE_DIR
#define ACX_INCLUDE_DIR "/usr/local/include"
#endif

extern char **environ;

typedef struct opts {
    const char *input, *output, *header, *depfile, *cc;
    int md, no_line, json, werror;
    int color;  /* -1 auto (a terminal, TERM not dumb, no NO_COLOR), 0, 1 */
    int caret;  /* source line and caret under each diagnostic */
    const char **cpp; /* flags passed to the preprocessor */
    int ncpp, capcpp;
} opts;

/* The directory whose acx.h every input gets.  $ACX_INCLUDE_DIR wins;
 * then the headers installed beside this binary (PREFIX/bin/acxc next to
 * PREFIX/include/acx), so an installed, relocated or DESTDIR-staged acxc
 * reads its own headers and never those of the source tree it was built
 * in, which may be gone or newer; then that build-time directory, which is
 * what an acxc run from its build tree finds. */
static const char *include_dir(void)
{
    const char *env = getenv("ACX_INCLUDE_DIR");
    if (env && *env)
        return env;
    static char dir[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", dir, sizeof dir - 1);
    if (n > 0) {
        dir[n] = 0;
        /* strip "/acxc" and then "/bin": what is left is PREFIX */
        for (int up = 0; up < 2; up++) {
            char *slash = strrchr(dir, '/');
            if (!slash)
                return ACX_INCLUDE_DIR;
            *slash = 0;
        }
        size_t len = strlen(dir);
        static const char tail[] = "/include/acx";
        if (len + sizeof tail + sizeof "/acx.h" <= sizeof dir) {
            memcpy(dir + len, tail, sizeof tail);
            memcpy(dir + len + sizeof tail - 1, "/acx.h", sizeof "/acx.h");
            int found = access(dir, R_OK) == 0;
            dir[len + sizeof tail - 1] = 0; /* back to the directory */
            if (found)
                return dir;
        }
    }
    return ACX_INCLUDE_DIR;
}

static void usage(FILE *f)
{
    fputs("usage: acxc [options] input.acx\n"
          "  -o FILE            write the C output to FILE (default: input "
          "with .c)\n"
          "  --header FILE      also write a header declaring the async "
          "functions\n"
          "  -I DIR, -D NAME[=VALUE], -U NAME, -include FILE, -isystem DIR,\n"
          "  -std=..., -O..., -f..., -m...\n"
          "                     passed to the preprocessor, as for cc\n"
          "  -MD                write make dependencies (to -MF FILE, or "
          "the output with .d)\n"
          "  -MF FILE           where -MD writes\n"
          "  --cc CMD           compiler whose preprocessor to use "
          "(default $ACX_CC or cc);\n"
          "                     use the compiler that will compile the "
          "output\n"
          "  --no-line          no #line directives (for reading and "
          "diffing the output)\n"
          "  --json             diagnostics as JSON lines\n"
          "  -fdiagnostics-color[=auto|always|never]\n"
          "                     colour diagnostics (default auto: on a "
          "terminal)\n"
          "  -fno-diagnostics-show-caret\n"
          "                     no source line and caret under "
          "diagnostics\n"
          "  -Werror            treat warnings as errors\n"
          "  --version, --help\n"
          "acx.h comes from $ACX_INCLUDE_DIR, else PREFIX/include/acx "
          "beside an installed\n"
          "PREFIX/bin/acxc, else the runtime/ of the build tree; here:\n"
          "  ",
          f);
    fprintf(f, "%s\n", include_dir());
}

static void add_cpp(opts *o, const char *a)
{
    if (o->ncpp == o->capcpp) {
        o->capcpp = o->capcpp ? o->capcpp * 2 : 32;
        o->cpp = realloc(o->cpp, (size_t)o->capcpp * sizeof *o->cpp);
        if (!o->cpp) {
            fputs("acxc: out of memory\n", stderr);
            exit(1);
        }
    }
    o->cpp[o->ncpp++] = a;
}

static int need_arg(int argc, char **argv, int i)
{
    if (i + 1 >= argc) {
        fprintf(stderr, "acxc: error: missing argument to '%s'\n", argv[i]);
        return 0;
    }
    return 1;
}

/* -fdiagnostics-color[=WHEN] / -fno-diagnostics-color, as gcc spells
 * them; WHEN is auto, always or never. */
static int color_option(opts *o, const char *a)
{
    const char *when = a[19] == '=' ? a + 20 : a[19] ? NULL : "always";
    if (!strcmp(a, "-fno-diagnostics-color"))
        when = "never";
    if (when && !strcmp(when, "auto"))
        o->color = -1;
    else if (when && !strcmp(when, "always"))
        o->color = 1;
    else if (when && !strcmp(when, "never"))
        o->color = 0;
    else {
        fprintf(stderr, "acxc: error: unknown colour option '%s' (use "
                "-fdiagnostics-color=auto|always|never)\n", a);
        return -1;
    }
    return 0;
}

/* Colour in "auto" mode: stderr is a terminal that can show it, and the
 * user has not asked for none (https://no-color.org). */
static int color_auto(void)
{
    const char *term = getenv("TERM"), *no = getenv("NO_COLOR");
    return isatty(2) && term && strcmp(term, "dumb") != 0 && !(no && *no);
}

/* Returns 0 to go on, 1 to stop with success, -1 on a usage error. */
static int parse_args(opts *o, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 1;
        } else if (!strcmp(a, "--version")) {
            printf("acxc %s\n", ACX_VERSION_STRING);
            return 1;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--header") ||
                   !strcmp(a, "-MF") || !strcmp(a, "--cc")) {
            if (!need_arg(argc, argv, i))
                return -1;
            const char *v = argv[++i];
            if (!strcmp(a, "-o"))
                o->output = v;
            else if (!strcmp(a, "--header"))
                o->header = v;
            else if (!strcmp(a, "-MF"))
                o->depfile = v;
            else
                o->cc = v;
        } else if (!strcmp(a, "-MD") || !strcmp(a, "-MMD")) {
            o->md = 1;
        } else if (!strcmp(a, "--no-line")) {
            o->no_line = 1;
        } else if (!strcmp(a, "--json")) {
            o->json = 1;
        } else if (!strncmp(a, "-fdiagnostics-color", 19) ||
                   !strcmp(a, "-fno-diagnostics-color")) {
            if (color_option(o, a) < 0)
                return -1;
            add_cpp(o, a); /* cpp's own messages follow the same choice */
        } else if (!strcmp(a, "-fdiagnostics-show-caret") ||
                   !strcmp(a, "-fno-diagnostics-show-caret")) {
            o->caret = a[2] != 'n';
        } else if (!strcmp(a, "-Werror")) {
            o->werror = 1;
        } else if (!strcmp(a, "-I") || !strcmp(a, "-D") || !strcmp(a, "-U") ||
                   !strcmp(a, "-include") || !strcmp(a, "-isystem") ||
                   !strcmp(a, "-iquote") || !strcmp(a, "-idirafter")) {
            if (!need_arg(argc, argv, i))
                return -1;
            add_cpp(o, a);
            add_cpp(o, argv[++i]);
        } else if (!strncmp(a, "-I", 2) || !strncmp(a, "-D", 2) ||
                   !strncmp(a, "-U", 2) || !strncmp(a, "-std=", 5) ||
                   !strncmp(a, "-O", 2) || !strncmp(a, "-f", 2) ||
                   !strncmp(a, "-m", 2) || !strcmp(a, "-pthread")) {
            add_cpp(o, a);
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "acxc: error: unknown option '%s'\n", a);
            usage(stderr);
            return -1;
        } else if (o->input) {
            fprintf(stderr, "acxc: error: more than one input file ('%s' "
                    "and '%s')\n", o->input, a);
            return -1;
        } else {
            o->input = a;
        }
    }
    if (!o->input) {
        fputs("acxc: error: no input file\n", stderr);
        usage(stderr);
        return -1;
    }
    return 0;
}

/* INPUT with its extension replaced by EXT. */
static char *with_ext(const char *input, const char *ext)
{
    size_t n = strlen(input);
    const char *dot = strrchr(input, '.');
    const char *slash = strrchr(input, '/');
    if (dot && (!slash || dot > slash))
        n = (size_t)(dot - input);
    char *r = malloc(n + strlen(ext) + 1);
    if (!r)
        return NULL;
    memcpy(r, input, n);
    strcpy(r + n, ext);
    return r;
}

/* Run the preprocessor; its output goes to S->buf.  0, or -1. */
static int preprocess(opts *o, const char *output, acx_src *s)
{
    const char *cc = o->cc ? o->cc : getenv("ACX_CC");
    if (!cc || !*cc)
        cc = "cc";
    const char *incdir = include_dir();
    const char *argv[64 + o->ncpp];
    int n = 0;
    argv[n++] = cc;
    argv[n++] = "-E";
    argv[n++] = "-x";
    argv[n++] = "c";
    argv[n++] = "-std=gnu11";
    argv[n++] = "-D__ACXC__=1";
    argv[n++] = "-C"; /* keep comments: fall-through notes, and for readers */
    for (int i = 0; i < o->ncpp; i++)
        argv[n++] = o->cpp[i];
    argv[n++] = "-idirafter";
    argv[n++] = incdir;
    argv[n++] = "-include";
    argv[n++] = "acx.h";
    if (o->md) {
        argv[n++] = "-MD";
        argv[n++] = "-MF";
        argv[n++] = o->depfile;
        argv[n++] = "-MT";
        argv[n++] = output;
        /* an empty rule per header: deleting or renaming a header then
         * regenerates the output instead of stopping make */
        argv[n++] = "-MP";
    }
    argv[n++] = o->input;
    argv[n] = NULL;

    int pfd[2];
    if (pipe(pfd) != 0) {
        perror("acxc: pipe");
        return -1;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
    posix_spawn_file_actions_addclose(&fa, pfd[0]);
    posix_spawn_file_actions_addclose(&fa, pfd[1]);
    pid_t pid;
    int err = posix_spawnp(&pid, cc, &fa, NULL, (char *const *)argv,
                           environ);
    posix_spawn_file_actions_destroy(&fa);
    close(pfd[1]);
    if (err) {
        fprintf(stderr, "acxc: error: cannot run the preprocessor '%s': %s\n",
                cc, strerror(err));
        close(pfd[0]);
        return -1;
    }
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf)
            break;
        if (len + 1 == cap) {
            char *b = realloc(buf, cap * 2);
            if (!b) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = b;
            cap *= 2;
        }
        ssize_t r = read(pfd[0], buf + len, cap - len - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    close(pfd[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!buf) {
        fputs("acxc: error: out of memory\n", stderr);
        return -1;
    }
    buf[len] = 0;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        free(buf);
        return -1; /* the preprocessor said why on stderr */
    }
    if (len > UINT32_MAX - 1) {
        fprintf(stderr, "%s:1:1: error: input too large\n", o->input);
        free(buf);
        return -1;
    }
    s->buf = buf;
    s->len = len;
    return 0;
}

/* Write DATA to PATH via a temporary file and rename, so PATH is either
 * complete or untouched.  0, or -1 after saying why. */
/* The generated file starts with "clang-format off"; a "clang-format on"
 * comment that cpp -C carried over from the sources would switch the
 * formatter back on for the rest of it.  Such comments (only comments:
 * string literals are left alone) get an underscore for the space, so
 * they read the same and the offsets do not move. */
static void keep_format_off(char *p, size_t n)
{
    static const char on[] = "clang-format on";
    for (size_t i = 0; i + 1 < n; i++) {
        if (p[i] == '"' || p[i] == '\'') { /* a literal: skip it */
            char q = p[i];
            for (i++; i < n && p[i] != q && p[i] != '\n'; i++)
                i += p[i] == '\\';
            continue;
        }
        if (p[i] != '/' || (p[i + 1] != '/' && p[i + 1] != '*'))
            continue;
        int block = p[i + 1] == '*';
        size_t b = i + 2, e = b;
        while (e < n && (block ? !(p[e] == '*' && e + 1 < n && p[e + 1] == '/')
                               : p[e] != '\n'))
            e++;
        size_t s = b;
        while (s < e && (p[s] == ' ' || p[s] == '\t'))
            s++;
        size_t t = e;
        while (t > s && (p[t - 1] == ' ' || p[t - 1] == '\t'))
            t--;
        if (t - s == sizeof on - 1 && memcmp(p + s, on, t - s) == 0)
            p[s + 12] = '_';
        i = block ? e + 1 : e;
    }
}

static int write_atomic(const char *path, const char *data, size_t n)
{
    size_t len = strlen(path);
    char *tmp = malloc(len + 16);
    if (!tmp)
        return -1;
    snprintf(tmp, len + 16, "%s.tmpXXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        fprintf(stderr, "acxc: error: cannot create '%s': %s\n", tmp,
                strerror(errno));
        free(tmp);
        return -1;
    }
    fchmod(fd, 0644);
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(fd, data + done, n - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            fprintf(stderr, "acxc: error: cannot write '%s': %s\n", path,
                    strerror(errno));
            close(fd);
            unlink(tmp);
            free(tmp);
            return -1;
        }
        done += (size_t)w;
    }
    if (close(fd) != 0 || rename(tmp, path) != 0) {
        fprintf(stderr, "acxc: error: cannot write '%s': %s\n", path,
                strerror(errno));
        unlink(tmp);
        free(tmp);
        return -1;
    }
    free(tmp);
    return 0;
}

int main(int argc, char **argv)
{
    opts o = {.color = -1, .caret = 1};
    int r = parse_args(&o, argc, argv);
    if (r)
        return r > 0 ? 0 : 1;
    signal(SIGPIPE, SIG_IGN);
    char *output = o.output ? strdup(o.output) : with_ext(o.input, ".c");
    char *depfile = o.depfile ? strdup(o.depfile) : with_ext(output, ".d");
    o.depfile = depfile;
    if (!output || !depfile) {
        fputs("acxc: error: out of memory\n", stderr);
        return 1;
    }
    if (strcmp(output, o.input) == 0) {
        fprintf(stderr, "acxc: error: the output would overwrite the input "
                "'%s'\n", o.input);
        return 1;
    }

    acx_src src = {0};
    src.path = o.input;
    src.json = o.json;
    src.caret = o.caret;
    src.color = o.color < 0 ? color_auto() : o.color;
    src.err = stderr;
    src.max_errors = 50;
    src.sorted = 1; /* semantic checks run per function: print in order */
    int status = 1;
    acx_parse parse = {0};
    gen g = {0};
    if (preprocess(&o, output, &src) != 0)
        goto out;
    if (lex_run(&src) != 0)
        goto out;
    parse_run(&parse, &src);
    if (src.errors)
        goto out;
    g.parse = &parse;
    g.src = &src;
    g.outpath = output;
    ob_init(&g.out, &src, !o.no_line);
    /* clang-format must not touch generated code: joining or splitting
     * its lines would shift everything after each #line directive, and
     * debuggers and diagnostics would point at the wrong .acx lines. */
    ob_printf(&g.out, "/* clang-format off */\n"
              "/* Generated by acxc from %s: do not edit. */\n", o.input);
    if (gen_unit(&g) != 0 || (o.werror && src.warnings))
        goto out;
    ob_nl(&g.out);
    keep_format_off(g.out.p, g.out.n);
    if (write_atomic(output, g.out.p, g.out.n) != 0)
        goto out;
    if (o.header) {
        obuf h;
        ob_init(&h, &src, 0);
        gen_header(&g, &h, o.header);
        int hr = write_atomic(o.header, h.p ? h.p : "", h.n);
        ob_free(&h);
        if (hr != 0) {
            unlink(output);
            goto out;
        }
    }
    status = 0;
out:
    diag_flush(&src);
    if (status != 0 && o.md)
        unlink(depfile); /* nothing half-made stays behind */
    if (src.errors > src.max_errors)
        fprintf(stderr, "acxc: %d errors in all; stopped reporting after "
                "%d\n", src.errors, src.max_errors);
    ob_free(&g.out);
    parse_free(&parse);
    src_free(&src);
    free(o.cpp);
    free(output);
    free(depfile);
    return status;
}
