/*
 * bench/cli.h - the command line of every bench program.
 *
 * A program lists its arguments in one table and cli_parse() fills the
 * variables in. Options are "--name value" or "--name=value" (flags take no
 * value); an entry marked .pos may also be given as a bare argument (bare
 * arguments fill the .pos entries in table order). The usage (-h, --help: to
 * stdout, exit 0) is made from the table: every option, its one-line help and
 * its default, which is what the variable holds before parsing. A bad
 * argument prints one line "prog: ARG: what is wrong" to stderr and exits 2.
 *
 * A program with modes (mapio-bench MODE ...) lists them in cli.modes and
 * names the entry that holds the mode with CLI_MODE; an entry's .modes says
 * which modes use it. Then "prog MODE --help" lists only the options of that
 * mode, and an option given to a mode that does not use it is a bad argument.
 */
#ifndef MAPIO_BENCH_CLI_H
#define MAPIO_BENCH_CLI_H

enum cli_type {
    CLI_UINT,   /* unsigned * */
    CLI_U64,    /* uint64_t * */
    CLI_DOUBLE, /* double * */
    CLI_STR,    /* const char ** */
    CLI_FLAG,   /* int *: set to 1 when given; takes no value */
    CLI_MODE,   /* const char **: one of cli.modes */
};

struct cli_arg {
    const char *name; /* "--qd" */
    enum cli_type type;
    void *dst;
    const char *help;    /* one line */
    const char *meta;    /* the value in the usage: "N" (numbers) or "S" if NULL */
    double min, max;     /* numbers, inclusive; max 0 = the type's largest */
    const char *choices; /* strings: "a|b|c" (',' also separates); NULL = any */
    const char *def;     /* the default as the usage shows it; NULL = *dst */
    int pos;             /* also taken as a bare argument */
    int required;        /* .pos entries: must be given (the synopsis shows meta) */
    const char *modes;   /* "a|b": the modes that use it; NULL = every mode */
};

struct cli_mode {
    const char *name;
    const char *about; /* what the mode does, one line */
};

struct cli {
    const char *prog;
    const char *about; /* what the program does, one line */
    const char *notes; /* printed after the options; may be NULL */
    const struct cli_arg *args;
    int nargs;
    const struct cli_mode *modes; /* NULL: a program without modes */
    int nmodes;
};

void cli_parse(const struct cli *c, int argc, char **argv);

/* Does mode use a? (Always, for a program without modes: mode NULL.) */
int cli_uses(const struct cli_arg *a, const char *mode);

/* Exit 2 naming arg unless path is a directory. */
void cli_need_dir(const char *arg, const char *path);

/* "prog: arg: message" on stderr, exit 2 (a bad argument). */
_Noreturn void cli_bad(const char *arg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "prog: message" on stderr, exit 1 (the run failed). */
_Noreturn void cli_die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
