/* dpdist-config: checks node configuration files as a node would load them, and prints
 * what is derived from them. See `dpdist-config --help` and configs/README.md. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/cfg.h"

enum { EXIT_OK = 0, EXIT_BAD_CONFIG = 1, EXIT_USAGE = 2 };

static void usage(FILE *f)
{
    fputs("usage: dpdist-config check [--no-system] FILE...\n"
          "       dpdist-config show FILE\n"
          "       dpdist-config eal-args FILE\n"
          "       dpdist-config get FILE SECTION.KEY\n"
          "       dpdist-config schema\n"
          "\n"
          "check     load each FILE as a node would and report every problem: syntax, unknown\n"
          "          sections and keys, types and ranges, rules between keys, and (unless\n"
          "          --no-system) this machine: PCI device, driver, NUMA node, lcores,\n"
          "          hugepages, listeners, cookie file; plus clashes between the FILEs.\n"
          "          Exit 0 without errors (warnings allowed), 1 with errors.\n"
          "show      print the effective configuration, defaults filled in, as INI\n"
          "eal-args  print the EAL arguments the node passes to rte_eal_init, one per line\n"
          "get       print one effective value, e.g. `get node.ini port.pci`\n"
          "schema    print every section and key as markdown (configs/README.md)\n"
          "\n"
          "Environment: DPDIST_SYSFS_ROOT, DPDIST_PROCFS_ROOT replace /sys and /proc in the\n"
          "system checks (tests use a fake tree).\n",
          f);
}

static int run_check(int n, char **files, bool system)
{
    struct cfg_file *cfgs = calloc((size_t)n, sizeof(*cfgs));
    const struct cfg_file **loaded = calloc((size_t)n, sizeof(*loaded));
    if (!cfgs || !loaded) {
        fprintf(stderr, "dpdist-config: out of memory\n");
        free(cfgs);
        free(loaded);
        return EXIT_BAD_CONFIG;
    }
    struct cfg_diags d;
    cfg_diags_init(&d);
    size_t nloaded = 0;
    for (int i = 0; i < n; i++) {
        int rc = cfg_load(files[i], &cfgs[i], &d);
        if (rc == 0 && system)
            cfg_check_system(&cfgs[i], NULL, &d);
        if (rc == 0)
            loaded[nloaded++] = &cfgs[i];
    }
    cfg_check_peers(loaded, nloaded, &d);
    cfg_diags_sort(&d);
    cfg_diags_print(&d, stdout);
    for (int i = 0; i < n; i++) {
        unsigned errors = 0, warnings = 0;
        for (size_t k = 0; k < d.n; k++) {
            if (strcmp(d.v[k].file, files[i]) != 0)
                continue;
            if (d.v[k].severity == CFG_SEV_ERROR)
                errors++;
            else
                warnings++;
        }
        if (errors)
            printf("%s: %u error%s, %u warning%s\n", files[i], errors, errors == 1 ? "" : "s",
                   warnings, warnings == 1 ? "" : "s");
        else if (warnings)
            printf("%s: ok, %u warning%s\n", files[i], warnings, warnings == 1 ? "" : "s");
        else
            printf("%s: ok\n", files[i]);
    }
    int status = d.errors || d.oom ? EXIT_BAD_CONFIG : EXIT_OK;
    cfg_diags_free(&d);
    free(loaded);
    free(cfgs);
    return status;
}

/* Loads one file without the system checks; problems go to stderr. */
static int load_one(const char *file, struct cfg_file *cfg)
{
    struct cfg_diags d;
    cfg_diags_init(&d);
    int rc = cfg_load(file, cfg, &d);
    cfg_diags_sort(&d);
    cfg_diags_print(&d, stderr);
    cfg_diags_free(&d);
    if (rc < 0)
        fprintf(stderr, "dpdist-config: %s has errors\n", file);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        usage(stdout);
        return EXIT_OK;
    }
    if (!strcmp(cmd, "schema") && argc == 2)
        return cfg_schema_markdown(stdout) < 0 ? EXIT_BAD_CONFIG : EXIT_OK;
    if (!strcmp(cmd, "check")) {
        bool system = true;
        int first = 2;
        if (argc > 2 && !strcmp(argv[2], "--no-system")) {
            system = false;
            first = 3;
        }
        if (first >= argc) {
            usage(stderr);
            return EXIT_USAGE;
        }
        return run_check(argc - first, argv + first, system);
    }
    bool one_file = !strcmp(cmd, "show") || !strcmp(cmd, "eal-args");
    if (!(one_file && argc == 3) && !(!strcmp(cmd, "get") && argc == 4)) {
        usage(stderr);
        return EXIT_USAGE;
    }
    struct cfg_file *cfg = malloc(sizeof(*cfg));
    if (!cfg) {
        fprintf(stderr, "dpdist-config: out of memory\n");
        return EXIT_BAD_CONFIG;
    }
    int status = EXIT_OK;
    if (load_one(argv[2], cfg) < 0) {
        status = EXIT_BAD_CONFIG;
    } else if (!strcmp(cmd, "show")) {
        status = cfg_show(cfg, stdout) < 0 ? EXIT_BAD_CONFIG : EXIT_OK;
    } else if (!strcmp(cmd, "eal-args")) {
        char **v;
        int n;
        if (cfg_eal_argv(cfg, "dpdist", &v, &n) < 0) {
            fprintf(stderr, "dpdist-config: cannot build the EAL arguments\n");
            status = EXIT_BAD_CONFIG;
        } else {
            for (int i = 1; i < n; i++)
                printf("%s\n", v[i]);
            free(v);
        }
    } else {
        char value[1024];
        int rc = cfg_get(cfg, argv[3], value, sizeof(value));
        if (rc == -ENOENT) {
            fprintf(stderr, "dpdist-config: no key %s (write section.key, e.g. port.pci)\n",
                    argv[3]);
            status = EXIT_USAGE;
        } else if (rc >= 0) {
            printf("%s\n", value);
        } /* -ENODATA: not set, print nothing, exit 0 */
    }
    free(cfg);
    return status;
}
