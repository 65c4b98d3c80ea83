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
    return a->meta != NULL ? a->meta : a->type == CLI_STR || a->type == CLI_MODE ? "S" : "N";
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

int cli_uses(const struct cli_arg *a, const char *mode)
{
    return a->modes == NULL || mode == NULL || one_of(a->modes, mode);
}

static const struct cli_mode *find_mode(const struct cli *c, const char *name)
{
    for (int i = 0; i < c->nmodes; i++)
        if (strcmp(c->modes[i].name, name) == 0)
            return &c->modes[i];
    return NULL;
}

static void print_default(const struct cli_arg *a)
{
    const char *s = a->type == CLI_STR ? *(const char **)a->dst : NULL;
    if (a->required)
        printf(" (required)");
    else if (a->def != NULL)
        printf(" (default: %s)", a->def);
    else if (a->type == CLI_FLAG)
        printf(" (default: %s)", *(int *)a->dst ? "on" : "off");
    else if (a->type == CLI_UINT)
        printf(" (default: %u)", *(unsigned *)a->dst);
    else if (a->type == CLI_U64)
        printf(" (default: %llu)", (unsigned long long)*(uint64_t *)a->dst);
    else if (a->type == CLI_DOUBLE)
        printf(" (default: %g)", *(double *)a->dst);
    else
        printf(" (default: %s)", s != NULL ? s : "none");
}

/* The whole usage (m NULL), or that of mode m: only the options it uses. */
static void usage(const struct cli *c, const struct cli_mode *m)
{
    printf("usage: %s", c->prog);
    for (int i = 0; i < c->nargs; i++)
        if (c->args[i].required)
            printf(" %s", m != NULL && c->args[i].type == CLI_MODE ? m->name : meta(&c->args[i]));
    printf(" [options]\n%s\n\n", m != NULL ? m->about : c->about);
    for (int i = 0; i < c->nargs; i++) {
        const struct cli_arg *a = &c->args[i];
        if (m != NULL && (a->type == CLI_MODE || !cli_uses(a, m->name)))
            continue;
        char left[64];
        snprintf(left, sizeof left, "%s%s%s", a->name, a->type == CLI_FLAG ? "" : " ",
                 a->type == CLI_FLAG ? "" : meta(a));
        printf("  %-22s %s", left, a->help);
        if (a->choices != NULL && strcmp(a->choices, meta(a)) != 0)
            printf("; one of %s", a->choices);
        print_default(a);
        if (m == NULL && a->modes != NULL)
            printf(" [%s]", a->modes);
        printf("\n");
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
    if (m == NULL && c->nmodes > 0) {
        printf("\nModes (\"%s MODE --help\" lists the options of one; [modes] above say which "
               "use an option):\n",
               c->prog);
        for (int i = 0; i < c->nmodes; i++)
            printf("  %-10s %s\n", c->modes[i].name, c->modes[i].about);
    }
    if (c->notes != NULL)
        printf("\n%s", c->notes);
}

/* Store the value v of a (called name on the command line) or exit 2. */
static void set(const struct cli *c, const struct cli_arg *a, const char *name, const char *v)
{
    if (a->type == CLI_MODE) {
        if (find_mode(c, v) == NULL) {
            fprintf(stderr, "%s: %s: must be one of", prog, name);
            for (int i = 0; i < c->nmodes; i++)
                fprintf(stderr, "%s%s", i ? "|" : " ", c->modes[i].name);
            fprintf(stderr, " (got '%s')\n", v);
            exit(2);
        }
        *(const char **)a->dst = v;
        return;
    }
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

static int is_help(const char *s)
{
    return strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0;
}

/*
 * One pass over argv. For real (help NULL): store every value, mark it in
 * seen, exit 2 on a bad argument. For --help (help set): store nothing, skip
 * what is bad, and only report in *help the mode given, if any.
 */
static void walk(const struct cli *c, int argc, char **argv, char *seen, const char **help)
{
    int next_pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i], *v, *name;
        const struct cli_arg *a;
        if (is_help(s))
            continue;
        if (s[0] == '-' && s[1] != '\0') {
            const char *eq = strchr(s, '=');
            size_t n = eq != NULL ? (size_t)(eq - s) : strlen(s);
            a = find(c, s, n);
            if (a == NULL && help != NULL)
                continue;
            if (a == NULL)
                cli_bad(NULL, "%.*s: unknown option (see %s --help)", (int)n, s, prog);
            name = a->name;
            if (a->type == CLI_FLAG) {
                if (eq != NULL && help == NULL)
                    cli_bad(a->name, "takes no value (got '%s')", eq + 1);
                v = "1";
            } else if (eq != NULL) {
                v = eq + 1;
            } else if (i + 1 < argc) {
                v = argv[++i];
            } else if (help != NULL) {
                continue;
            } else {
                cli_bad(a->name, "missing value");
            }
        } else {
            while (next_pos < c->nargs && !c->args[next_pos].pos)
                next_pos++;
            if (next_pos == c->nargs && help != NULL)
                continue;
            if (next_pos == c->nargs)
                cli_bad(s, "unexpected argument (see %s --help)", prog);
            a = &c->args[next_pos++];
            name = a->required ? meta(a) : a->name; /* as the synopsis names it */
            v = s;
        }
        if (help != NULL) {
            if (a->type == CLI_MODE)
                *help = v;
            continue;
        }
        if (a->type == CLI_FLAG)
            *(int *)a->dst = 1;
        else
            set(c, a, name, v);
        seen[a - c->args] = 1;
    }
}

void cli_parse(const struct cli *c, int argc, char **argv)
{
    prog = c->prog;
    if (c->nargs > 64) /* seen[] below */
        abort();
    for (int i = 1; i < argc; i++)
        if (is_help(argv[i])) {
            const char *mode = NULL;
            walk(c, argc, argv, NULL, &mode);
            const struct cli_mode *m = mode != NULL ? find_mode(c, mode) : NULL;
            for (int j = 0; mode != NULL && m == NULL && j < c->nargs; j++)
                if (c->args[j].type == CLI_MODE) /* says which modes there are, exits 2 */
                    set(c, &c->args[j], meta(&c->args[j]), mode);
            usage(c, m);
            exit(0);
        }
    char seen[64] = { 0 };
    walk(c, argc, argv, seen, NULL);
    const char *mode = NULL;
    for (int i = 0; i < c->nargs; i++) {
        if (c->args[i].required && !seen[i])
            cli_bad(meta(&c->args[i]), "missing (see %s --help)", prog);
        if (c->args[i].type == CLI_MODE)
            mode = *(const char **)c->args[i].dst;
    }
    for (int i = 0; i < c->nargs; i++)
        if (seen[i] && !cli_uses(&c->args[i], mode))
            cli_bad(c->args[i].name, "not used by %s (see %s %s --help)", mode, prog, mode);
}
