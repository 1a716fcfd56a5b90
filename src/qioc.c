/*
 * qioc - a relay between two addresses
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * main: options, then the two addresses, then the pump.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "address.h"
#include "log.h"
#include "nofile.h"
#include "qioc.h"
#include "serve.h"

static QiocOptions options = QIOC_OPTIONS_INIT;

/* ---------------------------------------------------------------- options */

/* -b: a size from 1 byte to 2 GiB - 1. */
static gboolean parse_buffer_size(const char *text, gsize *out)
{
    guint64 n;

    if (!qioc_size_parse(text, G_MAXINT32, &n) || n == 0) {
        return FALSE;
    }
    *out = n;
    return TRUE;
}

static gboolean bad_value(const char *name, const char *value,
                          const char *expected, GError **errp)
{
    g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                "bad value \"%s\" for %s: expected %s", value, name, expected);
    return FALSE;
}

static gboolean opt_buffer_size(const char *name, const char *value,
                                gpointer data, GError **errp)
{
    return parse_buffer_size(value, &options.buffer_size) ||
           bad_value(name, value, "a size such as 65536, 64K or 1M", errp);
}

static gboolean opt_close_timeout(const char *name, const char *value,
                                  gpointer data, GError **errp)
{
    return qioc_duration_parse(value, &options.close_timeout) ||
           bad_value(name, value, "seconds", errp);
}

static gboolean opt_idle_timeout(const char *name, const char *value,
                                 gpointer data, GError **errp)
{
    return qioc_duration_parse(value, &options.idle_timeout) ||
           bad_value(name, value, "seconds", errp);
}

static gboolean opt_debug(const char *name, const char *value, gpointer data,
                          GError **errp)
{
    options.debug++;
    return TRUE;
}

static gboolean opt_family(const char *name, const char *value, gpointer data,
                           GError **errp)
{
    options.family = g_str_equal(name, "-6") ? AF_INET6 : AF_INET;
    return TRUE;
}

static const struct {
    const char *name;
    QiocFdsMode mode;
} fds_modes[] = {
    {"auto", QIOC_FDS_AUTO},
    {"off", QIOC_FDS_OFF},
    {"require", QIOC_FDS_REQUIRE},
};

static gboolean opt_fds(const char *name, const char *value, gpointer data,
                        GError **errp)
{
    for (gsize i = 0; i < G_N_ELEMENTS(fds_modes); i++) {
        if (g_ascii_strcasecmp(value, fds_modes[i].name) == 0) {
            options.fds = fds_modes[i].mode;
            return TRUE;
        }
    }
    return bad_value(name, value, "auto, off or require", errp);
}

/* --workers: a count, or auto for one per online CPU. */
static gboolean opt_workers(const char *name, const char *value, gpointer data,
                            GError **errp)
{
    guint64 n;

    if (g_ascii_strcasecmp(value, "auto") == 0) {
        options.workers = MIN(g_get_num_processors(), QIOC_WORKERS_MAX);
        return TRUE;
    }
    if (!g_ascii_string_to_unsigned(value, 10, 1, QIOC_WORKERS_MAX, &n, NULL)) {
        g_autofree char *expected = g_strdup_printf(
            "a number of threads from 1 to %d, or auto", QIOC_WORKERS_MAX);

        return bad_value(name, value, expected, errp);
    }
    options.workers = (guint)n;
    return TRUE;
}

static gboolean show_version;
static gboolean show_addresses;
static QiocLogConfig log_config;
static char *log_file_arg;
static char *log_name_arg;

static gboolean opt_syslog(const char *name, const char *value, gpointer data,
                           GError **errp)
{
    log_config.syslog = g_strdup(value ? value : "");
    return TRUE;
}

/* socat's -lm: stderr while starting, then syslog. */
static gboolean opt_log_mixed(const char *name, const char *value,
                              gpointer data, GError **errp)
{
    log_config.mixed = TRUE;
    return opt_syslog(name, value, data, errp);
}

static gboolean show_help;
/* socat's -s: go on after errors; qioc's listeners do so anyway. */
static gboolean sloppy;

static const GOptionEntry transfer_entries[] = {
    {"left-to-right", 'u', 0, G_OPTION_ARG_NONE, &options.left_to_right,
     "Copy only from the first address to the second", NULL},
    {"right-to-left", 'U', 0, G_OPTION_ARG_NONE, &options.right_to_left,
     "Copy only from the second address to the first", NULL},
    {"buffer-size", 'b', 0, G_OPTION_ARG_CALLBACK, opt_buffer_size,
     "Bytes moved per read (default 128K)", "SIZE"},
    {"close-timeout", 't', 0, G_OPTION_ARG_CALLBACK, opt_close_timeout,
     "End the other direction SECONDS after one ends", "SECONDS"},
    {"idle-timeout", 'T', 0, G_OPTION_ARG_CALLBACK, opt_idle_timeout,
     "End after SECONDS with no data either way", "SECONDS"},
    {"ipv4", '4', G_OPTION_FLAG_NO_ARG, G_OPTION_ARG_CALLBACK, opt_family,
     "Resolve names to IPv4 addresses only", NULL},
    {"ipv6", '6', G_OPTION_FLAG_NO_ARG, G_OPTION_ARG_CALLBACK, opt_family,
     "Resolve names to IPv6 addresses only", NULL},
    {"fds", 0, 0, G_OPTION_ARG_CALLBACK, opt_fds,
     "Descriptor forwarding: auto, off or require", "MODE"},
    {"sloppy", 's', 0, G_OPTION_ARG_NONE, &sloppy,
     "socat's -s: accepted (listeners go on anyway)", NULL},
    {"workers", 0, 0, G_OPTION_ARG_CALLBACK, opt_workers,
     "Threads of a fork listener; auto: one per CPU", "N"},
    {NULL},
};

static const GOptionEntry diagnostic_entries[] = {
    {"debug", 'd', G_OPTION_FLAG_NO_ARG, G_OPTION_ARG_CALLBACK, opt_debug,
     "More diagnostics; repeat (-dd) for more", NULL},
    {"verbose", 'v', 0, G_OPTION_ARG_NONE, &options.verbose,
     "Log the data moved as text, on stderr", NULL},
    {"hexdump", 'x', 0, G_OPTION_ARG_NONE, &options.hexdump,
     "Log the data moved as a hex dump, on stderr", NULL},
    {"stats", 0, 0, G_OPTION_ARG_NONE, &options.stats,
     "Print bytes, descriptors, time per direction", NULL},
    {"record-left", 'r', 0, G_OPTION_ARG_FILENAME, &options.record[0],
     "Append the raw bytes moved 1 -> 2 to FILE", "FILE"},
    {"record-right", 'R', 0, G_OPTION_ARG_FILENAME, &options.record[1],
     "Append the raw bytes moved 2 -> 1 to FILE", "FILE"},
    {"dry-run", 0, 0, G_OPTION_ARG_NONE, &options.dry_run,
     "Print both addresses as parsed; open nothing", NULL},
    {NULL},
};

static const GOptionEntry log_entries[] = {
    {"log-file", 0, 0, G_OPTION_ARG_FILENAME, &log_file_arg,
     "Diagnostics to FILE, not stderr (socat: -lf)", "FILE"},
    {"syslog", 0, G_OPTION_FLAG_OPTIONAL_ARG, G_OPTION_ARG_CALLBACK, opt_syslog,
     "Diagnostics to syslog (socat: -ly[FACILITY])", "[FACILITY]"},
    {"log-mixed", 0, G_OPTION_FLAG_OPTIONAL_ARG, G_OPTION_ARG_CALLBACK,
     opt_log_mixed, "Stderr, syslog once data moves (socat: -lm)",
     "[FACILITY]"},
    {"log-name", 0, 0, G_OPTION_ARG_STRING, &log_name_arg,
     "Program name in diagnostics (socat: -lp)", "NAME"},
    {"log-micro", 0, 0, G_OPTION_ARG_NONE, &log_config.micro,
     "Timestamps to the microsecond (socat: -lu)", NULL},
    {"log-host", 0, 0, G_OPTION_ARG_NONE, &log_config.host,
     "The host name in diagnostics (socat: -lh)", NULL},
    {NULL},
};

static const GOptionEntry general_entries[] = {
    {"help", 'h', 0, G_OPTION_ARG_NONE, &show_help, "Show this help and exit",
     NULL},
    {"help-addresses", 0, 0, G_OPTION_ARG_NONE, &show_addresses,
     "List every address type and option, then exit", NULL},
    {"version", 'V', 0, G_OPTION_ARG_NONE, &show_version,
     "Print the version and exit", NULL},
    {NULL},
};

/* --help shows every group, each under its own heading. */
static const struct {
    const char *name;
    const char *title;
    const GOptionEntry *entries;
} option_groups[] = {
    {"general", "General:", general_entries},
    {"transfer", "Transfer options:", transfer_entries},
    {"diagnostics", "Diagnostics:", diagnostic_entries},
    {"logging", "Where diagnostics go:", log_entries},
};

static void add_option_groups(GOptionContext *ctx)
{
    for (gsize i = 0; i < G_N_ELEMENTS(option_groups); i++) {
        GOptionGroup *group =
            g_option_group_new(option_groups[i].name, option_groups[i].title,
                               "Show these options", NULL, NULL);

        g_option_group_add_entries(group, option_groups[i].entries);
        g_option_context_add_group(ctx, group);
    }
}

/* The "--NAME=[VALUE]" GLib wrote for @e, if it has an optional value. */
static char *optional_value_text(const GOptionEntry *e, char *help)
{
    g_autofree char *glib = NULL;

    if (!(e->flags & G_OPTION_FLAG_OPTIONAL_ARG) || !e->arg_description ||
        e->arg_description[0] != '[') {
        return NULL;
    }
    glib = g_strdup_printf("--%s=[", e->long_name);
    return strstr(help, glib);
}

/*
 * An optional value has "[VALUE]" as its arg_description, which GLib
 * shows as --syslog=[FACILITY]; the usual spelling, --syslog[=FACILITY],
 * is as long, so the columns stay aligned.
 */
static void bracket_optional_values(char *help)
{
    for (gsize i = 0; i < G_N_ELEMENTS(option_groups); i++) {
        for (const GOptionEntry *e = option_groups[i].entries; e->long_name;
             e++) {
            char *at = optional_value_text(e, help);

            if (at) {
                at += strlen("--") + strlen(e->long_name);
                memcpy(at, "[=", 2);
            }
        }
    }
}

/*
 * socat's two-letter logging options, rewritten to the long ones before
 * GOptionContext sees them (it would read -lf as -l -f). socat glues the
 * value on (-lfFILE, -lpNAME, -lylocal0); -lf and -lp also take it as the
 * next word, -ly never does: its facility is optional.
 */
static const struct {
    const char *socat;
    const char *bare;  /* the option alone */
    const char *glued; /* prefix for a glued value, or NULL */
} socat_spellings[] = {
    {"-lf", "--log-file", "--log-file="},
    {"-ly", "--syslog=", "--syslog="},
    {"-lm", "--log-mixed=", "--log-mixed="},
    {"-lp", "--log-name", "--log-name="},
    {"-lu", "--log-micro", NULL},
    {"-lh", "--log-host", NULL},
    /*
     * socat (getopt style) takes a short option's value glued on too
     * (-t1, -b8192); GOption would read -t1 as -t -1.
     */
    {"-b", "--buffer-size", "--buffer-size="},
    {"-t", "--close-timeout", "--close-timeout="},
    {"-T", "--idle-timeout", "--idle-timeout="},
    {"-r", "--record-left", "--record-left="},
    {"-R", "--record-right", "--record-right="},
    /* socat 1.8's transfer statistics at the end. */
    {"-S", "--stats", NULL},
    {"--statistics", "--stats", NULL},
    /*
     * GOption gives an optional value the next word unless that starts
     * with '-': `--syslog TCP-L:80 ...` must not make TCP-L:80 a facility.
     * "--syslog=" is the default facility; "--syslog=FAC" passes as is.
     */
    {"--syslog", "--syslog=", NULL},
    {"--log-mixed", "--log-mixed=", NULL},
};

static char *map_socat_option(const char *arg)
{
    for (gsize i = 0; i < G_N_ELEMENTS(socat_spellings); i++) {
        const char *s = socat_spellings[i].socat;
        size_t n = strlen(s);

        if (strncmp(arg, s, n) != 0) {
            continue;
        }
        if (arg[n] == '\0') {
            return g_strdup(socat_spellings[i].bare);
        }
        if (socat_spellings[i].glued) {
            return g_strconcat(socat_spellings[i].glued, arg + n, NULL);
        }
    }
    return g_strdup(arg);
}

/*
 * "-,raw" is STDIO with options (socat's idiom) and "-!!FILE:log" a dual
 * address reading standard input, not options: they are hidden from
 * GOptionContext behind this prefix and restored afterwards.
 */
#define STDIO_MARK "\001qioc-stdio"

/* A copy of argv with socat's spellings mapped; stops at "--". */
static char **map_socat_options(int argc, char **argv)
{
    char **out = g_new0(char *, argc + 1);
    gboolean done = FALSE;

    for (int i = 0; i < argc; i++) {
        done = done || g_str_equal(argv[i], "--");
        if (i > 0 && (g_str_has_prefix(argv[i], "-,") ||
                      g_str_has_prefix(argv[i], "-!!"))) {
            out[i] = g_strconcat(STDIO_MARK, argv[i], NULL);
        } else {
            out[i] =
                done || i == 0 ? g_strdup(argv[i]) : map_socat_option(argv[i]);
        }
    }
    return out;
}

static void unmark_stdio(char **specs)
{
    for (char **s = specs; *s; s++) {
        if (g_str_has_prefix(*s, STDIO_MARK)) {
            memmove(*s, *s + strlen(STDIO_MARK),
                    strlen(*s) - strlen(STDIO_MARK) + 1);
        }
    }
}

/* GLib says "Unknown option --bogus"; qioc quotes the token, as always. */
static void quote_unknown_option(GError *err)
{
    const char *prefix = "Unknown option ";

    if (g_error_matches(err, G_OPTION_ERROR, G_OPTION_ERROR_UNKNOWN_OPTION) &&
        g_str_has_prefix(err->message, prefix)) {
        char *msg = g_strdup_printf("unknown option \"%s\" (see qioc --help)",
                                    err->message + strlen(prefix));

        g_free(err->message);
        err->message = msg;
    }
}

static char **parse_options(int *argc, char ***argv, GError **errp)
{
    g_autoptr(GOptionContext) ctx = g_option_context_new("ADDRESS ADDRESS");
    char **rest = NULL;
    GOptionEntry positional[] = {
        {G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, &rest, NULL,
         NULL},
        {NULL},
    };

    g_option_context_set_summary(
        ctx, "Copy data in both directions between two addresses.");
    g_option_context_set_description(
        ctx, "Addresses: TYPE[:PARAM...][,OPTION[=VALUE]...], for example\n"
             "  qioc TCP-LISTEN:8080,fork TCP:example.org:80\n"
             "  qioc - UNIX-CONNECT:/run/app.sock\n"
             "See qioc(1) for every address type and option.");
    g_option_context_set_help_enabled(ctx, FALSE);
    g_option_context_add_main_entries(ctx, positional, NULL);
    add_option_groups(ctx);
    if (!g_option_context_parse_strv(ctx, argv, errp)) {
        quote_unknown_option(*errp);
        g_strfreev(rest);
        return NULL;
    }
    *argc = (int)g_strv_length(*argv);
    if (show_help) {
        /* Printed here, where the context is; main() then returns. */
        g_autofree char *help = g_option_context_get_help(ctx, FALSE, NULL);

        bracket_optional_values(help);
        fputs(help, stdout);
    }
    if (!rest) {
        return g_new0(char *, 1);
    }
    unmark_stdio(rest);
    return rest;
}

/* ---------------------------------------------------------------- help */

static char *join_aliases(const char *const *aliases)
{
    return aliases && aliases[0] ? g_strjoinv(", ", (char **)aliases)
                                 : g_strdup("");
}

/* The options that apply to @type, comma-separated. */
static char *type_options(const QiocAddrType *type)
{
    g_autoptr(GString) out = g_string_new(NULL);
    guint n;
    const QiocOptDesc *opt = qioc_address_options(&n);

    for (guint i = 0; i < n; i++) {
        if (opt[i].groups & type->groups) {
            g_string_append_printf(out, "%s%s", out->len ? ", " : "",
                                   opt[i].name);
        }
    }
    return g_string_free(g_steal_pointer(&out), FALSE);
}

/* The rows of one sort: addresses, or the layers written left of '|'. */
static void print_rows(const QiocAddrType *type, guint n, gboolean layers)
{
    for (guint i = 0; i < n; i++) {
        g_autofree char *aliases = NULL;
        g_autofree char *opts = NULL;

        if (type[i].layer != layers) {
            continue;
        }
        aliases = join_aliases(type[i].aliases);
        opts = type_options(&type[i]);
        printf("  %s%s%s%s%s\n      %s\n      options: %s\n", type[i].name,
               type[i].params_help && *type[i].params_help ? ":" : "",
               type[i].params_help ? type[i].params_help : "",
               *aliases ? "  also " : "", aliases, type[i].summary, opts);
    }
}

static void print_types(void)
{
    guint n;
    const QiocAddrType *type = qioc_address_types(&n);

    printf("Address types (TYPE[:PARAMS][,OPTION[=VALUE]...]):\n");
    print_rows(type, n, FALSE);
    printf("\nA dual address, ADDRESS!!ADDRESS, reads from the first address "
           "and writes\nto the second.\n");
    printf("\nLayers (LAYER|...|ADDRESS: each runs over the one to its "
           "right):\n");
    print_rows(type, n, TRUE);
}

static void print_options(void)
{
    guint n;
    const QiocOptDesc *opt = qioc_address_options(&n);

    printf("\nAddress options:\n");
    for (guint i = 0; i < n; i++) {
        g_autofree char *aliases = join_aliases(opt[i].aliases);

        printf("  %-16s %s%s%s%s\n", opt[i].name, opt[i].help,
               opt[i].defval ? " (default " : "",
               opt[i].defval ? opt[i].defval : "", opt[i].defval ? ")" : "");
        if (*aliases) {
            printf("  %-16s also: %s\n", "", aliases);
        }
    }
}

/* ---------------------------------------------------------------- main */

static int usage_error(const char *message)
{
    qioc_error("%s", message);
    return QIOC_EXIT_USAGE;
}

static gboolean parse_addresses(char **specs, QiocAddress *addr[2])
{
    g_autoptr(GError) err0 = NULL;

    for (int i = 0; i < 2; i++) {
        g_autoptr(GError) err = NULL;

        addr[i] = qioc_address_parse(specs[i], i + 1, &err);
        if (!addr[i]) {
            qioc_error("%s", err->message);
            return FALSE;
        }
    }
    if (!qioc_address_check_pair(addr, &err0)) {
        qioc_error("%s", err0->message);
        return FALSE;
    }
    for (int i = 0; i < 2; i++) {
        if (!qioc_address_apply_workers(addr[i], options.workers, &err0)) {
            qioc_error("%s", err0->message);
            return FALSE;
        }
    }
    return TRUE;
}

/*
 * send-fds= names descriptors qioc inherited: one that is not open is
 * reported now, naming it, rather than as a bare EBADF at the first write.
 */
static gboolean send_fds_open(QiocAddress *addr[2])
{
    for (int i = 0; i < 2; i++) {
        const GArray *fds = addr[i]->o.send_fds;

        for (guint k = 0; fds && k < fds->len; k++) {
            int fd = g_array_index(fds, int, k);

            if (fcntl(fd, F_GETFD) < 0) {
                g_autofree char *list = qioc_fd_list_text(fds);

                qioc_log_address(QIOC_LOG_ERROR, addr[i]->index, addr[i]->text,
                                 "send-fds=%s: descriptor %d: %s", list, fd,
                                 g_strerror(errno));
                return FALSE;
            }
        }
    }
    return TRUE;
}

static void dry_run(QiocAddress *addr[2])
{
    for (int i = 0; i < 2; i++) {
        g_autofree char *text =
            qioc_address_describe_for(addr[i], options.family);

        printf("address %d: %s\n", i + 1, text);
    }
}

int main(int argc, char **argv)
{
    g_autoptr(GError) err = NULL;
    g_auto(GStrv) specs = NULL;
    g_auto(GStrv) args = NULL;
    QiocAddress *addr[2] = {NULL, NULL};
    int status;

    args = map_socat_options(argc, argv);
    specs = parse_options(&argc, &args, &err);
    if (!specs) {
        return usage_error(err->message);
    }
    log_config.file = log_file_arg;
    log_config.name = log_name_arg;
    if (!qioc_log_setup(&log_config, &err)) {
        return usage_error(err->message);
    }
    if (show_help) {
        return QIOC_EXIT_OK;
    }
    if (show_addresses) {
        print_types();
        print_options();
        return QIOC_EXIT_OK;
    }
    if (show_version) {
        printf("qioc %s\n", PACKAGE_VERSION);
        return QIOC_EXIT_OK;
    }
    if (g_strv_length(specs) != 2) {
        g_autofree char *msg =
            g_strdup_printf("expected two addresses, got %u (see qioc --help)",
                            g_strv_length(specs));

        return usage_error(msg);
    }
    if (options.left_to_right && options.right_to_left) {
        return usage_error("-u and -U exclude each other: give one of them, "
                           "or neither to copy both ways");
    }
    qioc_log_set_level(options.debug);
    if (!parse_addresses(specs, addr)) {
        status = QIOC_EXIT_USAGE;
    } else if (options.dry_run) {
        dry_run(addr);
        status = QIOC_EXIT_OK;
    } else if (!send_fds_open(addr)) {
        status = QIOC_EXIT_FAILURE;
    } else {
        /* A write to a closed peer is an error of that direction. */
        signal(SIGPIPE, SIG_IGN);
        /* A `fork` listener holds two descriptors per client. */
        qioc_nofile_raise();
        status = qioc_serve(addr, &options);
    }
    g_clear_pointer(&addr[0], qioc_address_free);
    g_clear_pointer(&addr[1], qioc_address_free);
    return status;
}
