/* bench/cli.c - see cli.h. */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *prog = "bench";

__attribute__((format(printf, 2, 0))) static void say(const char *arg, const char *fmt, va_list ap)
{
    fprintf(stderr, "%s: ", prog);
    if (arg != NULL)
        fprintf(stderr, "%s: ", arg);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void cli_bad(const char *arg, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say(arg, fmt, ap);
    va_end(ap);
    exit(2);
}

void cli_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say(NULL, fmt, ap);
    va_end(ap);
    exit(1);
}

void cli_need_dir(const char *arg, const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        cli_bad(arg, "%s: %s", path, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        cli_bad(arg, "%s is not a directory", path);
}

static const char *meta(const struct cli_arg *a)
{
    return a->meta != NULL ? a->meta : a->type == CLI_STR ? "S" : "N";
}

static void print_default(const struct cli_arg *a)
{
    const char *s = a->type == CLI_STR ? *(const char **)a->dst : NULL;
    if (a->required)
        printf(" (required)\n");
    else if (a->def != NULL)
        printf(" (default: %s)\n", a->def);
    else if (a->type == CLI_UINT)
        printf(" (default: %u)\n", *(unsigned *)a->dst);
    else if (a->type == CLI_U64)
        printf(" (default: %llu)\n", (unsigned long long)*(uint64_t *)a->dst);
    else if (a->type == CLI_DOUBLE)
        printf(" (default: %g)\n", *(double *)a->dst);
    else
        printf(" (default: %s)\n", s != NULL ? s : "none");
}

static void usage(const struct cli *c)
{
    printf("usage: %s", c->prog);
    for (int i = 0; i < c->nargs; i++)
        if (c->args[i].required)
            printf(" %s", meta(&c->args[i]));
    printf(" [options]\n%s\n\n", c->about);
    for (int i = 0; i < c->nargs; i++) {
        const struct cli_arg *a = &c->args[i];
        char left[64];
        snprintf(left, sizeof left, "%s %s", a->name, meta(a));
        printf("  %-22s %s", left, a->help);
        if (a->choices != NULL && strcmp(a->choices, meta(a)) != 0)
            printf("; one of %s", a->choices);
        print_default(a);
    }
    printf("  %-22s print this and exit\n", "-h, --help");
    printf("Options take \"--name value\" or \"--name=value\".");
    const char *sep = " Bare arguments set, in order:";
    for (int i = 0; i < c->nargs; i++)
        if (c->args[i].pos) {
            printf("%s %s", sep, c->args[i].name);
            sep = ",";
        }
    printf(".\n");
    if (c->notes != NULL)
        printf("\n%s", c->notes);
}

/* Is v one of the words of list ("a|b|c" or "a,b,c")? */
static int one_of(const char *list, const char *v)
{
    size_t n = strlen(v);
    for (const char *p = list; *p != '\0'; p += strcspn(p, "|,"), p += *p != '\0') {
        if (strncmp(p, v, n) == 0 && (p[n] == '\0' || p[n] == '|' || p[n] == ','))
            return 1;
    }
    return 0;
}

/* Store the value v of a (called name on the command line) or exit 2. */
static void set(const struct cli_arg *a, const char *name, const char *v)
{
    if (a->type == CLI_STR) {
        if (a->choices != NULL && !one_of(a->choices, v))
            cli_bad(name, "must be one of %s (got '%s')", a->choices, v);
        *(const char **)a->dst = v;
        return;
    }
    char *end;
    unsigned long long u = 0;
    double x, max = a->max != 0 ? a->max : a->type == CLI_UINT ? UINT_MAX : (double)UINT64_MAX;
    errno = 0;
    if (a->type == CLI_DOUBLE) {
        x = strtod(v, &end);
        if (end == v || *end != '\0' || errno != 0 || !isfinite(x))
            cli_bad(name, "not a number (got '%s')", v);
    } else {
        u = strtoull(v, &end, 10);
        if (v[0] < '0' || v[0] > '9' || *end != '\0')
            cli_bad(name, "not a whole number (got '%s')", v);
        x = errno == ERANGE ? INFINITY : (double)u;
    }
    if (x < a->min)
        cli_bad(name, "must be >= %.15g (got %s)", a->min, v);
    if (x > max)
        cli_bad(name, "must be <= %.15g (got %s)", max, v);
    if (a->type == CLI_DOUBLE)
        *(double *)a->dst = x;
    else if (a->type == CLI_U64)
        *(uint64_t *)a->dst = u;
    else
        *(unsigned *)a->dst = (unsigned)u;
}

/* The entry called --name (n bytes of s), or NULL. */
static const struct cli_arg *find(const struct cli *c, const char *s, size_t n)
{
    for (int i = 0; i < c->nargs; i++)
        if (strncmp(c->args[i].name, s, n) == 0 && c->args[i].name[n] == '\0')
            return &c->args[i];
    return NULL;
}

void cli_parse(const struct cli *c, int argc, char **argv)
{
    prog = c->prog;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(c);
            exit(0);
        }
    char seen[64] = { 0 }; /* a table holds at most 64 entries */
    if (c->nargs > 64)
        abort();
    int next_pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        const struct cli_arg *a;
        if (s[0] == '-' && s[1] != '\0') {
            const char *eq = strchr(s, '=');
            size_t n = eq != NULL ? (size_t)(eq - s) : strlen(s);
            a = find(c, s, n);
            if (a == NULL)
                cli_bad(NULL, "%.*s: unknown option (see %s --help)", (int)n, s, prog);
            if (eq == NULL && i + 1 == argc)
                cli_bad(a->name, "missing value");
            set(a, a->name, eq != NULL ? eq + 1 : argv[++i]);
        } else {
            while (next_pos < c->nargs && !c->args[next_pos].pos)
                next_pos++;
            if (next_pos == c->nargs)
                cli_bad(s, "unexpected argument (see %s --help)", prog);
            a = &c->args[next_pos++];
            set(a, a->required ? meta(a) : a->name, s); /* as the synopsis names it */
        }
        seen[a - c->args] = 1;
    }
    for (int i = 0; i < c->nargs; i++)
        if (c->args[i].required && !seen[i])
            cli_bad(meta(&c->args[i]), "missing (see %s --help)", prog);
}
